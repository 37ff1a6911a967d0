import { gradeKata } from './lib/run-grader.ts';
import { renderScoreboard } from './lib/scoreboard.ts';
const target = process.argv[2] ?? 'katas';
const r = await gradeKata({
  slug: 'zz-probe',
  target,
  timeoutMs: Number(process.argv[3] ?? 30000),
});
console.log(renderScoreboard([r]));
console.log(
  JSON.stringify({
    status: r.status,
    problem: r.problem,
    passed: r.passed,
    total: r.total,
    ms: r.durationMs,
  }),
);
