/** Every command of the CLI, in the order `mgsd --help` lists them. */
import type { Command } from 'commander';

import { configCommand } from './config.js';

export const commands: Array<() => Command> = [configCommand];
