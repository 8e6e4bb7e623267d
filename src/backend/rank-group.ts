/**
 * A worker as a group of N rank processes (DESIGN.md §4 "Scale-out", docs/scale-out.md).
 *
 * `launchRankGroup` starts N `python -m mgsd_backend` processes with `RANK`, `WORLD_SIZE`,
 * `LOCAL_RANK`, `MASTER_ADDR=127.0.0.1` and `MASTER_PORT` (a free loopback port); with a
 * `rendezvous` of M nodes, ranks 0 … N−1 of N·M at its address and port, the others started on
 * their machines by `mgsd join` (src/experiment/join.ts). The ranks meet in a gloo group, and only rank 0 connects to this client's socket and says the hello (which lists
 * every rank's pid). Each rank logs to `<name>.rank<r>.log`. The returned `RankGroupPeer` is what a
 * `WorkerHandle` drives: rank 0's socket, and every rank's process.
 *
 * Failures: the group is one unit. The first rank to exit unexpectedly ends the group: every other
 * rank is killed by PID (SIGKILL), and `exited` resolves once all are gone, with `describeExit()`
 * naming the rank that caused it, how it ended and its log (a rank that left because a peer was lost,
 * status 70, is named only when no rank ended otherwise). A rank that fails to start stops the
 * others too, with the same kind of error. A rank whose heartbeat goes silent (`spawn.ts`) stalls the
 * whole group. No rank outlives the group: `shutdown` sends `stop` (rank 0 forwards it), then
 * SIGKILLs each rank still running.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';

import { BackendError } from '../errors.js';
import type { Hello } from './headers.js';
import type { Stall } from './heartbeat.js';
import { type Interpreter, resolveInterpreter } from './interpreter.js';
import { type ExitInfo, type Frames, launchWorker, type LaunchedWorker, type LaunchOptions, type WorkerPeer } from './launch.js';
import { RANK_EXIT_CODES } from './protocol-names.js';
import { type BackendProcess, spawnBackendProcess, TOKEN_ENV } from './spawn.js';
import { stderrBlock, WorkerLog } from './worker-log.js';

/** Exit status of a rank that left because another rank died or hung (`group/context.py`). */
export const PEER_LOST_EXIT_CODE = RANK_EXIT_CODES.peer_lost;

/** Exit status of a rank refused before joining: another process already holds its rank (`group/claim.py`). */
export const RANK_TAKEN_EXIT_CODE = RANK_EXIT_CODES.rank_taken;

/** A group spanning several machines: this one starts ranks 0 … ranks−1; `mgsd join` starts the rest. */
export interface Rendezvous {
  nodes: number;
  /** This machine's address as the other nodes reach it (rank 0 hosts the rendezvous store). */
  address: string;
  port: number;
}

/** How to start a rank group: one worker's launch options, and the number of ranks. */
export interface RankGroupOptions extends LaunchOptions {
  /** Rank processes on this machine (≥ 2 on one node; one rank is then a plain `launchWorker`). */
  ranks: number;
  /** Timeout of a collective inside an op, seconds of time awake (`group/watch.py`): a rank that hangs longer fails the group. */
  collectiveTimeoutS: number;
  /** Several nodes: the group has `ranks × nodes` ranks, meeting at `address:port`. */
  rendezvous?: Rendezvous;
}

/** The variables a rank of a group reads (`group/context.py`), for rank `rank` of `world`. */
export function rankEnv(rank: number, world: number, localRank: number, address: string, port: number): Record<string, string> {
  return { RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(localRank), MASTER_ADDR: address, MASTER_PORT: String(port) };
}

/** How long a collective inside an op may wait, in seconds: at most as long as the op itself. */
export function collectiveTimeoutS(requestTimeoutMs: number): number {
  return Math.max(1, Math.ceil(requestTimeoutMs / 1000));
}

/**
 * Starts a rank > 0 of a group (this machine's, or another node's through `mgsd join`): it follows
 * rank 0's requests and never connects to the orchestrator, so its endpoint and token only satisfy
 * the worker's CLI. `env` holds the rank's variables (`rankEnv`, the collective timeout, its log).
 */
export function spawnFollowerRank(options: { name: string; interpreter: Interpreter; threads: number; env: Record<string, string>; log: WorkerLog }): BackendProcess {
  const args = ['-m', 'mgsd_backend', '--endpoint', 'ipc://rank0-only', '--threads', String(options.threads), '--parent-pid', String(process.pid)];
  return spawnBackendProcess({ name: options.name, interpreter: options.interpreter, args, extraEnv: { ...options.env, [TOKEN_ENV]: 'rank0-only' }, log: options.log });
}

interface Rank {
  rank: number;
  pid: number | undefined;
  log: WorkerLog;
  exited: Promise<ExitInfo>;
  exitInfo?: ExitInfo;
  exitOrder?: number;
  killedByUs: boolean;
  /** SIGKILL (the only signal that surely ends a stopped or wedged rank). */
  kill: () => void;
  /** Arms the rank's heartbeat watch. */
  watch: (timeoutMs: number, onStall: (stall: Stall) => void) => void;
}

/** Starts the ranks and waits for rank 0's hello; on failure every rank is stopped and the error names the rank. */
export async function launchRankGroup(options: RankGroupOptions): Promise<RankGroupPeer> {
  const nodes = options.rendezvous?.nodes ?? 1;
  if (!Number.isInteger(options.ranks) || options.ranks < (nodes > 1 ? 1 : 2)) {
    throw new BackendError('bad_ranks', `launchRankGroup (worker ${options.name}): ranks must be an integer ≥ 2, got ${options.ranks}`, {
      hint: 'Use launchWorker for a single rank.',
    });
  }
  const port = options.rendezvous?.port ?? (await freePort());
  const address = options.rendezvous?.address ?? '127.0.0.1';
  const groupEnv = (rank: number, log: string): Record<string, string> => ({
    MGSD_COLLECTIVE_TIMEOUT_S: String(options.collectiveTimeoutS),
    ...options.env, // may override the collective timeout (tests)
    ...rankEnv(rank, options.ranks * nodes, rank, address, port),
    MGSD_RANK_LOG: log,
  });
  const interpreter = resolveInterpreter(options.python);
  const followers: Rank[] = [];
  for (let rank = 1; rank < options.ranks; rank++) {
    const log = new WorkerLog(join(options.logDir, `${options.name}.rank${rank}.log`));
    const child = spawnFollowerRank({ name: `worker ${options.name} rank ${rank}`, interpreter, threads: options.threads, env: groupEnv(rank, log.path), log });
    followers.push(rankOf(rank, child, log));
  }
  const abort = new AbortController();
  void Promise.race(followers.map((f) => f.exited)).then(() => abort.abort());
  const rank0Log = join(options.logDir, `${options.name}.rank0.log`);
  try {
    const leader = await launchWorker({ ...options, logName: `${options.name}.rank0`, env: groupEnv(0, rank0Log), cancelSignal: abort.signal });
    return new RankGroupPeer(leader, followers, options.ranks * nodes);
  } catch (error) {
    const failed = followers.find((f) => f.exitInfo !== undefined); // exited on its own, before we kill
    for (const f of followers) if (f.exitInfo === undefined) f.kill();
    await Promise.all(followers.map(async (f) => {
      await f.exited;
      await f.log.close();
    }));
    if (failed === undefined) throw error;
    throw new BackendError('rank_died', `backend worker ${options.name}: rank ${failed.rank} of ${options.ranks} ${describe(failed.exitInfo!)} while the group was starting.${stderrBlock(failed.log)}`, {
      cause: error,
      context: { worker: options.name, rank: failed.rank, ...failed.exitInfo, logFile: failed.log.path },
      hint: `Read ${failed.log.path}; run \`npx mgsd doctor\` to check the Python environment.`,
    });
  }
}

/** A started rank group as one peer (see the module header). */
export class RankGroupPeer implements WorkerPeer {
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private readonly ranks: Rank[];
  private cause: Rank | undefined;
  private stopping = false;
  private exits = 0;

  constructor(
    private readonly leader: LaunchedWorker,
    followers: Rank[],
    /** Ranks of the whole group, other nodes' included (`mgsd join`). */
    private readonly worldSize: number = followers.length + 1,
  ) {
    const rank0: Rank = {
      rank: 0,
      pid: leader.pid,
      log: leader.log,
      exited: leader.exited,
      killedByUs: false,
      kill: () => leader.kill(),
      watch: (timeoutMs, onStall) => leader.watchHeartbeat(timeoutMs, onStall),
    };
    this.ranks = [rank0, ...followers];
    for (const f of followers) f.log.note(`rank ${f.rank} of ${this.worldSize}: group handshake done: pid ${f.pid} (rank 0 is pid ${leader.pid})`);
    for (const r of this.ranks) void r.exited.then((info) => this.onRankExit(r, info));
    this.exited = Promise.race(this.ranks.map((r) => r.exited)).then(async () => {
      await Promise.all(this.ranks.map((r) => r.exited));
      this.cause = this.pickCause();
      this.exitInfo = this.cause.exitInfo;
      return this.exitInfo!;
    });
  }

  get name(): string {
    return this.leader.name;
  }
  get hello(): Hello {
    return this.leader.hello;
  }
  get endpoint(): string {
    return this.leader.endpoint;
  }
  get pid(): number {
    return this.leader.pid;
  }
  /** The log of the rank that ended the group (rank 0's while it runs). */
  get log(): WorkerLog {
    return (this.cause ?? this.ranks[0]!).log;
  }
  /** Every rank's pid and log file, in rank order. */
  get rankInfo(): Array<{ rank: number; pid: number | undefined; logFile: string }> {
    return this.ranks.map((r) => ({ rank: r.rank, pid: r.pid, logFile: r.log.path }));
  }

  send(frames: Array<Uint8Array | string>): Promise<void> {
    return this.leader.send(frames);
  }
  onMessage(handler: (frames: Frames) => void): void {
    this.leader.onMessage(handler);
  }

  /** A silent heartbeat on any rank stalls the group (the handle then kills every rank). */
  watchHeartbeat(timeoutMs: number, onStall: (stall: Stall) => void): void {
    let fired = false;
    for (const r of this.ranks) {
      r.watch(timeoutMs, (stall) => {
        if (fired) return;
        fired = true;
        r.log.note(`rank ${r.rank}: no heartbeat for ${(stall.silentMs / 1000).toFixed(1)} s; the group is stopped`);
        onStall(stall);
      });
    }
  }

  /** SIGKILLs every rank now. */
  kill(): void {
    for (const r of this.ranks) if (r.exitInfo === undefined) r.kill();
  }

  describeExit(): string {
    const cause = this.cause;
    if (cause === undefined || cause.exitInfo === undefined) return 'is running';
    const others = this.ranks.length - 1;
    const what = `rank ${cause.rank} of ${this.worldSize} (pid ${cause.pid}, log ${cause.log.path}) ${describe(cause.exitInfo)}`;
    const remote = this.worldSize > this.ranks.length ? `; ranks ${this.ranks.length} … ${this.worldSize - 1} run on the other nodes (their \`mgsd join\` names the one that failed)` : '';
    if (cause.exitInfo.exitCode !== PEER_LOST_EXIT_CODE) return `${what}; the other ${others} rank(s)${remote === '' ? '' : ' here'} were stopped${remote}`;
    // Every exit was a lost peer: the ranks still running then are the ones that stopped answering.
    const running = this.ranks.filter((r) => r.killedByUs).map((r) => `rank ${r.rank} (log ${r.log.path})`);
    if (running.length === 0 && remote !== '') return `${what}${remote}`;
    return `${what}; still running, then stopped: ${running.join(', ') || 'none'} — the likely hung rank(s)${remote}`;
  }

  /** `stop` (rank 0 forwards it to every rank), then SIGKILL for any rank still running after `graceMs`. */
  async shutdown(requestStop: () => Promise<unknown>, graceMs: number): Promise<ExitInfo> {
    this.stopping = true;
    const info = await this.leader.shutdown(requestStop, graceMs);
    const running = this.ranks.filter((r) => r.exitInfo === undefined);
    const done = await Promise.race([Promise.all(running.map((r) => r.exited)), delay(graceMs).then(() => undefined)]);
    if (done === undefined) for (const r of running) if (r.exitInfo === undefined) r.kill();
    await Promise.all(this.ranks.map((r) => r.exited));
    await Promise.all(this.ranks.slice(1).map((r) => r.log.close()));
    return info;
  }

  private onRankExit(rank: Rank, info: ExitInfo): void {
    rank.exitInfo ??= info;
    rank.exitOrder = this.exits++;
    if (this.stopping) return;
    rank.log.note(`rank ${rank.rank} ${describe(info)}`);
    for (const other of this.ranks) {
      if (other.exitInfo !== undefined || other.killedByUs) continue;
      other.killedByUs = true;
      other.log.note(`rank ${rank.rank} ${describe(info)}; killing rank ${other.rank} (pid ${other.pid}) so the group stops as one`);
      other.kill();
    }
  }

  /** The rank that ended the group: the first to exit on its own, not one that left because a peer was lost. */
  private pickCause(): Rank {
    const byOrder = [...this.ranks].sort((a, b) => (a.exitOrder ?? 0) - (b.exitOrder ?? 0));
    const own = byOrder.filter((r) => !r.killedByUs && r.exitInfo?.exitCode !== PEER_LOST_EXIT_CODE);
    return own[0] ?? byOrder[0]!;
  }
}

function rankOf(rank: number, child: BackendProcess, log: WorkerLog): Rank {
  const r: Rank = {
    rank,
    pid: child.pid,
    log,
    exited: child.exited,
    killedByUs: false,
    kill: () => child.kill(),
    watch: (timeoutMs, onStall) => child.heartbeat.arm(timeoutMs, onStall),
  };
  void child.exited.then((info) => (r.exitInfo ??= info));
  return r;
}

/** "was killed by SIGKILL", "exited with code 1", or, for status 70, why it left. */
function describe(info: ExitInfo): string {
  if (info.signal) return `was killed by ${info.signal}`;
  if (info.exitCode === PEER_LOST_EXIT_CODE) return `exited with code ${PEER_LOST_EXIT_CODE} (a collective failed: another rank died, or hung longer than the collective timeout, backend.requestTimeoutMs)`;
  if (info.exitCode === RANK_TAKEN_EXIT_CODE) return `exited with code ${RANK_TAKEN_EXIT_CODE} (another process already holds its rank at the rendezvous: does another run use the same backend.rendezvous.port?)`;
  return `exited with code ${info.exitCode}`;
}

/** A free TCP port on the loopback interface, for the group's rendezvous (rank 0 listens on it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
