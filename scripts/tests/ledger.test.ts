/**
 * The rules ledger verify checks: every rule a README labels is named by a test and broken by a
 * rejected mutant; every label named exists; every test names a rule.
 */
import { describe, expect, it } from 'vitest';
import {
  checkLedger,
  parseBreaksLine,
  parseRuleList,
  rulesDefined,
  rulesNamed,
} from '../lib/ledger.ts';

const readme = `
Rules:

- **R1** Refill is continuous.
- **R2.** Waiters are served first-in, first-out.

## Limits

- **R3** At most one timer per bucket (see R1).
`;

const tests = [
  'stage 1: a bucket › refills continuously [R1]',
  'stage 2: take › serves waiters in order [R2, R3]',
];
const mutants = [
  { name: 'refill-in-steps', rules: ['R1'], rejected: true },
  { name: 'lifo', rules: ['R2'], rejected: true },
  { name: 'timer-per-waiter', rules: ['R3'], rejected: true },
];

describe('the rules ledger', () => {
  it('reads bold labels as definitions and plain mentions as nothing', () => {
    expect(rulesDefined(readme)).toEqual({ labels: ['R1', 'R2', 'R3'], duplicates: [] });
    expect(rulesDefined('**R1** a\n**R1** b').duplicates).toEqual(['R1']);
  });

  it('reads the labels a test title names, in one bracket or several', () => {
    expect(rulesNamed('does a thing [R4]')).toEqual(['R4']);
    expect(rulesNamed('does [R4, R12] and [R7]')).toEqual(['R4', 'R12', 'R7']);
    expect(rulesNamed('mentions R4 without brackets')).toEqual([]);
  });

  it("reads a mutant's header and refuses anything else", () => {
    expect(parseBreaksLine('# breaks R4, R7: the timer is never cleared')).toEqual({
      rules: ['R4', 'R7'],
      mistake: 'the timer is never cleared',
    });
    expect(parseBreaksLine('# Mistake: old style')).toBeUndefined();
    expect(parseBreaksLine('# breaks: no rule')).toBeUndefined();
    expect(parseRuleList('R4,R7')).toEqual(['R4', 'R7']);
    expect(() => parseRuleList('4')).toThrow(/labels like R4/);
  });

  it('grades every rule when each is tested and broken by a rejected mutant', () => {
    expect(checkLedger({ readme, tests, mutants })).toEqual({
      rules: ['R1', 'R2', 'R3'],
      graded: ['R1', 'R2', 'R3'],
      shortfalls: [],
    });
  });

  it('names a rule no test checks, and one no rejected mutant breaks', () => {
    const ledger = checkLedger({
      readme,
      tests: tests.slice(1),
      mutants: [
        ...mutants.slice(0, 2),
        { name: 'timer-per-waiter', rules: ['R3'], rejected: false },
      ],
    });
    expect(ledger.graded).toEqual(['R2']);
    expect(ledger.shortfalls).toEqual([
      'R1 is named by no test',
      'R3 is broken by no rejected mutant',
    ]);
  });

  it('names unknown labels, tests without a rule, and mutants without one', () => {
    const ledger = checkLedger({
      readme,
      tests: [...tests, 'stage 1: a bucket › checks R9 [R9]', 'stage 1: a bucket › says nothing'],
      mutants: [
        ...mutants,
        { name: 'stray', rules: ['R8'], rejected: true },
        { name: 'old', rules: [], rejected: true },
      ],
    });
    expect(ledger.shortfalls).toEqual([
      'test names R9, which the README does not define: stage 1: a bucket › checks R9 [R9]',
      '1 test names no rule (add [R<n>] to the title): stage 1: a bucket › says nothing',
      'mutant stray breaks R8, which the README does not define',
      'mutant old names no rule: its first line must be "# breaks R<n>: <the mistake>"',
    ]);
  });

  it('asks for labels when a README has none', () => {
    expect(checkLedger({ readme: 'no rules here', tests: [], mutants: [] }).shortfalls).toEqual([
      'the README labels no rules: mark each rule with **R1**, **R2**, …',
    ]);
  });
});
