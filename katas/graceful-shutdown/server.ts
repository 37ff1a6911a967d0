// Given, not part of the kata: runs your createApp as a real server. `npx tsx katas/graceful-shutdown/server.ts`
import { createApp } from './index.ts';

/** A duration from the environment: unset or empty means "use createApp's default". */
function envMs(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return Number(raw); // createApp rejects anything out of range, naming its option
}

const port = Number(process.env.PORT || 3000);
const { app } = createApp({
  timeoutMs: envMs('SHUTDOWN_TIMEOUT_MS'),
  drainDelayMs: envMs('DRAIN_DELAY_MS'),
});

await app.listen({ host: '127.0.0.1', port });
const address = app.server.address();
console.log(`listening ${typeof address === 'object' && address !== null ? address.port : port}`);
