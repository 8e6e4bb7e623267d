/**
 * `mgsd compare`: mean ± sd over seeds, 95 % intervals and paired tests on the same puzzles, for
 * runs or sweep folders; writes compare.md, compare.html and compare.json into `--out`.
 */
import { Argument, Command } from 'commander';
import { z } from 'zod';

import { writeComparison } from '../../compare/write.js';
import { parseOptions } from '../parse-options.js';

const CompareOptions = z.object({
  out: z.string(),
  reference: z.string().optional(),
});

export function compareCommand(): Command {
  return new Command('compare')
    .description('compare runs (or sweep folders): mean ± sd over seeds, 95 % intervals, paired tests against a reference')
    .addArgument(new Argument('<runs...>', 'run folders (`mgsd run --out`) or sweep folders (`mgsd sweep --out`)'))
    .requiredOption('--out <dir>', 'where compare.md, compare.html and compare.json go')
    .option('--reference <model/input[@variant]>', 'the reference row (default mgsd/image of the first variant)')
    .action((runs: string[], raw) => {
      const options = parseOptions('compare', CompareOptions, raw);
      const files = writeComparison(runs, { out: options.out, reference: options.reference ?? null });
      process.stdout.write(`${files.markdown}\n${files.html}\n${files.json}\n`);
    });
}
