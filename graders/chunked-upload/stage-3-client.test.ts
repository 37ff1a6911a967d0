/**
 * Grader for chunked-upload, stage 3: the client on its own, against a tus server written by the
 * grader (fixtures.ts, scriptServer): options, creation, chunks with checksums, progress, and a
 * POST that is never retried. Real timers; files in temporary folders.
 */
import { readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { uploadFile } from '@kata/chunked-upload';
import {
  bounded,
  caught,
  checksumOf,
  MIB,
  NET_TIMEOUT,
  OFFSET_TYPE,
  pattern,
  realPause,
  scriptServer,
  tempDir,
  type Script,
} from './fixtures.ts';

async function sourceFile(bytes: Buffer): Promise<string> {
  const file = path.join(await tempDir(), 'source.bin');
  await writeFile(file, bytes);
  return file;
}

/** Calls uploadFile, failing the test if it throws instead of returning a promise. */
function start(
  url: string,
  file: string,
  options?: Parameters<typeof uploadFile>[2],
): Promise<{ id: string }> {
  let pending: Promise<{ id: string }>;
  try {
    pending = uploadFile(url, file, options);
  } catch (error) {
    if ((error as Error).name === 'NotImplementedError') throw error;
    throw new Error(
      `uploadFile must return a promise that rejects, not throw synchronously: it threw ${String(error)} [R14]`,
      { cause: error },
    );
  }
  return bounded(pending, 15_000, 'uploadFile to settle');
}

/** The PATCHes the server received: offset, length, and whether the checksum matched the body. */
const patches = (script: Script) =>
  script.requests
    .filter((request) => request.method === 'PATCH')
    .map((request) => ({
      offset: request.headers['upload-offset'],
      bytes: request.body.length,
      type: request.headers['content-type'],
      checksum:
        request.headers['upload-checksum'] === checksumOf(request.body)
          ? 'sha256 of the body'
          : request.headers['upload-checksum'],
    }));

describe('stage 3: the client uploads a file in chunks', NET_TIMEOUT, () => {
  const bad: Array<
    [string, Record<string, unknown>, typeof TypeError | typeof RangeError, string]
  > = [
    ['chunkSize 0', { chunkSize: 0 }, RangeError, 'chunkSize'],
    ['chunkSize -1', { chunkSize: -1 }, RangeError, 'chunkSize'],
    ['chunkSize 1.5', { chunkSize: 1.5 }, RangeError, 'chunkSize'],
    ['chunkSize NaN', { chunkSize: Number.NaN }, RangeError, 'chunkSize'],
    ['chunkSize Infinity', { chunkSize: Infinity }, RangeError, 'chunkSize'],
    ['chunkSize a string', { chunkSize: '1024' }, TypeError, 'chunkSize'],
    ['retries -1', { retries: -1 }, RangeError, 'retries'],
    ['retries 0.5', { retries: 0.5 }, RangeError, 'retries'],
    ['retries NaN', { retries: Number.NaN }, RangeError, 'retries'],
    ['retries a string', { retries: '3' }, TypeError, 'retries'],
  ];
  it.for(bad)(
    'rejects %s with the right error naming the option, sending nothing [R14]',
    async ([what, options, kind, name]) => {
      const script = await scriptServer();
      const file = await sourceFile(pattern(100));
      const error = await start(script.url, file, options as Parameters<typeof uploadFile>[2]).then(
        () => new Error('it resolved'),
        caught,
      );
      expect(
        error,
        `uploadFile with ${what} must reject with a ${kind.name} [R14]; got ${String(error)}`,
      ).toBeInstanceOf(kind);
      expect(error.message, `the message must name ${name} [R14]`).toContain(name);
      await realPause(50);
      expect(script.log(), `uploadFile with ${what} must send nothing [R14]`).toBe('no request');
    },
  );

  it('creates the upload with its length, sends it all and resolves with the id from Location [R15]', async () => {
    const script = await scriptServer();
    const data = pattern(10_000, 21);
    const result = await start(script.url, await sourceFile(data), { chunkSize: 4096 });
    expect(
      result,
      'uploadFile resolves with { id }, the last part of Location: /uploads/u1 [R15]',
    ).toEqual({ id: 'u1' });
    const [post] = script.requests;
    expect(
      { method: post?.method, url: post?.url, length: post?.headers['upload-length'] },
      `the first request creates the upload with the file's size (${script.log()}) [R15]`,
    ).toEqual({ method: 'POST', url: '/uploads', length: '10000' });
    expect(
      script.data().equals(data),
      `the server holds the file, byte for byte (${script.log()}) [R15]`,
    ).toBe(true);
  });

  it('sends no PATCH for an empty file [R15]', async () => {
    const script = await scriptServer();
    const result = await start(script.url, await sourceFile(Buffer.alloc(0)));
    expect(result, 'uploadFile of an empty file [R15]').toEqual({ id: 'u1' });
    await realPause(50);
    expect(script.log(), 'an empty file: the POST (Upload-Length: 0) and nothing else [R15]').toBe(
      'POST → 201',
    );
    expect(
      script.requests[0]?.headers['upload-length'],
      'Upload-Length of an empty file [R15]',
    ).toBe('0');
  });

  it('sends chunkSize bytes per PATCH, in order, each with its offset, content type and checksum [R16]', async () => {
    const script = await scriptServer();
    const data = pattern(10_000, 23);
    await start(script.url, await sourceFile(data), { chunkSize: 4096 });
    const chunk = (offset: number, bytes: number) => ({
      offset: String(offset),
      bytes,
      type: OFFSET_TYPE,
      checksum: 'sha256 of the body',
    });
    expect(patches(script), `a 10,000-byte file in chunks of 4096 (${script.log()}) [R16]`).toEqual(
      [chunk(0, 4096), chunk(4096, 4096), chunk(8192, 1808)],
    );
  });

  it('sends 8 MiB per PATCH by default [R16]', async () => {
    const script = await scriptServer();
    const data = pattern(8 * MIB + 100, 25);
    await start(script.url, await sourceFile(data));
    expect(
      patches(script).map((patch) => patch.bytes),
      `a file of 8 MiB + 100 bytes with the default chunkSize (${script.log()}) [R16]`,
    ).toEqual([8 * MIB, 100]);
    expect(script.data().equals(data), 'the file, byte for byte [R15]').toBe(true);
  });

  it('reports progress at the server offset after each acknowledged PATCH, ending with (size, size) [R17]', async () => {
    const script = await scriptServer();
    const calls: Array<[number, number]> = [];
    await start(script.url, await sourceFile(pattern(10_000, 27)), {
      chunkSize: 4096,
      onProgress: (sent, total) => calls.push([sent, total]),
    });
    expect(
      calls,
      `onProgress calls for a 10,000-byte file in chunks of 4096 (${script.log()}) [R17]`,
    ).toEqual([
      [4096, 10_000],
      [8192, 10_000],
      [10_000, 10_000],
    ]);
  });

  it('reports nothing after a HEAD that finds no more than was acknowledged [R17]', async () => {
    // The second PATCH answers 503: the HEAD after it reports 4096 again, which is no progress.
    let failed = false;
    const script = await scriptServer((request) => {
      if (request.method !== 'PATCH' || request.headers['upload-offset'] !== '4096' || failed) {
        return undefined;
      }
      failed = true;
      return 503;
    });
    const calls: Array<[number, number]> = [];
    await start(script.url, await sourceFile(pattern(10_000, 28)), {
      chunkSize: 4096,
      onProgress: (sent, total) => calls.push([sent, total]),
    });
    expect(
      calls,
      `onProgress calls when a HEAD after a 503 finds 4096 bytes, as acknowledged before (${script.log()}) [R17]`,
    ).toEqual([
      [4096, 10_000],
      [8192, 10_000],
      [10_000, 10_000],
    ]);
  });

  it('reports (0, 0) once for an empty file [R17]', async () => {
    const script = await scriptServer();
    const calls: Array<[number, number]> = [];
    await start(script.url, await sourceFile(Buffer.alloc(0)), {
      onProgress: (sent, total) => calls.push([sent, total]),
    });
    expect(calls, 'onProgress for an empty file [R17]').toEqual([[0, 0]]);
  });

  it('reports a HEAD that advances the offset, and never goes back [R17]', async () => {
    // The second PATCH loses its connection after the server kept 1000 of its bytes.
    const script = await scriptServer((request) =>
      request.method === 'PATCH' && request.headers['upload-offset'] === '4096'
        ? { keep: 1000 }
        : undefined,
    );
    const calls: Array<[number, number]> = [];
    await start(script.url, await sourceFile(pattern(10_000, 29)), {
      chunkSize: 4096,
      onProgress: (sent, total) => calls.push([sent, total]),
    });
    const sent = calls.map(([value]) => value);
    expect(
      sent,
      `onProgress after a HEAD that found 5096 bytes on the server (${script.log()}) [R17]`,
    ).toContain(5096);
    expect(sent, 'onProgress never decreases [R17]').toEqual([...sent].sort((a, b) => a - b));
    expect(calls.at(-1), 'the last call is (size, size) [R17]').toEqual([10_000, 10_000]);
    expect(
      script.data().equals(pattern(10_000, 29)),
      `the file, byte for byte (${script.log()}) [R16]`,
    ).toBe(true);
  });

  for (const [what, fault] of [
    ['503', 503],
    ['500', 500],
    ['400', 400],
  ] as const) {
    it(`rejects at once when the POST answers ${what}, naming the status, without retrying [R18]`, async () => {
      const script = await scriptServer((request) =>
        request.method === 'POST' ? fault : undefined,
      );
      const error = await start(script.url, await sourceFile(pattern(100))).then(
        () => new Error('it resolved'),
        caught,
      );
      expect(error, `uploadFile when the POST answers ${what} [R18]`).toBeInstanceOf(Error);
      expect(error.message, `the error names the status ${what} [R18]`).toContain(what);
      await realPause(400);
      expect(script.log(), 'the POST is not retried [R18]').toBe(`POST → ${what}`);
    });
  }

  it('rejects when the POST loses its connection, without retrying [R18]', async () => {
    const script = await scriptServer((request) =>
      request.method === 'POST' ? 'reset' : undefined,
    );
    const outcome = await start(script.url, await sourceFile(pattern(100))).then(
      () => 'resolved',
      (reason: unknown) => caught(reason) && 'rejected',
    );
    expect(outcome, 'uploadFile when the POST fails [R18]').toBe('rejected');
    await realPause(400);
    expect(script.log(), 'the POST is not retried [R18]').toBe('POST → (connection reset)');
  });
});

/** The descriptors this process holds open on `file` (Linux: /proc/self/fd). */
async function openOn(file: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(path.join('/proc/self/fd', fd)).catch(() => '')),
  );
  return targets.filter((target) => target === file).length;
}

describe.skipIf(process.platform !== 'linux')(
  'stage 3: the client closes the file',
  NET_TIMEOUT,
  () => {
    it.for([
      ['once the upload is done', undefined],
      ['when a PATCH is refused', 404],
    ] as const)('closes the file it reads %s [R24]', async ([when, status]) => {
      const script = await scriptServer((request) =>
        request.method === 'PATCH' ? status : undefined,
      );
      const file = await sourceFile(pattern(10_000, 5));
      await start(script.url, file, { chunkSize: 4096, retries: 0 }).catch(() => undefined);
      expect(
        await openOn(file),
        `uploadFile left the file open ${when} (${script.log()}): close it, even on failure [R24]`,
      ).toBe(0);
    });
  },
);
