/**
 * `mgsd run`: the whole MGSD pipeline on one config — data, (tiny) base pretraining, cold-start SFT,
 * OPSD, baselines, evaluation, report. Ctrl-C, SIGTERM and SIGHUP checkpoint and exit (130, 143,
 * 129; `stop-signals.ts`); `--resume <dir>` continues.
 */
import { Command } from 'commander';
import { z } from 'zod';

import { oodSummaryLine } from '../../eval/ood-report.js';
import { DEFAULT_PRESET } from '../../experiment/load.js';
import { startRun } from '../../experiment/run.js';
import { collect, stderrProgress } from '../options.js';
import { parseOptions } from '../parse-options.js';
import { installStopSignals, withStopSignal } from '../stop-signals.js';
import { reportToOverride } from '../tracker-option.js';

const RunOptions = z.object({
  config: z.string(),
  set: z.array(z.string()),
  out: z.string().optional(),
  resume: z.string().optional(),
  reuse: z.boolean(),
  reportTo: z.string().optional(),
});

export function runCommand(): Command {
  return new Command('run')
    .description('run the whole MGSD pipeline (data, base, cold-start SFT, OPSD, baselines, evaluation, report)')
    .option('-c, --config <preset|file>', 'preset name under configs/ or a YAML file', DEFAULT_PRESET)
    .option('--set <key.path=value>', 'override one config key (repeatable)', collect, [])
    .option('--out <dir>', 'run directory (default runs/<name>-seed<seed>)')
    .option('--resume <dir>', 'continue an interrupted run from its last complete checkpoint')
    .option('--report-to <list>', 'mirror the metrics to trackers: tensorboard,wandb,mlflow (reportTo; offline by default)')
    .option('--no-reuse', 'recompute every stage instead of reusing finished ones from the stage cache (reuse.enabled=false)')
    .action(async (raw) => {
      const options = parseOptions('run', RunOptions, raw);
      const progress = stderrProgress();
      const { stop, uninstall } = installStopSignals(progress);
      try {
        const { run, results } = await startRun({
          config: options.config,
          overrides: [...options.set, ...reportToOverride(options.reportTo)],
          out: options.out ?? null,
          resume: options.resume ?? null,
          shouldReuse: options.reuse,
          progress,
          stop,
        });
        const macro = Object.entries(results.macro).map(([key, value]) => `${key} ${(value * 100).toFixed(1)}%`);
        const ood = oodSummaryLine(results);
        process.stdout.write(`results: ${run.results}\nmacro success: ${macro.join(', ')}\n${ood === null ? '' : `${ood}\n`}`);
      } catch (error) {
        throw withStopSignal(error, stop);
      } finally {
        uninstall();
      }
    });
}
