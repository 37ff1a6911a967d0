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

interface Upload {
  length: number;
  offset: number;
  file: string;
  /** A PATCH is running: a second one gets 409. */
  busy: boolean;
}

export function createUploadServer(options: UploadServerOptions): FastifyInstance {
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
  const app = Fastify();

  // Bodies are never parsed: the PATCH handler streams request.raw to disk itself. One catch-all
  // parser that consumes nothing also keeps Fastify from answering 415 or 400 (bad JSON) before
  // our own checks run, and is not bound by bodyLimit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  // An id is only ever looked up in this table, never joined to a path: `../b/<id>` is simply not
  // in it. The path used is the one stored when the upload was created.
  const find = (id: string): Upload | undefined => uploads.get(id);

  const complete = (id: string, upload: Upload): void => {
    // A failing callback is the caller's problem, not the client's: the upload is stored.
    if (onComplete) {
      Promise.resolve()
        .then(() => onComplete({ id, path: upload.file, size: upload.length }))
        .catch(() => undefined);
    }
  };

  app.post('/uploads', async (request, reply) => {
    const header = String(request.headers['upload-length']); // 'undefined' when missing
    if (!DIGITS.test(header)) return reply.code(400).send();
    const length = Number(header);
    if (length > maxSize) return reply.code(413).send();
    const id = randomUUID();
    const upload: Upload = { length, offset: 0, file: path.join(root, id), busy: false };
    await writeFile(upload.file, '');
    uploads.set(id, upload);
    if (length === 0) complete(id, upload);
    return reply.code(201).header('location', `/uploads/${id}`).send();
  });

  // Before the GET route: Fastify adds a HEAD for a GET only when none is declared yet.
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
    if (upload.offset < upload.length) return reply.code(409).send();
    return reply.code(200).send(createReadStream(upload.file));
  });

  app.patch<{ Params: { id: string } }>('/uploads/:id', async (request, reply) => {
    const { id } = request.params;
    const upload = find(id);
    if (!upload) return reply.code(404).send();
    if (request.headers['content-type'] !== OFFSET_TYPE) return reply.code(415).send();
    const offsetHeader = String(request.headers['upload-offset']);
    if (!DIGITS.test(offsetHeader)) return reply.code(400).send();
    const lengthHeader = request.headers['content-length'];
    if (lengthHeader === undefined) return reply.code(411).send();
    if (upload.busy) return reply.code(409).send();
    const offset = Number(offsetHeader);
    if (offset !== upload.offset) return reply.code(409).send();
    // Node's HTTP parser has already refused a malformed Content-Length.
    if (offset + Number(lengthHeader) > upload.length) return reply.code(413).send();
    let checksum: Buffer | undefined;
    const checksumHeader = request.headers['upload-checksum'];
    if (checksumHeader !== undefined) {
      // Other algorithms are left open by the contract; tus answers 400.
      const [algorithm, digest] = String(checksumHeader).split(' ');
      if (algorithm !== 'sha256' || !digest) return reply.code(400).send();
      checksum = Buffer.from(digest, 'base64');
    }

    upload.busy = true;
    try {
      return await append(id, upload, request.raw, checksum, reply);
    } finally {
      // Released on success and on errors alike, in the same tick as the reply is sent: the
      // client's next PATCH cannot be read before it.
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
    // Hashed even without a checksum to check: simpler, and SHA-256 is far faster than the socket.
    const hash = createHash('sha256');
    // Writing at `start` (not appending) makes a retried PATCH overwrite a refused chunk's bytes.
    const out = createWriteStream(upload.file, { flags: 'r+', start });
    const tap = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      // pipeline moves the bytes with backpressure: a slow disk pauses the socket.
      await pipeline(body, tap, out);
    } catch {
      // The connection broke mid-body (or the disk failed): what reached the file is kept, unless
      // the body promised a checksum, which a cut body's hash cannot meet.
    }
    // bytesWritten is final once the file is closed (a write in progress at the break finishes first).
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));

    const intact = checksum === undefined || hash.digest().equals(checksum);
    if (intact) upload.offset = start + out.bytesWritten;
    else await truncate(upload.file, start);
    if (start < upload.length && upload.offset === upload.length) complete(id, upload);
    // After a break nobody reads the answer; after a checksum mismatch it is 460.
    return reply
      .code(intact ? 204 : 460)
      .header('upload-offset', String(upload.offset))
      .send();
  }

  return app;
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
  const created = await send(`${url}/uploads`, {
    method: 'POST',
    headers: { 'upload-length': String(size) },
  });
  if (created.status !== 201) throw new HttpError(created.status, 'POST /uploads');
  // Location is a path (or a URL): resolved against the server, its last segment is the id.
  const uploadUrl = new URL(String(created.headers.get('location')), url);
  const id = uploadUrl.pathname.split('/').at(-1)!;
  if (size === 0) onProgress?.(0, 0);

  const file = await open(source, 'r');
  try {
    let offset = 0;
    let failures = 0; // consecutive failed requests; only an acknowledged PATCH resets it
    let resync = false; // after a failure, ask the server where it stands before sending again
    while (offset < size) {
      try {
        if (resync) {
          const known = await headOffset(uploadUrl);
          resync = false;
          if (known > offset) onProgress?.(known, size);
          offset = known;
        } else {
          offset = await patchChunk(uploadUrl, file, offset, Math.min(chunkSize, size - offset));
          failures = 0;
          onProgress?.(offset, size);
        }
      } catch (error) {
        // An abort makes every request fail with signal.reason, which sleep() rethrows at once.
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

  // fetch rejects with signal.reason itself when the signal aborts.
  function send(target: string | URL, init: RequestInit): Promise<Response> {
    return fetch(target, { ...init, signal });
  }

  async function headOffset(target: URL): Promise<number> {
    const response = await send(target, { method: 'HEAD' });
    if (response.status !== 200) throw new HttpError(response.status, 'HEAD');
    return Number(response.headers.get('upload-offset'));
  }

  async function patchChunk(
    target: URL,
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
    return Number(response.headers.get('upload-offset'));
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
