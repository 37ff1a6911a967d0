/**
 * Grader for chunked-upload, stage 2: PATCH appends at the offset; refusals and their order;
 * one PATCH at a time; checksums; bodies cut mid-way; completion. Real servers on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  bounded,
  checksumOf,
  eventually,
  MIB,
  NET_TIMEOUT,
  OFFSET_TYPE,
  openPatch,
  pattern,
  realPause,
  request,
  show,
  startServer,
  type Answer,
  type Started,
} from './fixtures.ts';

/** The answer's status and Upload-Offset, for comparing with what the contract says. */
const brief = (answer: Answer) => ({
  status: answer.status,
  offset: answer.headers['upload-offset'],
});

/** Sends the rest of an upload from the server's offset, retrying while the server still holds the lock or has not yet noticed a break. */
async function finishFrom(
  server: Started,
  id: string,
  data: Buffer,
  rule: string,
  headers: (chunk: Buffer) => Record<string, string> = () => ({}),
): Promise<{ offset: number; answer: Answer }> {
  let last: Answer | undefined;
  let offset = -1;
  const done = await eventually(async () => {
    offset = await server.offset(id);
    const rest = data.subarray(offset);
    last = await server.patch(id, offset, rest, headers(rest));
    return last.status === 204;
  }, 5_000);
  if (!done || !last) {
    throw new Error(
      `HEAD said ${offset}, and a PATCH of the rest from there kept failing for 5 s: last ${last ? show(last) : 'none'} [${rule}]`,
    );
  }
  return { offset, answer: last };
}

describe('stage 2: PATCH, checksums, locks and broken connections', NET_TIMEOUT, () => {
  it('appends each PATCH at the offset and answers 204 with the new Upload-Offset [R7]', async () => {
    const server = await startServer();
    const id = await server.create(10);
    const steps: Array<[number, string, number]> = [
      [0, 'abcd', 4],
      [4, '', 4],
      [4, 'e', 5],
      [5, 'fghij', 10],
    ];
    for (const [offset, body, next] of steps) {
      const answer = await server.patch(id, offset, Buffer.from(body));
      expect(
        brief(answer),
        `PATCH Upload-Offset: ${offset} with "${body}" [R7]: ${show(answer)}`,
      ).toEqual({
        status: 204,
        offset: String(next),
      });
      expect(await server.offset(id), `HEAD after that PATCH reports its new offset [R7]`).toBe(
        next,
      );
    }
    const got = await server.get(id);
    expect(got.body.toString(), 'the bytes, in order [R7]').toBe('abcdefghij');
  });

  it('builds a 256 KiB file byte for byte from chunks of many sizes [R7]', async () => {
    const server = await startServer();
    const data = pattern(256 * 1024, 3);
    const id = await server.create(data.length);
    const sizes = [1, 2, 3, 1000, 4096, 65_536, 7, 100_000];
    let offset = 0;
    for (let i = 0; offset < data.length; i += 1) {
      const chunk = data.subarray(offset, offset + sizes[i % sizes.length]!);
      const answer = await server.patch(id, offset, chunk);
      expect(brief(answer), `PATCH of ${chunk.length} bytes at ${offset} [R7]`).toEqual({
        status: 204,
        offset: String(offset + chunk.length),
      });
      offset += chunk.length;
    }
    const got = await server.get(id);
    expect(got.status, 'GET of the complete upload [R13]').toBe(200);
    expect(got.body.equals(data), 'the file must be the chunks, byte for byte [R7]').toBe(true);
  });

  it('refuses a bad PATCH with 415, 400, 411, 409 or 413 and appends nothing [R8]', async () => {
    const server = await startServer();
    const id = await server.create(10);
    await server.patch(id, 0, Buffer.from('abcd'));
    const patch = (
      headers: Record<string, string | number>,
      body = Buffer.from('xyz'),
      chunked = false,
    ) => request(server.url, { method: 'PATCH', path: `/uploads/${id}`, headers, body, chunked });
    const cases: Array<[string, () => Promise<Answer>, number]> = [
      [
        'Content-Type: application/octet-stream',
        () => patch({ 'content-type': 'application/octet-stream', 'upload-offset': 4 }),
        415,
      ],
      [
        'Content-Type: application/json',
        () => patch({ 'content-type': 'application/json', 'upload-offset': 4 }, Buffer.from('{x')),
        415,
      ],
      [
        'Content-Type: text/plain',
        () => patch({ 'content-type': 'text/plain', 'upload-offset': 4 }),
        415,
      ],
      ['no Upload-Offset', () => patch({ 'content-type': OFFSET_TYPE }), 400],
      ...['abc', '-1', '4.0', '0x4', '4e0', '', ' '].map(
        (value): [string, () => Promise<Answer>, number] => [
          `Upload-Offset: "${value}"`,
          () => patch({ 'content-type': OFFSET_TYPE, 'upload-offset': value }),
          400,
        ],
      ),
      [
        'a chunked body (no Content-Length)',
        () => patch({ 'content-type': OFFSET_TYPE, 'upload-offset': 4 }, Buffer.from('xyz'), true),
        411,
      ],
      [
        'Upload-Offset: 2 (behind)',
        () => patch({ 'content-type': OFFSET_TYPE, 'upload-offset': 2 }),
        409,
      ],
      [
        'Upload-Offset: 5 (ahead)',
        () => patch({ 'content-type': OFFSET_TYPE, 'upload-offset': 5 }),
        409,
      ],
      [
        'Upload-Offset: 4 with 7 bytes (past 10)',
        () => patch({ 'content-type': OFFSET_TYPE, 'upload-offset': 4 }, Buffer.from('1234567')),
        413,
      ],
    ];
    for (const [what, run, expected] of cases) {
      const answer = await run();
      expect(
        answer.status,
        `PATCH with ${what}, upload of 10 at offset 4 [R8]: ${show(answer)}`,
      ).toBe(expected);
      expect(
        await server.offset(id),
        `after the refused PATCH with ${what}, the offset stays 4 [R8]`,
      ).toBe(4);
    }
    const rest = await server.patch(id, 4, Buffer.from('efghij'));
    expect(brief(rest), 'the right PATCH afterwards [R7]').toEqual({ status: 204, offset: '10' });
    expect((await server.get(id)).body.toString(), 'refused PATCHes must append nothing [R8]').toBe(
      'abcdefghij',
    );
  });

  it('checks 404, 415, 400, 411, 409, 413, 460 in that order [R9]', async () => {
    const server = await startServer();
    const id = await server.create(10);
    await server.patch(id, 0, Buffer.from('abcd'));
    const send = (
      path: string,
      headers: Record<string, string | number>,
      body = Buffer.from('xyz'),
      chunked = false,
    ) => request(server.url, { method: 'PATCH', path, headers, body, chunked });
    const own = `/uploads/${id}`;
    const unknown = '/uploads/3b241101-e2bb-4255-8caf-4136c566a962';
    const cases: Array<[string, () => Promise<Answer>, number]> = [
      [
        'an unknown id and a wrong content type',
        () =>
          send(
            unknown,
            { 'content-type': 'application/json', 'upload-offset': 0 },
            Buffer.from('{x'),
          ),
        404,
      ],
      [
        'an unknown id and a content type Fastify has no parser for',
        () => send(unknown, { 'content-type': 'application/octet-stream', 'upload-offset': 0 }),
        404,
      ],
      [
        'an unknown id and no Upload-Offset',
        () => send(unknown, { 'content-type': OFFSET_TYPE }),
        404,
      ],
      [
        'a wrong content type and no Upload-Offset',
        () => send(own, { 'content-type': 'text/plain' }),
        415,
      ],
      [
        'a wrong content type and a wrong offset',
        () => send(own, { 'content-type': 'text/plain', 'upload-offset': 1 }),
        415,
      ],
      [
        'a malformed Upload-Offset and a chunked body',
        () =>
          send(
            own,
            { 'content-type': OFFSET_TYPE, 'upload-offset': 'x' },
            Buffer.from('xyz'),
            true,
          ),
        400,
      ],
      [
        'a chunked body and a wrong offset',
        () =>
          send(own, { 'content-type': OFFSET_TYPE, 'upload-offset': 1 }, Buffer.from('xyz'), true),
        411,
      ],
      [
        'a wrong offset and a body past the length',
        () => send(own, { 'content-type': OFFSET_TYPE, 'upload-offset': 2 }, Buffer.alloc(20)),
        409,
      ],
      [
        'a body past the length and a wrong checksum',
        () =>
          send(
            own,
            {
              'content-type': OFFSET_TYPE,
              'upload-offset': 4,
              'upload-checksum': checksumOf(Buffer.from('no')),
            },
            Buffer.alloc(20),
          ),
        413,
      ],
    ];
    for (const [what, run, expected] of cases) {
      const answer = await run();
      expect(
        answer.status,
        `a PATCH with ${what} gets the status of the first check it fails [R9]: ${show(answer)}`,
      ).toBe(expected);
    }
    expect(await server.offset(id), 'none of them appended anything [R8]').toBe(4);
  });

  it('answers 409 to a second PATCH while one is receiving its body, and holds up no other upload [R10]', async () => {
    const server = await startServer();
    const id = await server.create(10);
    const other = await server.create(3);
    const first = openPatch(
      server.url,
      id,
      { 'upload-offset': 0, 'content-length': 10 },
      Buffer.from('abc'),
    );
    await realPause(500); // the first PATCH's headers and 3 bytes have long reached the server
    const second = await server.patch(id, 0, Buffer.from('XY'));
    expect(
      brief(second).status,
      `a PATCH of an upload while another PATCH of it is still receiving its body [R10]: ${show(second)}`,
    ).toBe(409);
    const head = await server.head(id);
    expect(head.status, 'HEAD answers while a PATCH runs [R10]').toBe(200);
    const elsewhere = await server.patch(other, 0, Buffer.from('123'));
    expect(brief(elsewhere), 'a PATCH of another upload meanwhile [R10]').toEqual({
      status: 204,
      offset: '3',
    });
    const done = await first.finish(Buffer.from('defghij'));
    expect(brief(done), 'the first PATCH, once its body is complete [R7]').toEqual({
      status: 204,
      offset: '10',
    });
    expect(
      (await server.get(id)).body.toString(),
      'the refused PATCH must append nothing [R10]',
    ).toBe('abcdefghij');
  });

  it('releases the lock before answering: 200 back-to-back PATCHes on one connection all succeed [R10]', async () => {
    const server = await startServer();
    const data = pattern(200 * 16, 5);
    const id = await server.create(data.length);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { hostname, port } = new URL(server.url);
      for (let offset = 0; offset < data.length; offset += 16) {
        const answer = await bounded(
          new Promise<{ status: number; offset: unknown }>((resolve, reject) => {
            const outgoing = http.request(
              {
                host: hostname,
                port,
                method: 'PATCH',
                path: `/uploads/${id}`,
                agent,
                headers: {
                  'content-type': OFFSET_TYPE,
                  'upload-offset': offset,
                  'content-length': 16,
                },
              },
              (response) => {
                response.resume();
                response.on('end', () =>
                  resolve({
                    status: response.statusCode ?? 0,
                    offset: response.headers['upload-offset'],
                  }),
                );
              },
            );
            outgoing.on('error', reject);
            outgoing.end(data.subarray(offset, offset + 16));
          }),
          5_000,
          `an answer to PATCH ${offset}`,
        );
        expect(
          answer,
          `PATCH ${offset / 16 + 1} of 200, sent the moment the previous 204 arrived: the previous PATCH's lock must be released before its answer goes out [R10]`,
        ).toEqual({ status: 204, offset: String(offset + 16) });
      }
    } finally {
      agent.destroy();
    }
    expect((await server.get(id)).body.equals(data), 'the file, byte for byte [R7]').toBe(true);
  });

  it('keeps a chunk whose Upload-Checksum matches and answers 460 to one that does not [R11]', async () => {
    const server = await startServer();
    const data = Buffer.concat([Buffer.from('abcd'), pattern(300 * 1024, 9)]);
    const id = await server.create(data.length);
    const good = await server.patch(id, 0, data.subarray(0, 4), {
      'upload-checksum': checksumOf(data.subarray(0, 4)),
    });
    expect(brief(good), 'a PATCH whose checksum matches [R11]').toEqual({
      status: 204,
      offset: '4',
    });
    const rest = data.subarray(4);
    const damaged = Buffer.from(rest);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 1, damaged.length - 1);
    const bad = await server.patch(id, 4, damaged, { 'upload-checksum': checksumOf(rest) });
    expect(
      bad.status,
      `a PATCH whose last byte differs from the one its checksum was made of [R11]: ${show(bad)}`,
    ).toBe(460);
    expect(await server.offset(id), 'after a 460 the offset is unchanged [R11]').toBe(4);
    const again = await server.patch(id, 4, rest, { 'upload-checksum': checksumOf(rest) });
    expect(brief(again), 'the same chunk sent again, undamaged [R11]').toEqual({
      status: 204,
      offset: String(data.length),
    });
    expect(
      (await server.get(id)).body.equals(data),
      'nothing of the damaged chunk may remain [R11]',
    ).toBe(true);
  });

  it('keeps the bytes received before a connection broke mid-body, and completes from there [R12]', async () => {
    const server = await startServer();
    const data = pattern(4 * MIB, 11);
    const id = await server.create(data.length);
    const sent = MIB;
    const cut = openPatch(
      server.url,
      id,
      { 'upload-offset': 0, 'content-length': data.length },
      data.subarray(0, sent),
    );
    await realPause(500); // what was sent has long reached the server
    cut.cut();
    const { offset } = await finishFrom(server, id, data, 'R12');
    expect(
      offset,
      `HEAD after a PATCH of 4 MiB broke after ${sent} bytes: the bytes received are kept [R12]`,
    ).toBeGreaterThan(0);
    expect(offset, 'HEAD cannot count more than was sent [R12]').toBeLessThanOrEqual(sent);
    expect(
      (await server.get(id)).body.equals(data),
      'the kept part and the rest, byte for byte [R12]',
    ).toBe(true);
  });

  it('keeps nothing of a broken PATCH that carried an Upload-Checksum [R12]', async () => {
    const server = await startServer();
    const data = pattern(2 * MIB + 4, 13);
    const id = await server.create(data.length);
    expect(
      (await server.patch(id, 0, data.subarray(0, 4))).status,
      'a first PATCH of 4 bytes [R7]',
    ).toBe(204);
    const chunk = data.subarray(4);
    const cut = openPatch(
      server.url,
      id,
      { 'upload-offset': 4, 'content-length': chunk.length, 'upload-checksum': checksumOf(chunk) },
      chunk.subarray(0, MIB),
    );
    await realPause(500);
    cut.cut();
    const { offset } = await finishFrom(server, id, data, 'R12', (rest) => ({
      'upload-checksum': checksumOf(rest),
    }));
    expect(
      offset,
      'a broken PATCH with Upload-Checksum cannot be verified: nothing of it is kept [R12]',
    ).toBe(4);
    expect((await server.get(id)).body.equals(data), 'the file, byte for byte [R12]').toBe(true);
  });

  it('calls onComplete once with { id, path, size } and serves the bytes only once complete [R13]', async () => {
    const server = await startServer();
    const data = pattern(70_000, 17);
    const id = await server.create(data.length);
    await server.patch(id, 0, data.subarray(0, 30_000));
    const early = await server.get(id);
    expect(
      early.status,
      `GET /uploads/${id} before the upload is complete [R13]: ${show(early)}`,
    ).toBe(409);
    expect(server.completions, 'onComplete before the last byte [R13]').toEqual([]);
    const last = await server.patch(id, 30_000, data.subarray(30_000));
    expect(brief(last), 'the last PATCH [R7]').toEqual({
      status: 204,
      offset: String(data.length),
    });
    expect(
      await eventually(() => server.completions.length > 0, 2_000),
      'onComplete once the offset reaches the length [R13]',
    ).toBe(true);
    await server.patch(id, data.length, Buffer.alloc(0));
    await server.head(id);
    await realPause(100);
    expect(
      server.completions.length,
      'onComplete is called once per upload, whatever comes after [R13]',
    ).toBe(1);
    const [done] = server.completions;
    expect({ id: done!.id, size: done!.size }, 'onComplete({ id, path, size }) [R13]').toEqual({
      id,
      size: data.length,
    });
    expect(
      readFileSync(done!.path).equals(data),
      `onComplete's path ${done!.path} must hold the bytes [R13]`,
    ).toBe(true);
    const got = await server.get(id);
    expect(got.status, 'GET of a complete upload [R13]').toBe(200);
    expect(got.body.equals(data), 'GET streams the bytes, byte for byte [R13]').toBe(true);
  });
});
