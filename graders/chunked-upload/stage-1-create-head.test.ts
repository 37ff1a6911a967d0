/**
 * Grader for chunked-upload, stage 1: the server's options, POST /uploads, HEAD, ids, refused
 * lengths, empty uploads, unknown ids and path traversal. Real servers on 127.0.0.1, files in
 * temporary folders.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUploadServer } from '@kata/chunked-upload';
import {
  bounded,
  caught,
  eventually,
  NET_TIMEOUT,
  request,
  show,
  startServer,
  tempDir,
} from './fixtures.ts';

/** Calls createUploadServer with bad options; returns the error it threw (or fails the test). */
function thrownBy(options: unknown): Error {
  try {
    const app = createUploadServer(options as Parameters<typeof createUploadServer>[0]);
    void app.close();
  } catch (error) {
    return caught(error);
  }
  throw new Error(`createUploadServer(${shown(options)}) must throw, but returned an app [R1]`);
}
const shown = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : typeof v === 'function' ? 'fn' : v,
  );

describe('stage 1: creating uploads, HEAD and ids', NET_TIMEOUT, () => {
  const bad: Array<
    [string, Record<string, unknown>, typeof TypeError | typeof RangeError, string]
  > = [
    ['directory missing', { directory: undefined }, TypeError, 'directory'],
    ['directory empty', { directory: '' }, TypeError, 'directory'],
    ['directory a number', { directory: 42 }, TypeError, 'directory'],
    ['maxSize -1', { maxSize: -1 }, RangeError, 'maxSize'],
    ['maxSize 1.5', { maxSize: 1.5 }, RangeError, 'maxSize'],
    ['maxSize NaN', { maxSize: Number.NaN }, RangeError, 'maxSize'],
    ['maxSize Infinity', { maxSize: Infinity }, RangeError, 'maxSize'],
    ['maxSize a string', { maxSize: '10' }, TypeError, 'maxSize'],
    ['onComplete a string', { onComplete: 'done' }, TypeError, 'onComplete'],
  ];
  it.for(bad)(
    'refuses %s with the right error naming the option [R1]',
    async ([, options, kind, name]) => {
      const root = await tempDir();
      const full =
        'directory' in options ? options : { directory: path.join(root, 'u'), ...options };
      const error = thrownBy(full);
      expect(
        error,
        `createUploadServer(${shown(full)}) must throw a ${kind.name} [R1]; got ${String(error)}`,
      ).toBeInstanceOf(kind);
      expect(error.message, `the message must name ${name} [R1]`).toContain(name);
    },
  );

  it('creates a missing directory, with its parents, by the time the app is ready [R1]', async () => {
    const root = await tempDir();
    const directory = path.join(root, 'a', 'b', 'uploads');
    const app = createUploadServer({ directory, maxSize: 0 });
    try {
      await bounded(app.ready(), 5_000, 'app.ready()');
      expect(existsSync(directory), `${directory} must exist once app.ready() resolved [R1]`).toBe(
        true,
      );
    } finally {
      await app.close();
    }
  });

  it('answers POST /uploads with 201 and Location: /uploads/<id>, then HEAD with offset 0 [R2]', async () => {
    const server = await startServer({ maxSize: 1000 });
    for (const length of [10, 1000]) {
      const created = await request(server.url, {
        method: 'POST',
        path: '/uploads',
        headers: { 'upload-length': length },
      });
      expect(
        created.status,
        `POST /uploads with Upload-Length: ${length} (maxSize 1000) [R2]: ${show(created)}`,
      ).toBe(201);
      const location = String(created.headers.location);
      expect(
        location,
        'Location must be exactly /uploads/<id>, a path, not a full URL [R2]',
      ).toMatch(/^\/uploads\/[^/?#]+$/);
      const head = await request(server.url, { method: 'HEAD', path: location });
      expect(
        {
          status: head.status,
          offset: head.headers['upload-offset'],
          length: head.headers['upload-length'],
          cache: head.headers['cache-control'],
        },
        `HEAD ${location} right after creation [R2]`,
      ).toEqual({ status: 200, offset: '0', length: String(length), cache: 'no-store' });
    }
  });

  it('gives every upload a different random URL-safe id of at least 122 bits [R3]', async () => {
    const [first, second] = [await startServer(), await startServer()];
    const ids: string[] = [];
    for (let i = 0; i < 24; i += 1) ids.push(await first.create(5), await second.create(5));
    for (const id of ids) {
      expect(id, `id ${id}: letters, digits, - and _ only (URL-safe) [R3]`).toMatch(
        /^[A-Za-z0-9_-]+$/,
      );
      expect(
        id.length,
        `id ${id} is too short to hold 122 random bits (21 characters of 64 kinds at least) [R3]`,
      ).toBeGreaterThanOrEqual(21);
    }
    expect(new Set(ids).size, `ids repeat across two servers: ${ids.join(' ')} [R3]`).toBe(
      ids.length,
    );
    for (const [end, part] of [
      ['first', (id: string) => id.slice(0, 8)],
      ['last', (id: string) => id.slice(-8)],
    ] as const) {
      const parts = ids.map(part);
      expect(
        new Set(parts).size,
        `ids share their ${end} 8 characters, so part of them is a counter or a clock, not random: ${ids.join(' ')} [R3]`,
      ).toBe(parts.length);
    }
  });

  it('answers 400 for a missing or malformed Upload-Length and 413 above maxSize [R4]', async () => {
    const server = await startServer({ maxSize: 100 });
    const post = (headers: Record<string, string | number>) =>
      request(server.url, { method: 'POST', path: '/uploads', headers });
    const missing = await post({});
    expect(missing.status, `POST /uploads without Upload-Length [R4]: ${show(missing)}`).toBe(400);
    for (const value of ['-1', '1.5', '1e3', '0x10', 'abc', '', '+5', '10 bytes']) {
      const answer = await post({ 'upload-length': value });
      expect(
        answer.status,
        `POST /uploads with Upload-Length: "${value}" is not decimal digits [R4]: ${show(answer)}`,
      ).toBe(400);
    }
    const over = await post({ 'upload-length': 101 });
    expect(over.status, `Upload-Length: 101 with maxSize 100 [R4]: ${show(over)}`).toBe(413);
    const at = await post({ 'upload-length': 100 });
    expect(at.status, `Upload-Length: 100 with maxSize 100 is accepted [R4]: ${show(at)}`).toBe(
      201,
    );
  });

  it('refuses everything above maxSize 0 with 413 and accepts an empty upload [R4]', async () => {
    const server = await startServer({ maxSize: 0 });
    const over = await request(server.url, {
      method: 'POST',
      path: '/uploads',
      headers: { 'upload-length': 1 },
    });
    expect(over.status, `Upload-Length: 1 with maxSize 0 [R4]: ${show(over)}`).toBe(413);
    await server.create(0);
  });

  it('completes an upload of length 0 at creation: onComplete once, GET 200 empty [R5]', async () => {
    const server = await startServer();
    const id = await server.create(0);
    const called = await eventually(() => server.completions.length > 0, 2_000);
    expect(
      called,
      'POST with Upload-Length: 0 must call onComplete (the upload is complete) [R5]',
    ).toBe(true);
    await eventually(() => server.completions.length > 1, 200);
    expect(server.completions.length, 'onComplete is called once [R5]').toBe(1);
    const [done] = server.completions;
    expect({ id: done!.id, size: done!.size }, 'onComplete({ id, path, size }) [R5]').toEqual({
      id,
      size: 0,
    });
    expect(
      readFileSync(done!.path).length,
      `onComplete's path ${done!.path} must be an empty file [R5]`,
    ).toBe(0);
    const got = await server.get(id);
    expect(
      { status: got.status, bytes: got.body.length },
      `GET /uploads/${id} of a complete empty upload [R5]`,
    ).toEqual({
      status: 200,
      bytes: 0,
    });
    const head = await server.head(id);
    expect(
      [head.headers['upload-offset'], head.headers['upload-length']],
      'HEAD of an empty upload [R5]',
    ).toEqual(['0', '0']);
  });

  it('answers 404 to HEAD, PATCH and GET of an unknown id [R6]', async () => {
    const server = await startServer();
    await server.create(10);
    for (const id of [
      '3b241101-e2bb-4255-8caf-4136c566a962',
      'a',
      'unknown-upload-id-0123456789',
    ]) {
      const answers = [
        await server.head(id),
        await server.patch(id, 0, Buffer.from('x')),
        await server.get(id),
      ];
      expect(
        answers.map((a) => a.status),
        `HEAD, PATCH, GET /uploads/${id} (never created) [R6]`,
      ).toEqual([404, 404, 404]);
    }
  });

  it('answers 404 to every id that is not of its own format, even one naming a file it stores [R6]', async () => {
    const server = await startServer();
    const id = await server.create(4);
    const done = await server.patch(id, 0, Buffer.from('abcd'));
    expect(done.status, `PATCH of a new upload [R7]: ${show(done)}`).toBe(204);
    const stored = await readdir(server.dir);
    const variants = [
      `${id}.json`,
      `${id}.info`,
      `${id}.meta`,
      `${id}.bin`,
      `${id}%2F..%2F${id}`,
      `.%2F${id}`,
      `${id}%2F`,
      '..',
      '.',
      '%2e%2e',
      ...stored.filter((name) => name !== id).map(encodeURIComponent),
    ];
    for (const variant of variants) {
      const answers = [await server.head(variant), await server.get(variant)];
      expect(
        answers.map(show),
        `HEAD and GET /uploads/${variant}: not an id this server handed out (it handed out ${id}) [R6]`,
      ).toEqual(['404', '404']);
    }
  });

  it('never reads, writes or creates a file outside its directory, whatever the id [R6]', async () => {
    const root = await tempDir();
    const a = await startServer({ directory: () => path.join(root, 'a') });
    const b = await startServer({ directory: () => path.join(root, 'b') });
    await mkdir(path.join(root, 'a'), { recursive: true });
    const id = await b.create(5);
    expect(
      (await b.patch(id, 0, Buffer.from('hello'))).status,
      'a PATCH completing an upload [R7]',
    ).toBe(204);
    await writeFile(path.join(root, 'victim'), 'keep me');
    const before = await snapshot(root);
    const attacks = [
      `..%2Fb%2F${id}`,
      `%2e%2e%2Fb%2F${id}`,
      `..%5Cb%5C${id}`,
      `..%2F..%2F${encodeURIComponent(path.basename(root))}%2Fb%2F${id}`,
      `${encodeURIComponent(path.join(root, 'b', id))}`,
      '..%2Fvictim',
      '..%2Fnew-file',
    ];
    for (const attack of attacks) {
      const answers = [
        await a.head(attack),
        await a.get(attack),
        await a.patch(attack, 0, Buffer.from('evil')),
        await a.patch(attack, 5, Buffer.from('evil')),
      ];
      expect(
        answers.map((answer) => answer.status),
        `HEAD, GET, PATCH, PATCH /uploads/${attack} on a server whose directory is ${path.join(root, 'a')}: no upload of its own [R6]`,
      ).toEqual([404, 404, 404, 404]);
    }
    expect(await snapshot(root), `files outside ${path.join(root, 'a')} changed [R6]`).toEqual(
      before,
    );
    expect((await b.get(id)).body.toString(), "the other server's upload is untouched [R6]").toBe(
      'hello',
    );
  });
});

/** Every file under `dir` but the folder `a`, with its contents. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    if (relative === 'a' || relative.startsWith(`a${path.sep}`)) continue;
    out[relative] = entry.isFile() ? await readFile(full, 'utf8') : '<dir>';
  }
  return out;
}
