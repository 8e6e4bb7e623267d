/**
 * `mgsd join`: start this node's ranks of a multi-node group and wait until node 0's command stops
 * them (src/experiment/join.ts; docs/scale-out.md, "Multi-node"). Ctrl-C, SIGTERM or SIGHUP kill
 * this node's ranks; node 0's run then stops with a resume hint.
 */
import { Command } from 'commander';
import { z } from 'zod';

import { SIGNAL_EXIT_CODES, type StopSignal } from '../../errors.js';
import { joinGroup } from '../../experiment/join.js';
import { DEFAULT_PRESET, loadConfig } from '../../experiment/load.js';
import { collect, stderrProgress } from '../options.js';
import { parseOptions } from '../parse-options.js';

const JoinOptions = z.object({ config: z.string(), set: z.array(z.string()), nodeRank: z.coerce.number().int(), logDir: z.string() });

export function joinCommand(): Command {
  return new Command('join')
    .description("start this node's ranks of a group that spans several machines (node 0 runs `mgsd run` with backend.rendezvous.nodes > 1)")
    .option('-c, --config <preset|file>', "the same preset or YAML file as node 0's command", DEFAULT_PRESET)
    .option('--set <key.path=value>', "the same overrides as node 0's command (repeatable)", collect, [])
    .requiredOption('--node-rank <k>', 'this node, 1 … backend.rendezvous.nodes − 1')
    .option('--log-dir <dir>', "where this node's rank logs go", 'logs')
    .action(async (raw) => {
      const options = parseOptions('join', JoinOptions, raw);
      const { config } = loadConfig(options.config, options.set);
      const progress = stderrProgress();
      const stop = new AbortController();
      const signals = Object.keys(SIGNAL_EXIT_CODES) as StopSignal[];
      const onSignal = (signal: StopSignal): void => {
        progress.note(`[join] ${signal}: stopping this node's ranks`);
        stop.abort();
      };
      for (const signal of signals) process.on(signal, onSignal);
      try {
        const node = await joinGroup(config, options.nodeRank, options.logDir, (line) => progress.note(line), stop.signal);
        process.stdout.write(`node ${options.nodeRank}: ranks ${node.ranks.join(', ')} stopped with the group; logs: ${node.logs.join(', ')}\n`);
      } finally {
        for (const signal of signals) process.off(signal, onSignal);
      }
    });
}
