/**
 * `mgsd eval`: evaluate a model of a run (base, sft, mgsd, visual-sft, grpo, or a checkpoint
 * directory) on a dataset — by default the run's test split; e.g. an imported published test set.
 */
import { Command, Option } from 'commander';
import { z } from 'zod';

import { SPLITS } from '../../data/schema.js';
import { formatSummaryTable } from '../../eval/summary-table.js';
import { EVAL_INPUTS, evaluateRun, MODEL_STAGES } from '../../experiment/evaluate-run.js';
import { stderrProgress } from '../options.js';
import { parseOptions } from '../parse-options.js';
import { MODEL } from '../../names.js';

const EvalOptions = z.object({
  run: z.string(),
  model: z.string(),
  dataset: z.string().optional(),
  split: z.enum(SPLITS),
  input: z.enum(EVAL_INPUTS),
  out: z.string().optional(),
});

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a run's model on a dataset (default: the run's own test split) and print the table")
    .requiredOption('--run <dir>', 'a run directory written by `mgsd run`')
    .option('--model <name|dir>', `${Object.keys(MODEL_STAGES).join(', ')}, or a checkpoint directory`, MODEL.mgsd)
    .option('--dataset <dir>', 'dataset directory (e.g. from `mgsd data import`); default: the run\'s dataset')
    .addOption(new Option('--split <split>', 'which split of the dataset').choices(SPLITS).default('test'))
    .addOption(
      new Option('--input <kind>', "show the puzzle as the image, as symbolic text, or as the teacher's view (symbolic text with the reference plan)")
        .choices(EVAL_INPUTS)
        .default('image'),
    )
    .option('--out <file.jsonl>', 'write every response with its grade')
    .action(async (raw) => {
      const options = parseOptions('eval', EvalOptions, raw);
      const outcome = await evaluateRun({
        run: options.run,
        model: options.model,
        dataset: options.dataset ?? null,
        split: options.split,
        input: options.input,
        out: options.out ?? null,
        progress: stderrProgress(),
      });
      process.stdout.write(`${formatSummaryTable(outcome.summary)}\n`);
    });
}
