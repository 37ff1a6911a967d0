/**
 * chunked-upload against the production pair, @tus/server (with @tus/file-store) and
 * tus-js-client: MB/s and peak RSS uploading a generated ~200 MB file over loopback in 8 MiB
 * chunks, client and server in one process. The servers are compared with the same client
 * (tus-js-client, which speaks to both), and the clients with the same server (the reference).
 * Every run checks the stored file's size and SHA-256 against the source.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../lib/paths.ts';
import {
  peakRssMb,
  repeat,
  runIfMain,
  seededRandom,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

const MIB = 1024 * 1024;
const FILE_MIB = 200;
const CHUNK = 8 * MIB;
/** Bump when the generator changes, so a stale file is not reused. */
const VERSION = 1;
const DIR = path.join(REPO_ROOT, '.kata', 'bench');
const FILE = path.join(DIR, `upload-${FILE_MIB}mib-v${VERSION}.bin`);
const META = `${FILE}.json`;

/** Writes the file once (deterministic: seeded), then reuses it. Returns its SHA-256 in hex. */
async function generate(): Promise<string> {
  if (existsSync(FILE) && existsSync(META))
    return (JSON.parse(readFileSync(META, 'utf8')) as { sha256: string }).sha256;
  mkdirSync(DIR, { recursive: true });
  const random = seededRandom(1);
  const block = Buffer.alloc(MIB);
  for (let i = 0; i < MIB; i += 4) block.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  const hash = createHash('sha256');
  const out = createWriteStream(`${FILE}.tmp`);
  for (let i = 0; i < FILE_MIB; i += 1) {
    const copy = Buffer.from(block);
    copy.writeUInt32LE(i, 0); // every MiB differs
    hash.update(copy);
    if (!out.write(copy)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  renameSync(`${FILE}.tmp`, FILE);
  const sha256 = hash.digest('hex');
  writeFileSync(META, JSON.stringify({ sha256 }));
  return sha256;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const part of createReadStream(file)) hash.update(part as Buffer);
  return hash.digest('hex');
}

/** A server under test: its base URL and the path prefix its uploads live under. */
interface Target {
  url: string;
  endpoint: string;
  close(): Promise<void>;
}

type Serve = (directory: string) => Promise<Target>;
type Upload = (target: Target, file: string) => Promise<void>;

const serveReference: Serve = async (directory) => {
  const { createUploadServer } = await import('../../solutions/chunked-upload/index.ts');
  const app = createUploadServer({ directory, maxSize: 1024 * MIB });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    endpoint: `http://127.0.0.1:${port}/uploads`,
    close: () => app.close(),
  };
};

const serveTus: Serve = async (directory) => {
  const { Server } = await import('@tus/server');
  const { FileStore } = await import('@tus/file-store');
  const tus = new Server({ path: '/uploads', datastore: new FileStore({ directory }) });
  const server = http.createServer((request, response) => void tus.handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    endpoint: `http://127.0.0.1:${port}/uploads`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

const uploadReference: Upload = async (target, file) => {
  const { uploadFile } = await import('../../solutions/chunked-upload/index.ts');
  await uploadFile(target.url, file, { chunkSize: CHUNK });
};

const uploadTusJs: Upload = async (target, file) => {
  const tus = await import('tus-js-client');
  const { size } = await stat(file);
  await new Promise<void>((resolve, reject) => {
    // A ReadStream with a path: tus-js-client reopens the file at each chunk's offset.
    const upload = new tus.Upload(createReadStream(file), {
      endpoint: target.endpoint,
      chunkSize: CHUNK,
      uploadSize: size,
      retryDelays: [],
      onError: reject,
      onSuccess: () => resolve(),
    });
    upload.start();
  });
};

async function measure(serve: Serve, upload: Upload, settings: Settings): Promise<SubjectOutcome> {
  const expected = await generate();
  const { size } = await stat(FILE);
  const rssBefore = peakRssMb();
  const runs = await repeat(
    async () => {
      const directory = await mkdtemp(path.join(os.tmpdir(), 'bench-chunked-upload-'));
      const target = await serve(directory);
      try {
        const started = performance.now();
        await upload(target, FILE);
        const seconds = (performance.now() - started) / 1000;
        // The data file is the one as large as the source (@tus/file-store keeps a .json beside it).
        const files = await readdir(directory);
        let stored: string | undefined;
        for (const name of files) {
          if ((await stat(path.join(directory, name))).size === size)
            stored = path.join(directory, name);
        }
        if (!stored || (await sha256Of(stored)) !== expected)
          throw new Error('the stored file differs from the source');
        return seconds;
      } finally {
        await target.close();
        await rm(directory, { recursive: true, force: true });
      }
    },
    settings,
    false, // 200 MB per run: the first run's warm-up is lost in it
  );
  return {
    metrics: { mbPerSecond: runs.map((seconds) => size / MIB / seconds), peakRssMb: [peakRssMb()] },
    facts: { 'RSS before MB': Math.round(rssBefore) },
  };
}

export const suite: Suite = {
  slug: 'chunked-upload',
  title: `a ~${FILE_MIB} MB file uploaded over loopback in 8 MiB chunks, client and server in one process`,
  metrics: [
    { key: 'mbPerSecond', label: 'MB/s', better: 'higher', digits: 1 },
    { key: 'peakRssMb', label: 'peak RSS MB', better: 'lower' },
  ],
  prepare: async () => {
    await generate();
  },
  subjects: {
    reference: (settings) => measure(serveReference, uploadReference, settings),
    'tus-js-client → reference server': (settings) =>
      measure(serveReference, uploadTusJs, settings),
    'tus-js-client → @tus/server': (settings) => measure(serveTus, uploadTusJs, settings),
  },
};

runIfMain(import.meta.url, suite);
