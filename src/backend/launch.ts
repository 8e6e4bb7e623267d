/**
 * Starting and stopping one Python worker process, and owning its socket.
 *
 * `launchWorker` binds a ZeroMQ ROUTER on `ipc://` inside a fresh private directory (mode 0700,
 * see `private-socket.ts`; loopback tcp only when no short enough directory exists, and logged),
 * spawns `python -m mgsd_backend` (`spawn.ts`: token in the environment, never in argv; a heartbeat
 * pipe), and waits for the worker's hello: only a hello carrying this launch's token AND the pid of
 * the process we spawned is accepted, once; anything else is ignored and logged. A protocol version
 * mismatch is a `ProtocolError` naming both versions. Once the handshake is done the socket file
 * and its directory are removed (the live connection survives, and no one else can connect).
 *
 * Lifecycle (execa's model): `shutdown` asks the worker to stop, waits, then SIGKILLs it. execa's
 * `cleanup` SIGKILLs the worker if Node exits first, and the worker watches its parent's pid and
 * its heartbeat pipe, so no worker outlives its client (even after `kill -9` of Node).
 * Worker stderr goes to `<logDir>/<name>.log`; its last lines are kept for crash reports.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { Router } from 'zeromq';

import { BackendError } from '../errors.js';
import { resolveInterpreter } from './interpreter.js';
import { handshake, isHelloFrame } from './handshake.js';
import type { Frames, Hello } from './headers.js';
import { type Stall, WEDGED_FACTOR } from './heartbeat.js';
import { bindPrivate } from './private-socket.js';
import { type BackendProcess, type ExitInfo, spawnBackendProcess, TOKEN_ENV } from './spawn.js';
import { WorkerLog } from './worker-log.js';

export type { ExitInfo } from './spawn.js';

/** How to start one worker. */
export interface LaunchOptions {
  /** Worker name (`student`, `teacher`…): names its log file and appears in every error. */
  name: string;
  /** Directory of the worker's log file `<name>.log` (created if missing). */
  logDir: string;
  /** torch/OpenMP threads of this worker. */
  threads: number;
  /** How long to wait for the hello (the first start imports torch: seconds). */
  startTimeoutMs: number;
  /** Interpreter; null/undefined = `$MGSD_PYTHON`, else the project's `.venv`. */
  python?: string | null;
  /** Requests larger than this are refused by the worker (its own default: `MAX_MESSAGE_MIB` of protocol.ts). */
  maxMessageMib?: number;
  /** Extra environment variables for the worker. */
  env?: Record<string, string>;
  /** Called with the bound endpoint before the worker starts (diagnostics and tests). */
  onEndpoint?: (endpoint: string) => void;
  /** Bind loopback tcp even when ipc would work (tests of the fallback's defences). */
  forceTcp?: boolean;
  /** Log file name without `.log` (default: `name`); rank groups use `<name>.rank<r>`. */
  logName?: string;
  /** Aborting it kills the worker (a rank group stops rank 0 when another rank fails to start). */
  cancelSignal?: AbortSignal;
}

/**
 * What a `WorkerHandle` drives: one ZeroMQ peer and the process(es) behind it. A `LaunchedWorker`
 * is one process; a rank group (`rank-group.ts`) is rank 0's socket plus every rank's process.
 */
export interface WorkerPeer {
  readonly name: string;
  readonly hello: Hello;
  readonly endpoint: string;
  /** The log to quote when the peer dies (a group: the log of the rank that caused it). */
  readonly log: WorkerLog;
  readonly pid: number;
  /** Resolves once the peer is gone (a group: once any rank is gone and the others were stopped). */
  readonly exited: Promise<ExitInfo>;
  readonly exitInfo: ExitInfo | undefined;
  send(frames: Array<Uint8Array | string>): Promise<void>;
  onMessage(handler: (frames: Frames) => void): void;
  /** Calls `onStall` once when the heartbeat goes silent (a group: any rank's). */
  watchHeartbeat(timeoutMs: number, onStall: (stall: Stall) => void): void;
  /** SIGKILLs the process (a group: every rank). */
  kill(): void;
  describeExit(): string;
  shutdown(requestStop: () => Promise<unknown>, graceMs: number): Promise<ExitInfo>;
}

export type { Frames };

/** A started worker that said a valid hello. The client drives it through `send`/`onMessage`. */
export class LaunchedWorker implements WorkerPeer {
  private handler: ((frames: Frames) => void) | undefined;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly hello: Hello,
    readonly endpoint: string,
    readonly log: WorkerLog,
    private readonly process: BackendProcess,
    private readonly socket: Router,
    private readonly identity: Buffer,
  ) {}

  get pid(): number {
    return this.hello.pid;
  }
  /** Resolves (never rejects) once the process has exited and been reaped. */
  get exited(): Promise<ExitInfo> {
    return this.process.exited;
  }
  get exitInfo(): ExitInfo | undefined {
    return this.process.exitInfo;
  }

  /** Sends a message's frames to this worker (sends are queued: one in flight at a time). */
  send(frames: Array<Uint8Array | string>): Promise<void> {
    const next = this.sending.then(() => this.socket.send([this.identity, ...frames]));
    this.sending = next.catch(() => undefined);
    return next;
  }

  /** Sets the receiver of this worker's messages (replies). */
  onMessage(handler: (frames: Frames) => void): void {
    this.handler = handler;
  }

  /** Calls `onStall` once if the worker's heartbeat goes silent (see `HeartbeatMonitor.arm`). */
  watchHeartbeat(timeoutMs: number, onStall: (stall: Stall) => void): void {
    const onGrace = (stall: Stall): void =>
      this.log.note(`no heartbeat for ${(stall.silentMs / 1000).toFixed(1)} s, but ${stall.state ?? 'the state is unknown'}: waiting up to ${((timeoutMs * WEDGED_FACTOR) / 1000).toFixed(0)} s before declaring it wedged`);
    this.process.heartbeat.arm(timeoutMs, onStall, onGrace);
  }

  /** SIGKILLs the worker now (a stalled or stopped one included); `exited` resolves once reaped. */
  kill(): void {
    this.process.kill();
  }

  /** @internal Called by the socket pump for every message after the handshake. */
  deliver(identity: Buffer, frames: Frames): void {
    if (isHelloFrame(frames)) {
      // The handshake is over: a hello, from anyone, is never accepted again.
      this.log.note(`ignored a hello from peer ${identity.toString('hex')} after the handshake (only the first hello of pid ${this.pid} counts)`);
      return;
    }
    if (!identity.equals(this.identity)) {
      this.log.note(`ignored a message from an unknown peer ${identity.toString('hex')} (${frames.length} frames)`);
      return;
    }
    this.handler?.(frames);
  }

  /** "exited with code 1", "was killed by SIGKILL", or "is running". */
  describeExit(): string {
    return this.process.describeExit();
  }

  /** Stops the worker: `requestStop()` (the stop op), then SIGKILL after `graceMs`; frees everything. */
  async shutdown(requestStop: () => Promise<unknown>, graceMs: number): Promise<ExitInfo> {
    this.process.heartbeat.stop();
    if (this.exitInfo === undefined) {
      await Promise.race([requestStop().catch((error: Error) => this.log.note(`stop op failed: ${error.message}`)), delay(graceMs)]);
      const done = await Promise.race([this.exited, delay(graceMs).then(() => undefined)]);
      if (done === undefined) {
        this.log.note(`worker did not exit ${graceMs} ms after stop; sending SIGKILL`);
        this.process.kill();
      }
    }
    const info = await this.exited;
    this.socket.close();
    this.log.note(`worker ${this.describeExit()}`);
    await this.log.close();
    return info;
  }
}

/** Starts a worker and completes the handshake. Throws `BackendError`/`ProtocolError` on failure. */
export async function launchWorker(options: LaunchOptions): Promise<LaunchedWorker> {
  const interpreter = resolveInterpreter(options.python);
  const log = new WorkerLog(join(options.logDir, `${options.logName ?? options.name}.log`));
  const socket = new Router({ linger: 0, mandatory: true, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  const { endpoint, dir } = await bindPrivate(socket, log, options.forceTcp ?? false).catch(async (error: unknown) => {
    socket.close();
    await log.close();
    throw new BackendError('bind_failed', `backend worker ${options.name}: cannot bind a local socket (ipc:// or tcp://127.0.0.1)`, {
      cause: error,
      hint: 'Check that $TMPDIR (or /tmp) is writable and that loopback networking works.',
    });
  });
  options.onEndpoint?.(endpoint);
  const token = randomBytes(32).toString('hex');
  const args = ['-m', 'mgsd_backend', '--endpoint', endpoint, '--threads', String(options.threads), '--parent-pid', String(process.pid)];
  if (options.maxMessageMib !== undefined) args.push('--max-message-mib', String(options.maxMessageMib));
  const child = spawnBackendProcess({ name: `worker ${options.name}`, interpreter, args, extraEnv: { ...options.env, [TOKEN_ENV]: token }, log });
  const context = { worker: options.name, python: interpreter.path, endpoint, logFile: log.path };
  options.cancelSignal?.addEventListener('abort', () => child.kill(), { once: true });
  try {
    const expected = { token, pid: child.pid ?? -1 };
    const { identity, hello, pump } = await handshake(socket, expected, child.exited, options, log, context);
    const worker = new LaunchedWorker(options.name, hello, endpoint, log, child, socket, identity);
    pump.deliver = (id, frames) => worker.deliver(id, frames);
    log.note(`handshake done: pid ${hello.pid}, python ${hello.python}, torch ${hello.torch}, ${hello.threads} thread(s)`);
    return worker;
  } catch (error) {
    child.kill();
    await child.exited;
    socket.close();
    await log.close();
    throw error;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
