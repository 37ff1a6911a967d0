/**
 * fast-check properties for graders. A failure names the property, shows the shrunk
 * counterexample and the seed, and says how to replay it. Runs are deterministic: the seed is
 * fixed in graders/support/setup.ts unless FC_SEED is set.
 */
import fc from 'fast-check';

/**
 * Checks `property` and, when it fails, throws an error that leads with what the property means
 * (`description`), then fast-check's report: seed, path and shrunk counterexample.
 */
export async function assertProperty<Ts extends [unknown, ...unknown[]]>(
  description: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  parameters: fc.Parameters<Ts> = {},
): Promise<void> {
  // The property's own error (a model's "step 4 diverged: …") leads the report, not just its cause.
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, {
    includeErrorInReport: true,
    ...parameters,
  });
  if (!details.failed) return;
  // Unwritten code is not a counterexample: let the stub's error through as it is.
  const error = details.errorInstance;
  if (error instanceof Error && error.name === 'NotImplementedError') throw error;
  const report = fc.defaultReportMessage(details) ?? 'property failed';
  const replay = `Replay this exact case with FC_SEED=${details.seed} (add FC_RUNS=1000 to search harder).`;
  throw new Error(`${description}\n\n${report}\n\n${replay}`, { cause: error });
}
