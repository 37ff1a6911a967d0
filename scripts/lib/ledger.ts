/**
 * The rules ledger (../shared/KATA_STANDARD.md, "Every rule is graded"): every rule a kata's README
 * states carries a label, `**R4**`; every grader test names the labels it checks in its title,
 * `[R4]` or `[R4, R7]`; every label is broken by at least one mutant whose patch opens with
 * `# breaks R4: <the mistake>`, and the grader rejects that mutant. This module reads the three
 * and says what is missing. It knows nothing of how grading runs: verify hands it the results.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KATAS_DIR } from './paths.ts';

/** A rule's label, `R` and a number: `R1`, `R12`. */
const LABEL = /^R[1-9]\d*$/;
/** A label defined in a README: written in bold, `**R4**` (a trailing full stop inside is allowed: `**R4.**`). */
const DEFINITION = /\*\*(R[1-9]\d*)\.?\*\*/g;
/** Labels named in a test's title: `[R4]`, `[R4, R7]`. */
const NAMED = /\[(R[1-9]\d*(?:\s*,\s*R[1-9]\d*)*)\]/g;

export const readmeFile = (slug: string): string => path.join(KATAS_DIR, slug, 'README.md');

/** The labels a README defines, in order of first appearance, and any label defined twice. */
export function rulesDefined(markdown: string): { labels: string[]; duplicates: string[] } {
  const labels: string[] = [];
  const duplicates: string[] = [];
  for (const match of markdown.matchAll(DEFINITION)) {
    const label = match[1]!;
    if (labels.includes(label)) duplicates.push(label);
    else labels.push(label);
  }
  return { labels, duplicates };
}

/** The labels a test title names (`"… [R4, R7]"` → `['R4', 'R7']`). */
export function rulesNamed(title: string): string[] {
  const labels: string[] = [];
  for (const match of title.matchAll(NAMED)) {
    for (const label of match[1]!.split(',')) labels.push(label.trim());
  }
  return labels;
}

/**
 * A mutant's header line, `# breaks R4, R7: <the mistake>`: the rules it breaks and the mistake.
 * Undefined when the line is not of that form.
 */
export function parseBreaksLine(line: string): { rules: string[]; mistake: string } | undefined {
  const match = /^# breaks (R[1-9]\d*(?:\s*,\s*R[1-9]\d*)*):\s*(\S.*)$/.exec(line.trim());
  if (!match) return undefined;
  return { rules: match[1]!.split(',').map((label) => label.trim()), mistake: match[2]!.trim() };
}

/** `R4,R7` or `R4, R7` as given on a command line, checked. */
export function parseRuleList(text: string): string[] {
  const labels = text
    .split(',')
    .map((label) => label.trim())
    .filter((label) => label !== '');
  const bad = labels.filter((label) => !LABEL.test(label));
  if (labels.length === 0 || bad.length > 0) {
    throw new Error(
      `rules are labels like R4, separated by commas (e.g. --breaks R4,R7); got "${text}"`,
    );
  }
  return labels;
}

export interface LedgerInput {
  /** The kata README's text. */
  readme: string;
  /** Every grader test, by its full title (stage, describe blocks and name). */
  tests: string[];
  /** Every mutant: the rules its header names, and whether the grader rejected it. */
  mutants: Array<{ name: string; rules: string[]; rejected: boolean }>;
}

export interface Ledger {
  /** Labels the README defines, in order. */
  rules: string[];
  /** Labels both named by a test and broken by a rejected mutant. */
  graded: string[];
  /** What keeps a rule from being graded, or a name that points nowhere; empty when all is well. */
  shortfalls: string[];
}

/** Checks the ledger: every rule tested and broken by a rejected mutant, every name known. */
export function checkLedger({ readme, tests, mutants }: LedgerInput): Ledger {
  const { labels: rules, duplicates } = rulesDefined(readme);
  const known = new Set(rules);
  const shortfalls: string[] = [];
  if (rules.length === 0) {
    shortfalls.push('the README labels no rules: mark each rule with **R1**, **R2**, …');
  }
  for (const label of duplicates) shortfalls.push(`the README defines ${label} twice`);

  const testsByRule = new Map<string, number>();
  const unlabelled: string[] = [];
  for (const title of tests) {
    const named = rulesNamed(title);
    if (named.length === 0) unlabelled.push(title);
    for (const label of named) {
      if (!known.has(label))
        shortfalls.push(`test names ${label}, which the README does not define: ${title}`);
      testsByRule.set(label, (testsByRule.get(label) ?? 0) + 1);
    }
  }
  if (unlabelled.length > 0) {
    shortfalls.push(
      `${unlabelled.length} test${unlabelled.length === 1 ? ' names' : 's name'} no rule (add [R<n>] to the title): ` +
        unlabelled.slice(0, 5).join('; ') +
        (unlabelled.length > 5 ? '; …' : ''),
    );
  }

  const brokenBy = new Map<string, string[]>();
  for (const mutant of mutants) {
    if (mutant.rules.length === 0) {
      shortfalls.push(
        `mutant ${mutant.name} names no rule: its first line must be "# breaks R<n>: <the mistake>"`,
      );
    }
    for (const label of mutant.rules) {
      if (!known.has(label)) {
        shortfalls.push(`mutant ${mutant.name} breaks ${label}, which the README does not define`);
      }
      if (mutant.rejected) brokenBy.set(label, [...(brokenBy.get(label) ?? []), mutant.name]);
    }
  }

  const graded: string[] = [];
  for (const label of rules) {
    const tested = testsByRule.has(label);
    const broken = brokenBy.has(label);
    if (tested && broken) graded.push(label);
    else if (!tested && !broken)
      shortfalls.push(`${label} is neither tested nor broken by a rejected mutant`);
    else if (!tested) shortfalls.push(`${label} is named by no test`);
    else shortfalls.push(`${label} is broken by no rejected mutant`);
  }
  return { rules, graded, shortfalls };
}

export const readReadme = (slug: string): string => readFileSync(readmeFile(slug), 'utf8');
