/**
 * Spawning one Python process of the backend — a worker, or one rank of a worker group — with its
 * log, its heartbeat pipe and its secrets kept out of argv.
 *
 * Invariants:
 * - Secrets (the launch token) travel in the environment (`extraEnv`), never on the command line:
 *   /proc/<pid>/cmdline is readable by every local user, /proc/<pid>/environ only by the owner.
 *   The Python side removes the token from its environment once read, so its children never see it.
 * - fd 3 of the child is the write end of a heartbeat pipe (`MGSD_HEARTBEAT_FD=3`); the
 *   `HeartbeatMonitor` reads the other end. A process that stops beating is killed with SIGKILL,
 *   which also ends a SIGSTOPped process (SIGTERM would stay pending until SIGCONT).
 * - Every kill is SIGKILL (`killSignal`), including execa's `cleanup` when Node exits first, so no
 *   stopped child survives its parent. Workers ignore SIGINT/SIGTERM/SIGHUP themselves: their
 *   client decides how a run stops (checkpoint first), then stops them.
 * - stdout and stderr go to the log; `exited` always resolves (never rejects) once the child is
 *   reaped.
 */
import { execa } from 'execa';

import { HEARTBEAT_INTERVAL_MS, HeartbeatMonitor } from './heartbeat.js';
import { type Interpreter, PROJECT_ROOT, workerEnv } from './interpreter.js';
import type { WorkerLog } from './worker-log.js';

/** Environment variable carrying the launch token (read and removed by `mgsd_backend.__main__`). */
export const TOKEN_ENV = 'MGSD_WORKER_TOKEN';
/** Environment variables of the heartbeat: the pipe's fd in the child, and the beat interval. */
export const HEARTBEAT_FD_ENV = 'MGSD_HEARTBEAT_FD';
export const HEARTBEAT_INTERVAL_ENV = 'MGSD_HEARTBEAT_INTERVAL_MS';
/** The child's fd of the heartbeat pipe (stdio index 3). */
const HEARTBEAT_FD = 3;

/** How a backend process ended. */
export interface ExitInfo {
  exitCode: number | undefined;
  signal: string | undefined;
}

/** What `spawnBackendProcess` needs. */
export interface SpawnOptions {
  /** Name in log notes (`student`, `student rank 1`…). */
  name: string;
  interpreter: Interpreter;
  /** Arguments after the interpreter (e.g. `-m mgsd_backend --endpoint …`): nothing secret. */
  args: string[];
  /** Extra environment (secrets such as the token, RANK/WORLD_SIZE…). */
  extraEnv?: Record<string, string>;
  log: WorkerLog;
}

/** A spawned backend process: its pid, its heartbeat, how it ended. */
export class BackendProcess {
  readonly heartbeat: HeartbeatMonitor;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;

  constructor(private readonly subprocess: Subprocess) {
    this.heartbeat = new HeartbeatMonitor(subprocess.pid ?? -1, subprocess.stdio[HEARTBEAT_FD]);
    this.exited = subprocess.then(
      (result) => (this.exitInfo = { exitCode: result.exitCode, signal: result.signal }),
      (error: { exitCode?: number; signal?: string }) => (this.exitInfo = { exitCode: error.exitCode, signal: error.signal }),
    );
    void this.exited.then(() => this.heartbeat.stop());
  }

  /** The OS pid (undefined only when the spawn itself failed; `exited` then resolves at once). */
  get pid(): number | undefined {
    return this.subprocess.pid;
  }

  /** SIGKILL, the only signal that ends a stopped or wedged process for sure. */
  kill(): void {
    if (this.exitInfo === undefined) this.subprocess.kill('SIGKILL');
  }

  /** "exited with code 1", "was killed by SIGKILL", or "is running". */
  describeExit(): string {
    const info = this.exitInfo;
    if (info === undefined) return 'is running';
    return info.signal ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`;
  }
}

/** Spawns one backend process (see the module header); output and notes go to `options.log`. */
export function spawnBackendProcess(options: SpawnOptions): BackendProcess {
  const env = {
    ...workerEnv(options.extraEnv),
    [HEARTBEAT_FD_ENV]: String(HEARTBEAT_FD),
    [HEARTBEAT_INTERVAL_ENV]: String(HEARTBEAT_INTERVAL_MS),
  };
  const subprocess = startSubprocess(options.interpreter.path, options.args, env);
  subprocess.stderr?.on('data', (chunk: Buffer) => options.log.writeOutput(chunk, 'stderr'));
  subprocess.stdout?.on('data', (chunk: Buffer) => options.log.writeOutput(chunk, 'stdout'));
  const spawned = new BackendProcess(subprocess);
  options.log.note(`started ${options.name}: pid ${spawned.pid}, ${options.interpreter.path} (${options.interpreter.source}) ${options.args.join(' ')}`);
  return spawned;
}

type Subprocess = ReturnType<typeof startSubprocess>;

function startSubprocess(file: string, args: string[], env: Record<string, string>) {
  return execa(file, args, {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    buffer: false,
    reject: false,
    cleanup: true,
    killSignal: 'SIGKILL',
  });
}
