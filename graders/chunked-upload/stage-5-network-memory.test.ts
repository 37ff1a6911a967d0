/**
 * Grader for chunked-upload, stage 5: the learner's client against the learner's server through a
 * proxy that cuts connections mid-body (seeded: the same cuts every run), checked byte for byte;
 * then memory on each side over a 64 MiB upload, measured as live memory (heap and Buffers, after a
 * full collection) while the bytes flow, against what it was before.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { uploadFile } from '@kata/chunked-upload';
import {
  bounded,
  cuttingProxy,
  largeBlock,
  LONG_TIMEOUT,
  liveBytes,
  MIB,
  mib,
  OFFSET_TYPE,
  pattern,
  scriptServer,
  sha256,
  startServer,
  tempDir,
  writeLargeFile,
} from './fixtures.ts';
import { writeFile } from 'node:fs/promises';

/** GET of a complete upload, hashed as it streams: its status, length and SHA-256. */
function getDigest(
  url: string,
  id: string,
): Promise<{ status: number; bytes: number; digest: Buffer }> {
  const { hostname, port } = new URL(url);
  return bounded(
    new Promise((resolve, reject) => {
      http
        .get({ host: hostname, port, path: `/uploads/${id}`, agent: false }, (response) => {
          const hash = createHash('sha256');
          let bytes = 0;
          response.on('data', (part: Buffer) => {
            hash.update(part);
            bytes += part.length;
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, bytes, digest: hash.digest() }),
          );
          response.on('error', reject);
        })
        .on('error', reject);
    }),
    30_000,
    `GET /uploads/${id} to finish`,
  );
}

const SIZE_MIB = 64;

describe('stage 5: a flaky network, and memory', LONG_TIMEOUT, () => {
  it('uploads 8 MiB byte for byte through a proxy that cuts connections mid-body [R12, R19]', async () => {
    const server = await startServer();
    const proxy = await cuttingProxy(server.url, {
      seed: 20_261_202,
      cuts: 5,
      minBytes: 64 * 1024,
      maxBytes: 1536 * 1024,
    });
    const data = pattern(8 * MIB, 61);
    const file = path.join(await tempDir(), 'source.bin');
    await writeFile(file, data);
    const progress: number[] = [];
    const { id } = await bounded(
      uploadFile(proxy.url, file, {
        chunkSize: MIB,
        retries: 8,
        onProgress: (sent) => progress.push(sent),
      }),
      40_000,
      'uploadFile through the cutting proxy to finish',
    );
    expect(
      proxy.cutsMade(),
      'the proxy cut connections mid-body (the test needs it to) ',
    ).toBeGreaterThanOrEqual(3);
    const got = await getDigest(server.url, id);
    expect(
      { status: got.status, bytes: got.bytes, same: got.digest.equals(sha256(data)) },
      `GET /uploads/${id} after an upload whose connections were cut ${proxy.cutsMade()} times: the file, byte for byte [R12, R19]`,
    ).toEqual({ status: 200, bytes: data.length, same: true });
    expect(server.completions.length, 'onComplete once [R13]').toBe(1);
    expect(
      (await readFile(server.completions[0]!.path)).equals(data),
      "onComplete's file, byte for byte [R13]",
    ).toBe(true);
    expect(progress.at(-1), 'the last progress report is the whole file [R17]').toBe(data.length);
  });

  it(`streams a ${SIZE_MIB} MiB PATCH to disk without holding it in memory [R23]`, async () => {
    const server = await startServer();
    const size = SIZE_MIB * MIB;
    const id = await server.create(size);
    const digest = createHash('sha256');
    const before = liveBytes();
    const samples: number[] = [];
    const { hostname, port } = new URL(server.url);
    const answer = await bounded(
      new Promise<{ status: number; offset: unknown }>((resolve, reject) => {
        const outgoing = http.request(
          {
            host: hostname,
            port,
            method: 'PATCH',
            path: `/uploads/${id}`,
            agent: false,
            headers: { 'content-type': OFFSET_TYPE, 'upload-offset': 0, 'content-length': size },
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
        void (async () => {
          for (let i = 0; i < SIZE_MIB; i += 1) {
            const block = largeBlock(i);
            digest.update(block);
            if (!outgoing.write(block))
              await new Promise((drained) => outgoing.once('drain', drained));
            if (i % 8 === 7) samples.push(liveBytes() - before);
          }
          outgoing.end();
        })().catch(reject);
      }),
      60_000,
      `an answer to a PATCH of ${SIZE_MIB} MiB`,
    );
    expect(answer, `the PATCH of ${SIZE_MIB} MiB [R7]`).toEqual({
      status: 204,
      offset: String(size),
    });
    const peak = Math.max(...samples);
    expect(
      peak,
      `live memory grew by ${mib(peak)} while the server received a ${SIZE_MIB} MiB body (every 8 MiB: ${samples.map(mib).join(', ')}): the body must be streamed to disk, not held (limit 16 MiB) [R23]`,
    ).toBeLessThan(16 * MIB);
    const got = await getDigest(server.url, id);
    expect(
      { bytes: got.bytes, same: got.digest.equals(digest.digest()) },
      'the file on the server, byte for byte [R23]',
    ).toEqual({
      bytes: size,
      same: true,
    });
  });

  it(`reads a ${SIZE_MIB} MiB file as it uploads it, about one chunk at a time [R24]`, async () => {
    const chunkSize = 4 * MIB;
    const file = path.join(await tempDir(), 'large.bin');
    const expected = await writeLargeFile(file, SIZE_MIB);
    const digest = createHash('sha256');
    const samples: number[] = [];
    let received = 0;
    let before = 0;
    const script = await scriptServer(undefined, {
      keepData: false,
      onBody: (part) => {
        digest.update(part);
        received += part.length;
        if (received % (8 * MIB) < part.length) samples.push(liveBytes() - before);
      },
    });
    before = liveBytes();
    await bounded(
      uploadFile(script.url, file, { chunkSize }),
      60_000,
      `uploadFile of ${SIZE_MIB} MiB to finish`,
    );
    expect(
      { received, same: digest.digest().equals(expected) },
      `the server received the file, byte for byte (${script.log().slice(0, 300)}) [R15]`,
    ).toEqual({
      received: SIZE_MIB * MIB,
      same: true,
    });
    const peak = Math.max(...samples);
    expect(
      peak,
      `live memory grew by ${mib(peak)} while a ${SIZE_MIB} MiB file was uploaded in chunks of 4 MiB (every 8 MiB: ${samples.map(mib).join(', ')}): read the file as you go (limit 6 chunks, 24 MiB) [R24]`,
    ).toBeLessThan(6 * chunkSize);
  });
});
