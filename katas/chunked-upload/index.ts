// Kata: resumable chunked upload (the core of tus 1.0). Implement both exports; see README.md. Grade: npm test -- chunked-upload
import type { FastifyInstance } from 'fastify';
import { NotImplementedError } from '../not-implemented.ts';

/** What {@link UploadServerOptions.onComplete} receives once an upload has all its bytes. */
export interface CompletedUpload {
  /** The upload's id, as in its `Location: /uploads/<id>`. */
  id: string;
  /** The file holding the upload's bytes (inside `directory`). */
  path: string;
  /** The upload's length, in bytes. */
  size: number;
}

/** Options of {@link createUploadServer}. */
export interface UploadServerOptions {
  /**
   * Where uploads are stored; created, with its parents, if missing (at the latest once
   * `await app.ready()` has resolved). No request may read, write or create a file outside it.
   * @throws {TypeError} when not a non-empty string
   */
  directory: string;
  /**
   * Largest `Upload-Length` accepted, in bytes: a `POST` above it answers 413. 0 accepts only
   * empty uploads.
   * @default 1 GiB (1_073_741_824)
   * @throws {TypeError} when not a number
   * @throws {RangeError} when not a whole number >= 0
   */
  maxSize?: number;
  /**
   * Called once per upload, when its offset reaches its length (for an empty upload, by the
   * `POST` that creates it).
   * @throws {TypeError} when given and not a function
   */
  onComplete?: (upload: CompletedUpload) => unknown;
}

/** Options of {@link uploadFile}. */
export interface UploadFileOptions {
  /**
   * Bytes per `PATCH` (the last one may be shorter). At most about this much of the file is held in
   * memory at once.
   * @default 8 MiB (8_388_608)
   * @throws {TypeError} when not a number (the promise rejects)
   * @throws {RangeError} when not a whole number >= 1 (the promise rejects)
   */
  chunkSize?: number;
  /**
   * Consecutive failed requests allowed after the first: `uploadFile` rejects after `retries + 1`
   * in a row. 0 means "never retry", not "retry for ever". Only an acknowledged `PATCH` resets
   * the count.
   * @default 5
   * @throws {TypeError} when not a number (the promise rejects)
   * @throws {RangeError} when not a whole number >= 0 (the promise rejects)
   */
  retries?: number;
  /** Aborting it ends the upload at once, waits included: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Called with the server's offset (`sent`) and the file's size (`total`), in bytes, after each
   * acknowledged `PATCH` and after a `HEAD` that advances it: never decreasing, the last call
   * `(size, size)`. An empty file reports `(0, 0)` once.
   */
  onProgress?: (sent: number, total: number) => void;
}

/**
 * Builds a Fastify app serving tus 1.0's core under `/uploads` (routes registered, not listening:
 * call `app.listen(...)` yourself):
 * - `POST /uploads`, `Upload-Length: N` → 201, `Location: /uploads/<id>` (400 for a missing or
 *   malformed length, 413 above `maxSize`);
 * - `HEAD /uploads/<id>` → 200, `Upload-Offset`, `Upload-Length`, `Cache-Control: no-store`;
 * - `PATCH /uploads/<id>` with `Content-Type: application/offset+octet-stream`, `Upload-Offset: k`,
 *   `Content-Length` and optionally `Upload-Checksum: sha256 <base64>` → 204 with the new
 *   `Upload-Offset`; refusals 404, 415, 400, 411, 409, 413, 460, checked in that order;
 * - `GET /uploads/<id>` → 200 with the bytes once complete, 409 before.
 * Unknown ids, and ids not of the server's own format, answer 404. Bodies are streamed to disk,
 * never held whole in memory.
 * @throws {TypeError} when `directory` is not a non-empty string or `onComplete` not a function
 * @throws {RangeError} when `maxSize` is not a whole number >= 0 (`TypeError` for a non-number)
 */
export function createUploadServer(options: UploadServerOptions): FastifyInstance {
  // TODO: check the options, create the directory, register the routes, return the app.
  void options;
  throw new NotImplementedError('createUploadServer');
}

/**
 * Uploads the file at `source` to the tus server at `url` (e.g. `http://127.0.0.1:3000`): creates
 * the upload (`POST <url>/uploads`, not retried), then sends the file in chunks with
 * `Upload-Checksum`, resuming from the server's offset (`HEAD`) after a network error, a 5xx, a 409
 * or a 460, with a wait of `min(100 × 2^(n−1), 5000)` ms before the n-th consecutive retry.
 * @returns the upload's id, once the server has acknowledged every byte
 * @throws {RangeError} (rejects) when `chunkSize` or `retries` is out of range (`TypeError` for a non-number)
 * @throws {Error} (rejects) for a failed `POST`, another 4xx, or `retries + 1` consecutive failures;
 *   for an HTTP failure the message names the status
 * @throws (rejects) `signal.reason` when `signal` aborts
 */
export function uploadFile(
  url: string,
  source: string,
  options: UploadFileOptions = {},
): Promise<{ id: string }> {
  // TODO: check the options, POST, then PATCH chunk by chunk; on a failure wait, HEAD, resume.
  void url;
  void source;
  void options;
  throw new NotImplementedError('uploadFile');
}
