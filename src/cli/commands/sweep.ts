/**
 * `mgsd sweep`: a grid × seeds of ordinary runs under `--out`, sharing stages through the stage
 * cache, resumable by rerunning the same command, then compared (compare.md/html/json in `--out`).
 */
import { Command } from 'commander';
import { z } from 'zod';

import { DEFAULT_PRESET } from '../../experiment/load.js';
import { parseGridAxis, runSweep } from '../../experiment/sweep.js';
import { readSweepFile } from '../../experiment/sweep-file.js';
import { UsageError } from '../../errors.js';
import { collect, stderrProgress } from '../options.js';
import { parseOptions } from '../parse-options.js';
import { installStopSignals, withStopSignal } from '../stop-signals.js';
import { reportToOverride } from '../tracker-option.js';

const SweepOptions = z.object({
  config: z.string(),
  set: z.array(z.string()),
  grid: z.array(z.string()),
  seeds: z.string().regex(/^\d+(,\d+)*$/, 'expected comma-separated seeds such as 0,1,2').optional(),
  file: z.string().optional(),
  out: z.string(),
  reference: z.string().optional(),
  reuse: z.boolean(),
  reportTo: z.string().optional(),
});

export function sweepCommand(): Command {
  return new Command('sweep')
    .description('run a grid (or a sweep file\'s named variants) × seeds of runs (resumable as a whole, stages shared through the cache), then compare them')
    .option('-c, --config <preset|file>', 'preset name under configs/ or a YAML file', DEFAULT_PRESET)
    .option('--set <key.path=value>', 'override one config key for every run (repeatable)', collect, [])
    .option('--grid <key.path=v1,v2>', 'one grid axis: a config key and its values (repeatable; runs are the product)', collect, [])
    .option('--seeds <list>', 'training seeds, comma-separated (the puzzles stay those of data.seed; default 0, or the sweep file\'s)')
    .option('--file <sweep.yaml>', 'a sweep file: named variants, each a list of --set overrides, × its seeds (docs/experiments.md)')
    .requiredOption('--out <dir>', 'the sweep folder (rerun the same command to continue it)')
    .option('--reference <model/input[@variant]>', 'the comparison reference (default mgsd/image of the first variant)')
    .option('--report-to <list>', 'mirror the metrics to trackers: tensorboard,wandb,mlflow (reportTo; offline by default)')
    .option('--no-reuse', 'recompute every stage instead of reusing finished ones (reuse.enabled=false)')
    .action(async (raw, command: Command) => {
      const options = parseOptions('sweep', SweepOptions, raw);
      const file = options.file === undefined ? null : readSweepFile(options.file);
      if (file !== null && command.getOptionValueSource('config') === 'cli' && options.config !== file.config) {
        throw new UsageError('sweep_config_twice', `--config ${options.config} and the sweep file's config ${file.config} disagree`, {
          hint: 'Drop --config: a sweep file names its own preset.',
        });
      }
      const seedsText = options.seeds ?? (file === null ? '0' : file.seeds.join(','));
      const progress = stderrProgress();
      const { stop, uninstall } = installStopSignals(progress);
      try {
        const files = await runSweep({
          config: file?.config ?? options.config,
          overrides: [...(file?.set ?? []), ...options.set, ...reportToOverride(options.reportTo)],
          grid: options.grid.map(parseGridAxis),
          variants: file?.variants ?? null,
          commandLine: ['npx', 'mgsd', ...process.argv.slice(2)].map(shellWord).join(' '),
          seeds: seedsText.split(',').map(Number),
          out: options.out,
          reference: options.reference ?? file?.reference ?? null,
          shouldReuse: options.reuse,
          progress,
          stop,
        });
        process.stdout.write(`${files.markdown}\n${files.html}\n${files.json}\n`);
      } catch (error) {
        throw withStopSignal(error, stop);
      } finally {
        uninstall();
      }
    });
}

/** A word of a shell command line, quoted when it needs to be. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
