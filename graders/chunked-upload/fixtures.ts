/**
 * Shared by chunked-upload's stages: temporary folders removed after each test, the learner's
 * server on 127.0.0.1, raw HTTP requests with bounded waits, a scripted tus server for grading the
 * client, a proxy that cuts connections, deterministic file contents and live-memory samples.
 * Every wait here is on the real clock captured before any test fakes it, and every wait is bounded.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { createUploadServer, type CompletedUpload } from '@kata/chunked-upload';
import { collectGarbage, realNowMs } from '../support/limits.ts';

type Clock = {
  setTimeout: typeof setTimeout;
  clearTimeout: typeof clearTimeout;
  setImmediate: typeof setImmediate;
};
const real = (globalThis as unknown as { __kataRealClock?: Clock }).__kataRealClock ?? {
  setTimeout,
  clearTimeout,
  setImmediate,
};

/** Test timeouts (real time), generous for a loaded two-core machine. */
export const NET_TIMEOUT = { timeout: 20_000 };
export const LONG_TIMEOUT = { timeout: 90_000 };

/** Resolves after `ms` of real time, whatever the test did to the clock: only for "nothing more happens" checks. */
export function realPause(ms: number): Promise<void> {
  return new Promise((resolve) => real.setTimeout(resolve, ms));
}

/** Lets real I/O run a few turns of the event loop (a response arriving, a socket closing). */
export async function realTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise((resolve) => real.setImmediate(resolve));
}

/** `promise`, or a rejection naming `what` once `ms` of real time pass first. */
export function bounded<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = real.setTimeout(
      () => reject(new Error(`expected ${what} within ${ms} ms (real time)`)),
      ms,
    );
    promise.then(
      (value) => {
        real.clearTimeout(timer);
        resolve(value);
      },
      (reason: unknown) => {
        real.clearTimeout(timer);
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      },
    );
  });
}

/** A settled promise's error, as a value; the stub's NotImplementedError is rethrown so the test reads "not started". */
export function caught(reason: unknown): Error {
  if (reason instanceof Error && reason.name === 'NotImplementedError') throw reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** Polls `check` on real time until it is true; false if `ms` pass first. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 3_000,
): Promise<boolean> {
  const until = realNowMs() + ms;
  for (;;) {
    if (await check()) return true;
    if (realNowMs() > until) return false;
    await realPause(10);
  }
}

/** A temporary folder under os.tmpdir(), removed once the test has finished. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kata-chunked-upload-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** `sha256 <base64>`, the Upload-Checksum of `bytes`. */
export function checksumOf(bytes: Buffer): string {
  return `sha256 ${sha256(bytes).toString('base64')}`;
}

/** `size` deterministic bytes, different at every position modulo 2³² (a misplaced chunk shows). */
export function pattern(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Block `index` (1 MiB) of a large deterministic file: a shared random block stamped with its position every KiB. */
const BLOCK = 1024 * 1024;
let baseBlock: Buffer | undefined;
export function largeBlock(index: number): Buffer {
  baseBlock ??= pattern(BLOCK, 7);
  const block = Buffer.from(baseBlock);
  for (let at = 0; at < BLOCK; at += 1024) block.writeUInt32BE((index * BLOCK + at) >>> 0, at);
  return block;
}

/** Writes a file of `mib` large blocks; resolves with its SHA-256. */
export async function writeLargeFile(file: string, mib: number): Promise<Buffer> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let i = 0; i < mib; i += 1) {
    const block = largeBlock(i);
    hash.update(block);
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return hash.digest();
}

/** Live memory of this process after a full collection: heap plus Buffers (which live outside it). */
export function liveBytes(): number {
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

export const MIB = 1024 * 1024;
export const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------
// Raw HTTP, one connection per request, every request bounded.

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

export function request(base: string, req: RawRequest, ms = 8_000): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return bounded(
    new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body && !req.chunked) headers['content-length'] ??= req.body.length;
      const outgoing = http.request(
        { host: hostname, port, method: req.method, path: req.path, headers, agent: false },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (part: Buffer) => parts.push(part));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(parts),
            }),
          );
          response.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      // write() before end(): Node sends the body chunked instead of adding a Content-Length.
      if (req.body && req.chunked) outgoing.write(req.body, () => outgoing.end());
      else if (req.body) outgoing.end(req.body);
      else outgoing.end();
    }),
    ms,
    `an answer to ${req.method} ${req.path}`,
  );
}

/** "409 (Upload-Offset 4)": an answer, for failure messages. */
export function show(answer: Answer): string {
  const offset = answer.headers['upload-offset'];
  const text =
    answer.body.length > 0 && answer.body.length < 200 ? ` ${answer.body.toString()}` : '';
  return `${answer.status}${offset === undefined ? '' : ` (Upload-Offset ${String(offset)})`}${text}`;
}

export const OFFSET_TYPE = 'application/offset+octet-stream';

// ---------------------------------------------------------------------------------------------
// The learner's server.

export interface Started {
  url: string;
  dir: string;
  /** The temporary folder holding `dir` (and nothing else of the server's). */
  root: string;
  completions: CompletedUpload[];
  close(): Promise<void>;
  /** POST /uploads with this length; fails the test unless 201 with a Location. Returns the id. */
  create(length: number): Promise<string>;
  head(id: string): Promise<Answer>;
  /** The upload's offset by HEAD (fails the test unless 200). */
  offset(id: string): Promise<number>;
  patch(
    id: string,
    offset: number | string | undefined,
    body: Buffer,
    headers?: Record<string, string | number>,
  ): Promise<Answer>;
  get(id: string): Promise<Answer>;
}

export async function startServer(
  options: { maxSize?: number; directory?: (root: string) => string } = {},
): Promise<Started> {
  const root = await tempDir();
  const dir = options.directory ? options.directory(root) : path.join(root, 'uploads');
  const completions: CompletedUpload[] = [];
  const app = createUploadServer({
    directory: dir,
    ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
    onComplete: (upload) => {
      completions.push(upload);
    },
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    app.server.closeAllConnections?.();
    await bounded(app.close(), 5_000, 'app.close() to finish').catch(() => undefined);
  };
  onTestFinished(close);
  await bounded(app.listen({ host: '127.0.0.1', port: 0 }), 5_000, 'app.listen() on 127.0.0.1');
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  const started: Started = {
    url,
    dir,
    root,
    completions,
    close,
    async create(length) {
      const answer = await request(url, {
        method: 'POST',
        path: '/uploads',
        headers: { 'upload-length': length },
      });
      const location = answer.headers.location;
      const match = typeof location === 'string' ? /^\/uploads\/([^/?#]+)$/.exec(location) : null;
      if (answer.status !== 201 || !match) {
        throw new Error(
          `POST /uploads with Upload-Length: ${length} must answer 201 with Location: /uploads/<id> [R2]; got ${show(answer)}, Location ${String(location)}`,
        );
      }
      return match[1]!;
    },
    head: (id) => request(url, { method: 'HEAD', path: `/uploads/${id}` }),
    async offset(id) {
      const answer = await started.head(id);
      const value = answer.headers['upload-offset'];
      if (answer.status !== 200 || typeof value !== 'string' || !/^\d+$/.test(value)) {
        throw new Error(
          `HEAD /uploads/${id} must answer 200 with Upload-Offset [R2]; got ${show(answer)}`,
        );
      }
      return Number(value);
    },
    patch: (id, offset, body, headers = {}) =>
      request(url, {
        method: 'PATCH',
        path: `/uploads/${id}`,
        headers: {
          'content-type': OFFSET_TYPE,
          ...(offset === undefined ? {} : { 'upload-offset': offset }),
          ...headers,
        },
        body,
      }),
    get: (id) => request(url, { method: 'GET', path: `/uploads/${id}` }),
  };
  return started;
}

/**
 * A PATCH whose body is written by the test: the headers and `first` bytes go out at once, and the
 * request stays open until `finish()` (the rest, then the answer) or `cut()` (the socket is
 * destroyed mid-body).
 */
export function openPatch(
  base: string,
  id: string,
  headers: Record<string, string | number>,
  first: Buffer,
): { finish(rest: Buffer): Promise<Answer>; cut(): void; answered: () => Answer | undefined } {
  const { hostname, port } = new URL(base);
  let answer: Answer | undefined;
  let resolveAnswer!: (value: Answer) => void;
  let rejectAnswer!: (reason: unknown) => void;
  const answerPromise = new Promise<Answer>((resolve, reject) => {
    resolveAnswer = resolve;
    rejectAnswer = reject;
  });
  answerPromise.catch(() => undefined);
  const outgoing = http.request(
    {
      host: hostname,
      port,
      method: 'PATCH',
      path: `/uploads/${id}`,
      headers: { 'content-type': OFFSET_TYPE, ...headers },
      agent: false,
    },
    (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => {
        answer = {
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(parts),
        };
        resolveAnswer(answer);
      });
      response.on('error', rejectAnswer);
    },
  );
  outgoing.on('error', rejectAnswer);
  outgoing.flushHeaders();
  outgoing.write(first);
  return {
    finish(rest) {
      outgoing.end(rest);
      return bounded(answerPromise, 8_000, `an answer to the PATCH of /uploads/${id}`);
    },
    cut() {
      outgoing.destroy();
    },
    answered: () => answer,
  };
}

// ---------------------------------------------------------------------------------------------
// A scripted tus server, to grade the client on its own.

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the scripted server does with a request instead of answering it as tus says. */
export type Fault =
  | number // answer this status, keep nothing
  | 'reset' // read the body, keep nothing, destroy the connection
  | { keep: number } // keep the first `keep` bytes of a PATCH body, then destroy the connection
  | 'hold'; // never answer (until the server closes)

export interface Script {
  url: string;
  requests: Recorded[];
  /** The bytes the server holds for its one upload. */
  data(): Buffer;
  offset(): number;
  /** Resolves once `n` requests have arrived (real time, bounded). */
  arrived(n: number, ms?: number): Promise<void>;
  /** "POST, PATCH 0+4 → 204, HEAD → 200 4": what happened so far, for failure messages. */
  log(): string;
}

/**
 * A tus server on 127.0.0.1 for one upload (id `u1`): correct unless `fault(request, index)`
 * returns a {@link Fault} for a request (index counts every request, from 0).
 */
export async function scriptServer(
  fault: (request: Recorded, index: number) => Fault | undefined = () => undefined,
  options: { onBody?: (part: Buffer) => void; keepData?: boolean } = {},
): Promise<Script> {
  const requests: Recorded[] = [];
  const lines: string[] = [];
  const parts: Buffer[] = [];
  let length = -1;
  let offset = 0;
  const keepData = options.keepData ?? true;
  const server = http.createServer((incoming, response) => {
    const index = requests.length;
    const recorded: Recorded = {
      method: incoming.method ?? '',
      url: incoming.url ?? '',
      headers: incoming.headers,
      body: Buffer.alloc(0),
    };
    requests.push(recorded);
    const received: Buffer[] = [];
    let receivedBytes = 0;
    incoming.on('data', (part: Buffer) => {
      if (keepData) received.push(part);
      receivedBytes += part.length;
      options.onBody?.(part);
    });
    incoming.on('error', () => undefined);
    incoming.on('end', () => {
      // Without keepData the bodies are counted, not kept (the memory check must not see them).
      recorded.body = keepData ? Buffer.concat(received) : Buffer.alloc(0);
      const planned = fault(recorded, index);
      const label =
        recorded.method === 'PATCH'
          ? `PATCH ${String(incoming.headers['upload-offset'])}+${receivedBytes}`
          : recorded.method;
      const answer = (status: number, headers: Record<string, string> = {}): void => {
        lines.push(
          `${label} → ${status}${headers['upload-offset'] ? ` ${headers['upload-offset']}` : ''}`,
        );
        response.writeHead(status, headers).end();
      };
      if (planned === 'hold') {
        lines.push(`${label} → (held)`);
        return;
      }
      if (planned === 'reset') {
        lines.push(`${label} → (connection reset)`);
        incoming.socket.destroy();
        return;
      }
      if (typeof planned === 'object') {
        const kept = recorded.body.subarray(0, Math.min(planned.keep, receivedBytes));
        if (keepData) parts.push(kept);
        offset += kept.length;
        lines.push(`${label} → (kept ${kept.length}, connection reset)`);
        incoming.socket.destroy();
        return;
      }
      if (typeof planned === 'number') return answer(planned);
      if (recorded.method === 'POST' && recorded.url === '/uploads') {
        length = Number(incoming.headers['upload-length']);
        return answer(201, { location: '/uploads/u1' });
      }
      if (recorded.url !== '/uploads/u1') return answer(404);
      if (recorded.method === 'HEAD') {
        return answer(200, {
          'upload-offset': String(offset),
          'upload-length': String(length),
          'cache-control': 'no-store',
        });
      }
      if (recorded.method === 'PATCH') {
        if (Number(incoming.headers['upload-offset']) !== offset) {
          return answer(409, { 'upload-offset': String(offset) });
        }
        if (keepData) parts.push(recorded.body);
        offset += receivedBytes;
        return answer(204, { 'upload-offset': String(offset) });
      }
      return answer(405);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    data: () => Buffer.concat(parts),
    offset: () => offset,
    async arrived(n, ms = 3_000) {
      if (!(await eventually(() => requests.length >= n, ms))) {
        throw new Error(
          `expected ${n} requests to reach the server within ${ms} ms (real time), got ${requests.length}: ${lines.join(', ') || 'none'}`,
        );
      }
    },
    log: () => lines.join(', ') || 'no request',
  };
}

// ---------------------------------------------------------------------------------------------
// A proxy that cuts connections mid-stream, the same way every run.

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`. Of the connections it accepts, the first `cuts`
 * that carry more than `minBytes` from the client are destroyed (both sides) once they have
 * carried a seeded number of bytes between `minBytes` and `maxBytes`; the rest pass untouched.
 */
export async function cuttingProxy(
  target: string,
  plan: { seed: number; cuts: number; minBytes: number; maxBytes: number },
): Promise<{ url: string; cutsMade: () => number; bytesForwarded: () => number }> {
  const random = seededRandom(plan.seed);
  const { port: targetPort } = new URL(target);
  let cutsMade = 0;
  let forwarded = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), '127.0.0.1');
    sockets.add(client).add(upstream);
    const limit = plan.minBytes + Math.floor(random() * (plan.maxBytes - plan.minBytes));
    let carried = 0;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (part: Buffer) => {
      if (cutsMade < plan.cuts && carried + part.length > limit) {
        const allowed = part.subarray(0, Math.max(0, limit - carried));
        cutsMade += 1;
        forwarded += allowed.length;
        upstream.write(allowed, () => end());
        client.pause();
        return;
      }
      carried += part.length;
      forwarded += part.length;
      if (!upstream.write(part)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    cutsMade: () => cutsMade,
    bytesForwarded: () => forwarded,
  };
}
