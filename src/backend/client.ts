/**
 * The backend client: one or several Python workers, each behind its own `WorkerHandle`.
 *
 * `BackendClient.start({ workers: { student: {...}, teacher: {...} } })` launches one process per
 * worker (each with its own threads, so their work overlaps) and gives one `WorkerHandle` each; a
 * caller picks the worker that serves a call (`client.worker('teacher').score(...)`). Requests,
 * pipelining, timeouts and error reporting live in `worker-handle.ts`; process start and stop in
 * `launch.ts`. A worker with `ranks` > 1 is a rank group (`rank-group.ts`): N processes, of which
 * rank 0 is the one peer its handle talks to; the handle's errors then name the rank that failed.
 */
import { BackendError } from '../errors.js';
import { launchWorker, type LaunchOptions, type WorkerPeer } from './launch.js';
import { collectiveTimeoutS, launchRankGroup, type Rendezvous } from './rank-group.js';
import { WorkerHandle } from './worker-handle.js';

export { type CallOptions, PythonTraceback, type Reply, WorkerHandle } from './worker-handle.js';

/** What `BackendClient.start` needs: per-worker launch settings plus shared ones. */
export interface BackendOptions {
  /** Per worker: torch threads of each rank, and `ranks` (default 1) processes in its group. */
  workers: Record<string, { threads: number; ranks?: number; rendezvous?: Rendezvous; env?: Record<string, string>; maxMessageMib?: number }>;
  logDir: string;
  python?: string | null;
  startTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long `close` waits for the stop op, then for the exit, before SIGKILL. */
  shutdownGraceMs?: number;
  /** Heartbeat silence after which a worker is declared stalled and killed (default 10 s). */
  heartbeatTimeoutMs?: number;
}

/** Several workers started together; each serves the calls made on its own handle. */
export class BackendClient {
  private constructor(private readonly handles: Map<string, WorkerHandle>) {}

  /** Starts every worker in parallel; if one fails, the others are closed and the error thrown. */
  static async start(options: BackendOptions): Promise<BackendClient> {
    const names = Object.keys(options.workers);
    if (names.length === 0) throw new BackendError('no_workers', 'BackendClient.start: options.workers is empty', { hint: 'Name at least one worker, e.g. { student: { threads: 1 } }.' });
    const launches = names.map((name) => {
      const { ranks = 1, rendezvous, ...worker } = options.workers[name]!;
      const launch: LaunchOptions = { name, logDir: options.logDir, python: options.python, startTimeoutMs: options.startTimeoutMs, ...worker };
      const grouped = ranks > 1 || (rendezvous?.nodes ?? 1) > 1;
      const group = { ...launch, ranks, collectiveTimeoutS: collectiveTimeoutS(options.requestTimeoutMs), ...(rendezvous ? { rendezvous } : {}) };
      const started: Promise<WorkerPeer> = grouped ? launchRankGroup(group) : launchWorker(launch);
      return started.then((peer) => new WorkerHandle(peer, options.requestTimeoutMs, options.shutdownGraceMs, options.heartbeatTimeoutMs));
    });
    const settled = await Promise.allSettled(launches);
    const failure = settled.find((s) => s.status === 'rejected');
    const handles = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    if (failure) {
      await Promise.all(handles.map((handle) => handle.close()));
      throw failure.reason;
    }
    return new BackendClient(new Map(handles.map((handle) => [handle.name, handle])));
  }

  /** The handle of one worker; throws `BackendError` naming the known workers for a wrong name. */
  worker(name: string): WorkerHandle {
    const handle = this.handles.get(name);
    if (!handle) {
      throw new BackendError('unknown_worker', `no backend worker named ${JSON.stringify(name)} (started: ${[...this.handles.keys()].join(', ')})`, {
        hint: 'Name the worker in BackendClient.start({ workers: { ... } }).',
      });
    }
    return handle;
  }

  /** Names of the started workers. */
  get names(): string[] {
    return [...this.handles.keys()];
  }

  /** Closes every worker (in parallel). */
  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((handle) => handle.close()));
  }
}
