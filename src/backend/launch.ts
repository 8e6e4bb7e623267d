/**
 * Starting and stopping one Python worker process, and owning its socket.
 *
 * `launchWorker` binds a ZeroMQ ROUTER on `ipc://` inside a private temp dir (mode 0700; falls back
 * to `tcp://127.0.0.1:*` only when ipc cannot bind, and logs it), spawns
 * `python -m mgsd_backend` with execa, and waits for the worker's hello: a peer without this
 * launch's random token is ignored and logged; a protocol version mismatch is a `ProtocolError`
 * naming both versions. Once the handshake is done the socket file and temp dir are removed (the
 * live connection survives, and no one else can connect any more).
 *
 * Lifecycle (execa's model): `shutdown` asks the worker to stop, waits, then SIGTERM, then SIGKILL
 * after `killDelayMs`. execa's `cleanup` kills the worker if Node exits first, and the worker
 * watches its parent's pid, so no worker outlives its client (even after `kill -9` of Node).
 * Worker stderr goes to `<logDir>/<name>.log`; its last lines are kept for crash reports.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { execa, type ResultPromise } from 'execa';
import { Router } from 'zeromq';

import { BackendError } from '../errors.js';
import { type Interpreter, PROJECT_ROOT, resolveInterpreter, workerEnv } from './interpreter.js';
import { handshake } from './handshake.js';
import type { Hello } from './headers.js';
import { WorkerLog } from './worker-log.js';

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
  /** SIGTERM → SIGKILL delay on shutdown (execa's `forceKillAfterDelay`). */
  killDelayMs?: number;
  /** Extra environment variables for the worker. */
  env?: Record<string, string>;
  /** Called with the bound endpoint before the worker starts (diagnostics and tests). */
  onEndpoint?: (endpoint: string) => void;
}

/** How a worker process ended. */
export interface ExitInfo {
  exitCode: number | undefined;
  signal: string | undefined;
}

/** A message's frames as received (identity frame removed). */
export type Frames = Buffer[];

/** A started worker that said a valid hello. The client drives it through `send`/`onMessage`. */
export class LaunchedWorker {
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private handler: ((frames: Frames) => void) | undefined;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly hello: Hello,
    readonly endpoint: string,
    readonly log: WorkerLog,
    private readonly subprocess: ResultPromise,
    private readonly socket: Router,
    private readonly identity: Buffer,
    exited: Promise<ExitInfo>,
  ) {
    this.exited = exited.then((info) => (this.exitInfo = info));
  }

  get pid(): number {
    return this.hello.pid;
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

  /** @internal Called by the socket pump for messages from this worker's identity. */
  deliver(identity: Buffer, frames: Frames): void {
    if (!identity.equals(this.identity)) {
      this.log.note(`ignored a message from an unknown peer ${identity.toString('hex')} (${frames.length} frames)`);
      return;
    }
    this.handler?.(frames);
  }

  /** "exited with code 1", "was killed by SIGKILL", or "is running". */
  describeExit(): string {
    const info = this.exitInfo;
    if (info === undefined) return 'is running';
    return info.signal ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`;
  }

  /** Stops the worker: `requestStop()` (the stop op), then SIGTERM, then SIGKILL; frees everything. */
  async shutdown(requestStop: () => Promise<unknown>, graceMs: number): Promise<ExitInfo> {
    if (this.exitInfo === undefined) {
      await Promise.race([requestStop().catch((error: Error) => this.log.note(`stop op failed: ${error.message}`)), delay(graceMs)]);
      const done = await Promise.race([this.exited, delay(graceMs).then(() => undefined)]);
      if (done === undefined) {
        this.log.note(`worker did not exit ${graceMs} ms after stop; sending SIGTERM`);
        this.subprocess.kill('SIGTERM');
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
  const log = new WorkerLog(join(options.logDir, `${options.name}.log`));
  const socket = new Router({ linger: 0, mandatory: true, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  const { endpoint, dir } = await bindPrivate(socket, log).catch(async (error: unknown) => {
    socket.close();
    await log.close();
    throw new BackendError('bind_failed', `backend worker ${options.name}: cannot bind a local socket (ipc:// or tcp://127.0.0.1)`, {
      cause: error,
      hint: `Check that ${tmpdir()} is writable and that loopback networking works.`,
    });
  });
  options.onEndpoint?.(endpoint);
  const token = randomBytes(32).toString('hex');
  const { subprocess, exited } = spawnWorker(interpreter, endpoint, token, options, log);
  const context = { worker: options.name, python: interpreter.path, endpoint, logFile: log.path };
  try {
    const { identity, hello, pump } = await handshake(socket, token, exited, options, log, context);
    const worker = new LaunchedWorker(options.name, hello, endpoint, log, subprocess, socket, identity, exited);
    pump.deliver = (id, frames) => worker.deliver(id, frames);
    log.note(`handshake done: pid ${hello.pid}, python ${hello.python}, torch ${hello.torch}, ${hello.threads} thread(s)`);
    return worker;
  } catch (error) {
    subprocess.kill('SIGKILL');
    await exited;
    socket.close();
    await log.close();
    throw error;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Spawns `python -m mgsd_backend` (stderr and stdout into the log; killed if Node exits first). */
function spawnWorker(interpreter: Interpreter, endpoint: string, token: string, options: LaunchOptions, log: WorkerLog) {
  const args = ['-m', 'mgsd_backend', '--endpoint', endpoint, '--token', token, '--threads', String(options.threads)];
  args.push('--parent-pid', String(process.pid));
  if (options.maxMessageMib !== undefined) args.push('--max-message-mib', String(options.maxMessageMib));
  log.note(`starting worker ${options.name}: ${interpreter.path} (${interpreter.source}) ${args.slice(0, 4).join(' ')} …`);
  const subprocess = execa(interpreter.path, args, {
    cwd: PROJECT_ROOT,
    env: workerEnv(options.env),
    stdin: 'ignore',
    buffer: false,
    reject: false,
    cleanup: true,
    forceKillAfterDelay: options.killDelayMs ?? 5000,
  });
  subprocess.stderr?.on('data', (chunk: Buffer) => log.writeOutput(chunk, 'stderr'));
  subprocess.stdout?.on('data', (chunk: Buffer) => log.writeOutput(chunk, 'stdout'));
  const exited: Promise<ExitInfo> = subprocess.then((result) => ({ exitCode: result.exitCode, signal: result.signal }));
  return { subprocess, exited };
}

/** Binds the ROUTER on ipc:// in a fresh 0700 temp dir, or on loopback tcp if ipc fails. */
async function bindPrivate(socket: Router, log: WorkerLog): Promise<{ endpoint: string; dir?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-'));
  const endpoint = `ipc://${join(dir, 'worker.sock')}`;
  try {
    await socket.bind(endpoint);
    return { endpoint, dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    log.note(`cannot bind ${endpoint} (${(error as Error).message}); falling back to tcp://127.0.0.1`);
    await socket.bind('tcp://127.0.0.1:*');
    return { endpoint: socket.lastEndpoint ?? 'tcp://127.0.0.1:?' };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
