/**
 * `mgsd pretrain`: train the tiny base (text-only planning, the stand-in for a public pretrained
 * VLM) from a recipe, evaluate it, and write it with a model card to `--out`, the directory a
 * config's `model.path` loads. `--measure <dir>` re-measures a written base on its recipe's test
 * split. See src/experiment/pretrain.ts.
 */
import { Command } from 'commander';
import { z } from 'zod';

import { UsageError } from '../../errors.js';
import { formatSummaryTable } from '../../eval/summary-table.js';
import { measureBase } from '../../experiment/measure-base.js';
import { DEFAULT_RECIPE, startPretrain } from '../../experiment/pretrain.js';
import { BASE_INPUTS } from '../../experiment/pretrain-stage.js';
import { collect, stderrProgress } from '../options.js';
import { parseOptions } from '../parse-options.js';
import { installStopSignals, withStopSignal } from '../stop-signals.js';

const PretrainOptions = z.object({
  config: z.string(),
  set: z.array(z.string()),
  out: z.string().optional(),
  run: z.string().optional(),
  resume: z.boolean(),
  force: z.boolean(),
  measure: z.string().optional(),
});

export function pretrainCommand(): Command {
  return new Command('pretrain')
    .description('train the tiny base model (text-only planning) from a recipe, evaluate it, and write it with a model card')
    .option('-c, --config <preset|file>', 'the recipe: a preset name under configs/ or a YAML file', DEFAULT_RECIPE)
    .option('--set <key.path=value>', 'override one config key (repeatable)', collect, [])
    .option('--out <dir>', 'the base directory to write (model files, README.md, card.json); required unless --measure')
    .option('--run <dir>', 'the working run directory (default runs/pretrain-<name>-seed<seed>)')
    .option('--resume', 'continue the interrupted pretrain in --run (or the default run directory)', false)
    .option('--force', 'replace --out when it holds a base that mgsd pretrain wrote', false)
    .option('--measure <dir>', 're-measure a written base on its recipe\'s test split and compare with its card')
    .action(async (raw) => {
      const options = parseOptions('pretrain', PretrainOptions, raw);
      const progress = stderrProgress();
      if (options.measure !== undefined) {
        const measured = await measureBase({ dir: options.measure, progress });
        for (const line of measured.lines) process.stdout.write(`${line}\n`);
        for (const input of BASE_INPUTS) process.stdout.write(`\n${input}:\n${formatSummaryTable(measured.summaries[input])}\n`);
        return;
      }
      if (options.out === undefined) {
        throw new UsageError('missing_out', 'mgsd pretrain: --out <dir> is required (the base directory to write)', { hint: 'Example: mgsd pretrain --out models/tiny-base' });
      }
      const { stop, uninstall } = installStopSignals(progress);
      try {
        const { out, card } = await startPretrain({ ...options, out: options.out, overrides: options.set, run: options.run ?? null, progress, stop });
        const { text, teacher } = card.metrics;
        process.stdout.write(`base: ${out}\ntext-only macro success ${(text.macroSuccess * 100).toFixed(1)}%, teacher view ${(teacher.macroSuccess * 100).toFixed(1)}%\n`);
      } catch (error) {
        throw withStopSignal(error, stop);
      } finally {
        uninstall();
      }
    });
}
