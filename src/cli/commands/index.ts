/** Every command of the CLI, in the order `mgsd --help` lists them. */
import type { Command } from 'commander';

import { compareCommand } from './compare.js';
import { configCommand } from './config.js';
import { dataCommand } from './data.js';
import { doctorCommand } from './doctor.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { joinCommand } from './join.js';
import { reportCommand } from './report.js';
import { pretrainCommand } from './pretrain.js';
import { runCommand } from './run.js';
import { scoreCommand } from './score.js';
import { sweepCommand } from './sweep.js';

export const commands: Array<() => Command> = [runCommand, pretrainCommand, sweepCommand, compareCommand, evalCommand, exportCommand, reportCommand, dataCommand, scoreCommand, configCommand, doctorCommand, joinCommand];
