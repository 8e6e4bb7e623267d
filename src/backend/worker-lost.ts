/**
 * The errors of a worker that is gone: it died (exit code or signal) or stalled (its heartbeat
 * went silent and the client killed it). Each names the worker, its pid, how it ended, the
 * requests it took with it, and its log (quoting the last lines), and says what to do next.
 */
import { BackendError } from '../errors.js';
import type { Stall } from './heartbeat.js';
import type { ExitInfo } from './spawn.js';
import { stderrBlock, type WorkerLog } from './worker-log.js';

/** Who was lost, and what it was doing. */
export interface LostWorker {
  name: string;
  pid: number;
  log: WorkerLog;
  /** Ops of the requests pending when it was lost (one entry per request). */
  pendingOps: string[];
}

/** " while 2 request(s) were pending (score, generate)", or ''. */
function pendingText(ops: string[]): string {
  return ops.length ? ` while ${ops.length} request(s) were pending (${[...new Set(ops)].join(', ')})` : '';
}

/** The error for a worker whose heartbeat went silent for `stall.silentMs` (it is being SIGKILLed). */
export function stalledError(worker: LostWorker, stall: Stall, heartbeatTimeoutMs: number): BackendError {
  const seconds = (stall.silentMs / 1000).toFixed(1);
  const state = stall.state ? ` (${stall.state})` : '';
  return new BackendError(
    'worker_stalled',
    `backend worker ${worker.name} (pid ${worker.pid}) stopped responding: no heartbeat for ${seconds} s${state}${pendingText(worker.pendingOps)}; it was killed with SIGKILL.${stderrBlock(worker.log)}`,
    {
      context: { worker: worker.name, pid: worker.pid, silentMs: stall.silentMs, state: stall.state, logFile: worker.log.path },
      hint: `Check ${worker.log.path} and what stopped the process; if it was busy in one long native call, raise backend.heartbeatTimeoutMs (now ${heartbeatTimeoutMs} ms).`,
    },
  );
}

/** The error for a worker that exited: `worker_stopped` after `close`, else `worker_died`. */
export function exitedError(worker: LostWorker, exit: ExitInfo, how: string, wasClosed: boolean): BackendError {
  const remedy =
    exit.signal === 'SIGKILL'
      ? 'a SIGKILL nobody sent on purpose usually means the machine ran out of memory (see `dmesg`; lower the batch size)'
      : 'its last lines above say why';
  return new BackendError(
    wasClosed ? 'worker_stopped' : 'worker_died',
    `backend worker ${worker.name} (pid ${worker.pid}) ${how}${pendingText(worker.pendingOps)}.${stderrBlock(worker.log)}`,
    {
      context: { worker: worker.name, pid: worker.pid, ...exit, logFile: worker.log.path },
      hint: wasClosed ? 'The worker was closed; start a new BackendClient to continue.' : `Read ${worker.log.path}; ${remedy}.`,
    },
  );
}
