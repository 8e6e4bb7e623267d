/**
 * `mgsd export`: write a trained model of a run in its hub layout (hf: loadable by transformers'
 * `from_pretrained`; tiny: config + safetensors). See src/experiment/export-run.ts.
 */
import { Command } from 'commander';
import { z } from 'zod';

import { MODEL_STAGES } from '../../experiment/evaluate-run.js';
import { exportRun } from '../../experiment/export-run.js';
import { parseOptions } from '../parse-options.js';

const ExportOptions = z.object({ run: z.string(), model: z.string(), out: z.string() });

export function exportCommand(): Command {
  return new Command('export')
    .description("write a run's trained model in its own hub layout (hf: config.json, safetensors, tokenizer and processor files)")
    .requiredOption('--run <dir>', 'a run directory written by `mgsd run`')
    .option('--model <name|dir>', `${Object.keys(MODEL_STAGES).join(', ')}, or a checkpoint directory`, 'mgsd')
    .requiredOption('--out <dir>', 'a new directory to write (must not exist)')
    .action(async (raw) => {
      const options = parseOptions('export', ExportOptions, raw);
      const { out, files } = await exportRun(options);
      process.stdout.write(`exported ${options.model} of ${options.run} to ${out}: ${files.join(', ')}\n`);
    });
}
