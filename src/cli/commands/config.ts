/** `mgsd config`: print a preset fully resolved (defaults filled, overrides applied). */
import { Command } from 'commander';
import { z } from 'zod';

import { DEFAULT_PRESET, listPresets, loadConfig } from '../../experiment/load.js';
import { collect } from '../options.js';

const OptionsSchema = z.object({
  config: z.string(),
  set: z.array(z.string()),
  list: z.boolean().optional(),
});

export function configCommand(): Command {
  return new Command('config')
    .description('print an experiment config with every default filled in')
    .option('-c, --config <preset|file>', 'preset name under configs/ or a YAML file', DEFAULT_PRESET)
    .option('--set <key.path=value>', 'override one key (repeatable)', collect, [])
    .option('--list', 'list the bundled presets')
    .action((raw) => {
      const options = OptionsSchema.parse(raw);
      if (options.list) {
        process.stdout.write(`${listPresets().join('\n')}\n`);
        return;
      }
      const { config } = loadConfig(options.config, options.set);
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    });
}
