/**
 * `mgsd join`: one node's ranks of a group that spans several machines (docs/scale-out.md,
 * "Multi-node").
 *
 * Node 0 runs the command (`mgsd run`, …) with `backend.rendezvous.nodes` = M: its launcher starts
 * ranks 0 … N−1 of N·M, and rank 0 hosts the rendezvous at `address:port` and talks to the
 * orchestrator. Node k (1 ≤ k < M) runs `mgsd join --node-rank k` with the same config: it starts
 * ranks k·N … k·N+N−1 here with the variables node 0's ranks get, and waits. They follow rank 0's
 * requests until it sends `stop`, then exit 0. When a rank fails (or the node is interrupted),
 * the others here are killed and the command fails naming the rank and its log; the ranks of the
 * other nodes then fail their next collective, and node 0's run stops with a resume hint. A rank
 * that another process already holds (this join started twice) is refused before it joins
 * (`group/claim.py`, status 71): this command fails at once and the group carries on.
 */
import { join as joinPath } from 'node:path';

import { resolveInterpreter } from '../backend/interpreter.js';
import { collectiveTimeoutS, PEER_LOST_EXIT_CODE, RANK_TAKEN_EXIT_CODE, rankEnv, spawnFollowerRank } from '../backend/rank-group.js';
import type { BackendProcess } from '../backend/spawn.js';
import { stderrBlock, WorkerLog } from '../backend/worker-log.js';
import { BackendError, ConfigError } from '../errors.js';
import type { ExperimentConfig } from './config.js';
import { ranksOf } from './models.js';

/** One node's share of the group, as `mgsd join` reports it. */
export interface JoinedNode {
  ranks: number[];
  logs: string[];
}

/** Starts this node's ranks and waits until the group stops them; throws when one fails. */
export async function joinGroup(config: ExperimentConfig, nodeRank: number, logDir: string, note: (line: string) => void, stop: AbortSignal): Promise<JoinedNode> {
  const { nodes, address, port } = config.backend.rendezvous;
  if (nodes <= 1 || port === null) {
    throw new ConfigError('join_single_node', 'backend.rendezvous.nodes is 1: there is no other node to join', {
      hint: 'Give the same -c and --set as the run on node 0, including backend.rendezvous.nodes, address and port.',
    });
  }
  if (!Number.isInteger(nodeRank) || nodeRank < 1 || nodeRank >= nodes) {
    throw new ConfigError('join_node_rank', `--node-rank ${nodeRank} is outside 1 … ${nodes - 1} (node 0 runs the orchestrator)`, {
      hint: `Number the other nodes 1 … ${nodes - 1}, each once.`,
    });
  }
  const perNode = ranksOf(config);
  const world = perNode * nodes;
  const interpreter = resolveInterpreter(config.backend.python);
  const started: Array<{ rank: number; process: BackendProcess; log: WorkerLog }> = [];
  for (let local = 0; local < perNode; local++) {
    const rank = nodeRank * perNode + local;
    const log = new WorkerLog(joinPath(logDir, `node${nodeRank}.rank${rank}.log`));
    const env = {
      MGSD_COLLECTIVE_TIMEOUT_S: String(collectiveTimeoutS(config.backend.requestTimeoutMs)),
      ...rankEnv(rank, world, local, address, port),
      MGSD_RANK_LOG: log.path,
    };
    started.push({ rank, process: spawnFollowerRank({ name: `rank ${rank} of ${world}`, interpreter, threads: config.backend.threadsPerWorker, env, log }), log });
  }
  note(`[join] node ${nodeRank} of ${nodes}: ranks ${started[0]!.rank} … ${started.at(-1)!.rank} of ${world} started, meeting rank 0 at ${address}:${port}`);
  const killAll = () => started.forEach((s) => s.process.kill());
  stop.addEventListener('abort', killAll, { once: true });
  try {
    const failure = await firstFailure(started);
    if (failure !== null) {
      killAll();
      await Promise.all(started.map((s) => s.process.exited));
      if (!stop.aborted && failure.process.exitInfo?.exitCode === RANK_TAKEN_EXIT_CODE) throw rankTaken(nodeRank, world, `${address}:${port}`, failure);
      const why = stop.aborted ? 'was stopped (this node was interrupted)' : failure.process.describeExit();
      const peerLost = failure.process.exitInfo?.exitCode === PEER_LOST_EXIT_CODE ? ' (a collective failed: a rank on another node died or hung)' : '';
      throw new BackendError('join_rank_failed', `node ${nodeRank}: rank ${failure.rank} of ${world} ${why}${peerLost}.${stderrBlock(failure.log)}`, {
        context: { rank: failure.rank, logFile: failure.log.path },
        hint: `Read ${failure.log.path}. Node 0's run stops too; continue it with \`npx mgsd run --resume <run>\` once every node has joined again.`,
      });
    }
    return { ranks: started.map((s) => s.rank), logs: started.map((s) => s.log.path) };
  } finally {
    stop.removeEventListener('abort', killAll);
    await Promise.all(started.map((s) => s.log.close()));
  }
}

/** The refusal of a rank that another process holds: the group is untouched, only this join stops. */
function rankTaken(nodeRank: number, world: number, rendezvous: string, failure: { rank: number; log: WorkerLog }): BackendError {
  return new BackendError('join_rank_taken', `node ${nodeRank}: rank ${failure.rank} of ${world} is already held by another process at the rendezvous ${rendezvous}: is \`mgsd join --node-rank ${nodeRank}\` running twice? This join stopped its ranks before they joined; the group and the join that holds the rank carry on.${stderrBlock(failure.log)}`, {
    context: { rank: failure.rank, logFile: failure.log.path },
    hint: `Stop the extra \`mgsd join --node-rank ${nodeRank}\` (the log lines above name the holder's pid and host). If the earlier join was stopped before the group formed, its claim remains: restart node 0's run, then join again.`,
  });
}

/** The first rank to exit with a failure, or null once every rank has exited cleanly (status 0). */
async function firstFailure<T extends { process: BackendProcess }>(ranks: readonly T[]): Promise<T | null> {
  const pending = new Set(ranks);
  while (pending.size > 0) {
    const done = await Promise.race([...pending].map((r) => r.process.exited.then(() => r)));
    pending.delete(done);
    const info = done.process.exitInfo!;
    if (info.signal || info.exitCode !== 0) return done;
  }
  return null;
}
