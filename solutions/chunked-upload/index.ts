// Reference: the core of tus 1.0 (creation, HEAD, PATCH, checksum) on Fastify, and a resuming client.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { open, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

export interface CompletedUpload {
  id: string;
  path: string;
  size: number;
}

export interface UploadServerOptions {
  directory: string;
  maxSize?: number;
  onComplete?: (upload: CompletedUpload) => unknown;
}

export interface UploadFileOptions {
  chunkSize?: number;
  retries?: number;
  signal?: AbortSignal;
  onProgress?: (sent: number, total: number) => void;
}

const GIB = 1024 ** 3;
const OFFSET_TYPE = 'application/offset+octet-stream';
/** Decimal digits only: no sign, no exponent, no hex, no spaces (Number('') is 0, Number('1e3') 1000). */
const DIGITS = /^\d+$/;
/** The only ids this server hands out. Anything else is unknown before any path is built from it. */
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Upload {
  length: number;
  offset: number;
  file: string;
  /** A PATCH is running: a second one gets 409. */
  busy: boolean;
}

export function createUploadServer(options: UploadServerOptions): FastifyInstance {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object with a directory');
  }
  const { directory, maxSize = GIB, onComplete } = options;
  if (typeof directory !== 'string' || directory === '') {
    throw new TypeError('directory must be a non-empty string');
  }
  if (typeof maxSize !== 'number') throw new TypeError('maxSize must be a number');
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new RangeError('maxSize must be a whole number of bytes >= 0');
  }
  if (onComplete !== undefined && typeof onComplete !== 'function') {
    throw new TypeError('onComplete must be a function');
  }
  const root = path.resolve(directory);
  mkdirSync(root, { recursive: true });

  const uploads = new Map<string, Upload>();
  // Fastify's HEAD-for-every-GET would shadow our own HEAD route: declare HEAD ourselves only.
  const app = Fastify({ exposeHeadRoutes: false });

  // Bodies are never parsed: the PATCH handler streams request.raw to disk itself. One catch-all
  // parser that consumes nothing also keeps Fastify from answering 415 or 400 (bad JSON) before
  // our own checks run, and is not bound by bodyLimit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const find = (id: string): Upload | undefined => (ID.test(id) ? uploads.get(id) : undefined);

  const complete = (id: string, upload: Upload): void => {
    if (!onComplete) return;
    // A failing callback is the caller's problem, not the client's: its upload is stored.
    Promise.resolve()
      .then(() => onComplete({ id, path: upload.file, size: upload.length }))
      .catch(() => undefined);
  };

  app.post('/uploads', async (request, reply) => {
    const header = request.headers['upload-length'];
    if (typeof header !== 'string' || !DIGITS.test(header)) {
      return reply.code(400).send({ error: 'Upload-Length must be a whole number of bytes' });
    }
    const length = Number(header);
    if (length > maxSize) {
      return reply.code(413).send({ error: `Upload-Length is over ${maxSize} bytes` });
    }
    const id = randomUUID();
    const upload: Upload = { length, offset: 0, file: path.join(root, id), busy: false };
    await writeFile(upload.file, '');
    uploads.set(id, upload);
    if (length === 0) complete(id, upload);
    return reply.code(201).header('location', `/uploads/${id}`).send();
  });

  // Before the GET route, so Fastify never adds its own HEAD for it.
  app.head<{ Params: { id: string } }>('/uploads/:id', async (request, reply) => {
    const upload = find(request.params.id);
    if (!upload) return reply.code(404).send();
    return reply
      .code(200)
      .header('upload-offset', String(upload.offset))
      .header('upload-length', String(upload.length))
      .header('cache-control', 'no-store')
      .send();
  });

  app.get<{ Params: { id: string } }>('/uploads/:id', async (request, reply) => {
    const upload = find(request.params.id);
    if (!upload) return reply.code(404).send();
    if (upload.offset < upload.length) return reply.code(409).send({ error: 'not complete' });
    return reply
      .code(200)
      .type('application/octet-stream')
      .header('content-length', String(upload.length))
      .send(createReadStream(upload.file));
  });

  app.patch<{ Params: { id: string } }>('/uploads/:id', async (request, reply) => {
    const { id } = request.params;
    const upload = find(id);
    if (!upload) return reply.code(404).send();
    if (request.headers['content-type'] !== OFFSET_TYPE) {
      return reply.code(415).send({ error: `Content-Type must be ${OFFSET_TYPE}` });
    }
    const offsetHeader = request.headers['upload-offset'];
    if (typeof offsetHeader !== 'string' || !DIGITS.test(offsetHeader)) {
      return reply.code(400).send({ error: 'Upload-Offset must be a whole number' });
    }
    const lengthHeader = request.headers['content-length'];
    if (lengthHeader === undefined) return reply.code(411).send();
    const bodyLength = Number(lengthHeader); // Node's parser has already refused a malformed one
    if (upload.busy) return reply.code(409).send({ error: 'another PATCH is running' });
    const offset = Number(offsetHeader);
    if (offset !== upload.offset) {
      return reply
        .code(409)
        .header('upload-offset', String(upload.offset))
        .send({ error: `Upload-Offset is ${upload.offset}` });
    }
    if (offset + bodyLength > upload.length) {
      return reply.code(413).send({ error: 'the body goes past Upload-Length' });
    }
    const checksum = parseChecksum(request.headers['upload-checksum']);
    if (checksum === null) return reply.code(400).send({ error: 'unsupported Upload-Checksum' });

    upload.busy = true;
    try {
      return await append(id, upload, request.raw, checksum, reply);
    } finally {
      // Also released on every early return above and on errors. On success it is released
      // before the reply is sent (in append), so the client's next PATCH never meets it.
      upload.busy = false;
    }
  });

  async function append(
    id: string,
    upload: Upload,
    body: NodeJS.ReadableStream,
    checksum: Buffer | undefined,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const start = upload.offset;
    const hash = checksum ? createHash('sha256') : undefined;
    // Writing at `start` (not appending) makes a retried PATCH overwrite a refused chunk's bytes.
    const out = createWriteStream(upload.file, { flags: 'r+', start });
    const tap = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        hash?.update(chunk);
        callback(null, chunk);
      },
    });
    let broken = false;
    try {
      // pipeline moves the bytes with backpressure: a slow disk pauses the socket.
      await pipeline(body, tap, out);
    } catch {
      broken = true; // the connection broke mid-body (or the disk failed)
    }
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    const written = out.bytesWritten;

    let status = 204;
    if (broken) {
      // Keep what arrived, unless a checksum was promised: then the chunk cannot be verified.
      if (checksum) await truncate(upload.file, start);
      else upload.offset = start + written;
      status = 400;
    } else if (hash && checksum && !hash.digest().equals(checksum)) {
      await truncate(upload.file, start);
      status = 460;
    } else {
      upload.offset = start + written;
      if (start < upload.length && upload.offset === upload.length) complete(id, upload);
    }
    upload.busy = false; // before the reply goes out
    return reply.code(status).header('upload-offset', String(upload.offset)).send();
  }

  return app;
}

/** `sha256 <base64>` → the digest; undefined when absent; null for another algorithm or a malformed value. */
function parseChecksum(header: string | string[] | undefined): Buffer | undefined | null {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') return null;
  const match = /^sha256 ([A-Za-z0-9+/]+={0,2})$/.exec(header.trim());
  if (!match) return null;
  const digest = Buffer.from(match[1]!, 'base64');
  return digest.length === 32 ? digest : null;
}

/** An HTTP answer other than the one expected. */
class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    what: string,
  ) {
    super(`${what} answered ${status}`);
  }
}

/** A network error, a 5xx, a 409 (a lock or an offset) or a 460 (the chunk arrived damaged). */
const retryable = (error: unknown): boolean =>
  !(error instanceof HttpError) ||
  error.status >= 500 ||
  error.status === 409 ||
  error.status === 460;

const backoffMs = (attempt: number): number => Math.min(100 * 2 ** (attempt - 1), 5_000);

export async function uploadFile(
  url: string,
  source: string,
  options: UploadFileOptions = {},
): Promise<{ id: string }> {
  const { chunkSize = 8 * 1024 * 1024, retries = 5, signal, onProgress } = options;
  checkCount('chunkSize', chunkSize, 1);
  checkCount('retries', retries, 0);
  signal?.throwIfAborted();

  const { size } = await stat(source);
  signal?.throwIfAborted();
  const base = url.replace(/\/+$/, '');
  const created = await send(`${base}/uploads`, {
    method: 'POST',
    headers: { 'upload-length': String(size) },
  });
  if (created.status !== 201) throw new HttpError(created.status, 'POST /uploads');
  const location = created.headers.get('location');
  if (location === null) throw new Error('POST /uploads answered 201 without a Location');
  const uploadUrl = new URL(location, `${base}/`).href;
  const id = decodeURIComponent(new URL(uploadUrl).pathname.split('/').pop() ?? '');

  let reported = -1;
  const progress = (offset: number): void => {
    if (offset > reported) {
      reported = offset;
      onProgress?.(offset, size);
    }
  };
  if (size === 0) {
    progress(0);
    return { id };
  }

  const file = await open(source, 'r');
  try {
    let offset = 0;
    let failures = 0; // consecutive failed requests; only an acknowledged PATCH resets it
    let resync = false; // after a failure, ask the server where it stands before sending again
    while (offset < size) {
      try {
        if (resync) {
          offset = await headOffset(uploadUrl);
          resync = false;
          progress(offset);
          if (offset >= size) break;
        }
        offset = await patchChunk(uploadUrl, file, offset, Math.min(chunkSize, size - offset));
        failures = 0;
        progress(offset);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        failures += 1;
        if (!retryable(error) || failures > retries) throw error;
        await sleep(backoffMs(failures), signal);
        resync = true;
      }
    }
  } finally {
    await file.close();
  }
  return { id };

  async function send(target: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(target, { ...init, signal });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
  }

  async function headOffset(target: string): Promise<number> {
    const response = await send(target, { method: 'HEAD' });
    if (response.status !== 200) throw new HttpError(response.status, 'HEAD');
    const offset = Number(response.headers.get('upload-offset'));
    if (!Number.isSafeInteger(offset) || offset < 0) throw new Error('HEAD without Upload-Offset');
    return offset;
  }

  async function patchChunk(
    target: string,
    handle: Awaited<ReturnType<typeof open>>,
    offset: number,
    length: number,
  ): Promise<number> {
    // One chunk in memory at a time: the checksum header must be known before the body is sent.
    const chunk = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(chunk, 0, length, offset);
    if (bytesRead !== length) throw new Error(`${source} changed while it was uploaded`);
    const response = await send(target, {
      method: 'PATCH',
      headers: {
        'content-type': OFFSET_TYPE,
        'upload-offset': String(offset),
        'upload-checksum': `sha256 ${createHash('sha256').update(chunk).digest('base64')}`,
      },
      body: chunk,
    });
    await response.body?.cancel();
    if (response.status !== 204) throw new HttpError(response.status, 'PATCH');
    const next = Number(response.headers.get('upload-offset'));
    return Number.isSafeInteger(next) && next >= offset ? next : offset + length;
  }
}

function checkCount(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}`);
  }
}

/** Waits `ms` on the global setTimeout; an abort ends the wait at once with `signal.reason`. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
