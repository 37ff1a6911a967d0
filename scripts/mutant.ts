/**
 * Authoring mutants (for maintainers, not learners):
 *   npm run mutant -- edit <slug> <name>              copy the reference (or the mutant) out to edit
 *   npm run mutant -- save <slug> <name> "<mistake>" --breaks R4[,R7]
 *                                                     store the edit as graders/<slug>/mutants/<name>.patch
 *   npm run mutant -- test <slug> [name...]           grade mutants; each must fail at least one test
 *   npm run mutant -- rebase <slug> [--from <rev>]    carry mutants over to a changed reference
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import pc from './lib/colour.ts';
import {
  beginEdit,
  listMutants,
  materializeMutant,
  mutantSourceFile,
  rebaseMutant,
  saveMutant,
} from './lib/mutants.ts';
import { parseRuleList } from './lib/ledger.ts';
import { shown } from './lib/paths.ts';
import { requireKata } from './lib/katas.ts';

const program = new Command('mutant').description('Author and check known-wrong implementations');

program
  .command('edit <slug> <name>')
  .description('write the mutant (or, for a new one, the reference) to a scratch file to edit')
  .action((slug: string, name: string) => {
    requireKata(slug);
    console.log(
      `Edit ${shown(beginEdit(slug, name))}, then: npm run mutant -- save ${slug} ${name} "<mistake>"`,
    );
  });

program
  .command('save <slug> <name> [mistake]')
  .description(
    'save the edited scratch file as a patch headed by the rules it breaks and its one-line mistake',
  )
  .option('--breaks <rules>', "the README's rules the mistake breaks, e.g. R4 or R4,R7")
  .action(
    (slug: string, name: string, mistake: string | undefined, options: { breaks?: string }) => {
      requireKata(slug);
      const known = listMutants(slug).find((mutant) => mutant.name === name);
      const line = mistake ?? known?.mistake;
      const rules = options.breaks ? parseRuleList(options.breaks) : (known?.rules ?? []);
      if (!line || rules.length === 0)
        throw new Error(
          `a new mutant needs its mistake and the rules it breaks: npm run mutant -- save ${slug} ${name} "<mistake>" --breaks R<n>`,
        );
      console.log(`Saved ${shown(saveMutant(slug, name, line, rules))}`);
    },
  );

program
  .command('test <slug> [names...]')
  .description("run the kata's grader against its mutants, showing the first failure of each")
  .action((slug: string, names: string[]) => {
    requireKata(slug);
    const mutants = listMutants(slug).filter((m) => names.length === 0 || names.includes(m.name));
    let survivors = 0;
    for (const mutant of mutants) {
      const target = materializeMutant(mutant);
      const run = spawnSync(
        process.execPath,
        ['node_modules/vitest/vitest.mjs', 'run', `graders/${slug}`, '--bail=1', '--reporter=dot'],
        { env: { ...process.env, KATA_TARGET: target }, encoding: 'utf8', timeout: 60_000 },
      );
      const killed = run.status !== 0;
      if (!killed) survivors += 1;
      console.log(
        `${killed ? pc.green('rejected') : pc.red('SURVIVED')} ${mutant.name}: ${mutant.mistake}`,
      );
      if (killed && names.length > 0) console.log(run.stdout + run.stderr);
    }
    process.exitCode = survivors === 0 ? 0 : 1;
  });

program
  .command('rebase <slug>')
  .description(
    'after a change to the reference, merge that change into every mutant that no longer applies',
  )
  .option('--from <revision>', 'a git revision where the patches still applied', 'HEAD')
  .action((slug: string, options: { from: string }) => {
    requireKata(slug);
    let conflicts = 0;
    for (const mutant of listMutants(slug)) {
      const outcome = rebaseMutant(mutant, options.from);
      if (outcome === 'applies') continue;
      if (outcome === 'rebased') {
        console.log(`${pc.green('rebased')} ${mutant.name}`);
      } else {
        conflicts += 1;
        console.log(
          `${pc.red('conflict')} ${mutant.name}: resolve the markers in ` +
            `${shown(mutantSourceFile(slug, mutant.name))}, then: npm run mutant -- save ${slug} ${mutant.name}`,
        );
      }
    }
    console.log(`Now check them: npm run mutant -- test ${slug}`);
    process.exitCode = conflicts === 0 ? 0 : 1;
  });

program.parseAsync().catch((error: unknown) => {
  console.error(pc.red(`mutant: ${error instanceof Error ? error.message : String(error)}`));
  process.exit(2);
});
