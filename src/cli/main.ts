/**
 * The `mgsd` command: builds the program, registers one module per command, and is the one place
 * where errors become messages and exit codes (2 for usage/config errors, 130/143/129 for a run
 * stopped by SIGINT/SIGTERM/SIGHUP, 1 otherwise).
 */
import { Command, CommanderError } from 'commander';

import { escapeForTerminal, formatError, MgsdError } from '../errors.js';
import { commands } from './commands/index.js';

const VERSION = '0.1.0';

/** Builds the commander program with every command registered. */
export function buildProgram(): Command {
  const program = new Command('mgsd')
    .description(
      'MGSD: teach a vision-language model to plan on grid puzzles it sees only as images,\n' +
        'by on-policy distillation from a frozen teacher that reads the symbolic state.',
    )
    .version(VERSION)
    .option('--verbose', 'print stack traces and causes on errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(escapeForTerminal(text)) })
    .exitOverride();
  for (const command of commands) program.addCommand(command());
  // Commands added with addCommand do not inherit these settings; apply them to the whole tree.
  // Commander echoes bad arguments in its own messages: they get the same escaping as ours.
  const configure = (command: Command): void => {
    command
      .exitOverride()
      .showHelpAfterError('(run with --help for usage)')
      .configureOutput({ outputError: (text, write) => write(escapeForTerminal(text)) });
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/**
 * Output to a closed terminal or pipe (after SIGHUP, or `mgsd … | head`) fails with EIO/EPIPE; that
 * must not crash a run that is checkpointing, so those write errors are dropped.
 */
function tolerateClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
    });
  }
}

async function main(argv: string[]): Promise<number> {
  tolerateClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed help or its own message.
      return error.exitCode === 0 ? 0 : 2;
    }
    const verbose = argv.includes('--verbose');
    process.stderr.write(`${formatError(error, verbose)}\n`);
    return error instanceof MgsdError ? error.exitCode : 1;
  }
}

process.exitCode = await main(process.argv);
