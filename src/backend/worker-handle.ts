/**
 * One worker's typed, pipelined requests (`WorkerHandle`), used through `BackendClient`.
 *
 * A handle numbers its requests, keeps any number in flight, and matches replies by id. Every
 * request settles: with the parsed result and tensors; with a `BackendError` carrying the worker's
 * error reply (op, code, message, hint, Python traceback); with a `BackendError` naming the op and
 * the timeout when no reply comes in time (awake time: a run suspended with Ctrl-Z does not time out
 * for it, `awake-timeout.ts`); or — when the worker process dies — every pending
 * request rejects at once with a `BackendError` naming the exit code or signal, the last lines of
 * its log and the log file. Args are parsed by the op's zod schema before sending; a malformed
 * reply (garbage header, result or tensors off the contract, a truncated tensor stream) fails the
 * request it answers at once with a `ProtocolError` (all pending ones when its id is unreadable).
 * Nothing resolves to undefined.
 */
import { BackendError, ProtocolError, VerboseDetail } from '../errors.js';
import { AwakeTimeout } from './awake-timeout.js';
import { decodeTensors, encodeTensors, type Tensors } from './codec.js';
import type { WorkerPeer } from './launch.js';
import { type ErrorBody, type Hello, type ReplyHeader, ReplyHeaderSchema, type RequestHeader } from './headers.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, type Stall } from './heartbeat.js';
import { asProtocolError, checkReplyTensors, escapeControl, isOpName, parseArgs, preview } from './wire-checks.js';
import { exitedError, type LostWorker, stalledError } from './worker-lost.js';
import {
  type ArgsOf,
  OP,
  type OpName,
  PROTOCOL_VERSION,
  type ReplyTensorsOf,
  type RequestTensorsOf,
  RESULT_SCHEMAS,
  type ResultOf,
} from './protocol.js';

/** A settled request: the op's typed result and its reply tensors. */
export interface Reply<O extends OpName> {
  result: ResultOf<O>;
  tensors: ReplyTensorsOf<O>;
}

/** Per-call options. */
export interface CallOptions {
  /** Overrides the handle's default request timeout for this call. */
  timeoutMs?: number;
}

interface Pending {
  op: string;
  resolve: (reply: { result: Record<string, unknown>; tensors: Tensors }) => void;
  reject: (error: Error) => void;
  timer: AwakeTimeout;
}

/** A Python traceback carried as the cause of a `BackendError` (printed only with `--verbose`). */
export class PythonTraceback extends VerboseDetail {
  override readonly name = 'Python traceback';
}

/** One worker process: typed async methods per op. */
export class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing: Promise<void> | undefined;
  private deathError: BackendError | undefined;

  constructor(
    private readonly worker: WorkerPeer,
    /** Default timeout of a request, ms. */
    readonly requestTimeoutMs: number,
    private readonly shutdownGraceMs = 5000,
    /** Silence of the heartbeat after which the worker is declared stalled and killed, ms. */
    readonly heartbeatTimeoutMs = DEFAULT_HEARTBEAT_TIMEOUT_MS,
  ) {
    worker.onMessage((frames) => this.onReply(frames));
    worker.watchHeartbeat(heartbeatTimeoutMs, (stall) => this.onStall(stall));
    void worker.exited.then(() => this.onExit());
  }

  get name(): string {
    return this.worker.name;
  }
  get pid(): number {
    return this.worker.pid;
  }
  get hello(): Hello {
    return this.worker.hello;
  }
  get logFile(): string {
    return this.worker.log.path;
  }
  /** The endpoint the worker connected to (the ipc socket file is gone after the handshake). */
  get endpoint(): string {
    return this.worker.endpoint;
  }
  /** Requests sent and not yet settled. */
  get inFlight(): number {
    return this.pending.size;
  }

  ping(options?: CallOptions) {
    return this.call(OP.ping, {}, {}, options);
  }
  /** Sets the worker's torch threads (e.g. 2 while it works alone on a 2-core machine). */
  setThreads(threads: number, options?: CallOptions) {
    return this.call(OP.setThreads, { threads }, {}, options);
  }
  echo(args: Record<string, unknown>, tensors: Tensors = {}, options?: CallOptions) {
    return this.call(OP.echo, args, tensors, options) as Promise<{ result: Record<string, unknown>; tensors: Tensors }>;
  }
  load(args: ArgsOf<'load'>, options?: CallOptions) {
    return this.call(OP.load, args, {}, options);
  }
  generate(args: ArgsOf<'generate'>, tensors: RequestTensorsOf<'generate'> = {}, options?: CallOptions) {
    return this.call(OP.generate, args, tensors, options);
  }
  score(args: ArgsOf<'score'>, tensors: RequestTensorsOf<'score'>, options?: CallOptions) {
    return this.call(OP.score, args, tensors, options);
  }
  sftStep(args: ArgsOf<'sft_step'>, tensors: RequestTensorsOf<'sft_step'> = {}, options?: CallOptions) {
    return this.call(OP.sftStep, args, tensors, options);
  }
  distillStep(args: ArgsOf<'distill_step'>, tensors: RequestTensorsOf<'distill_step'>, options?: CallOptions) {
    return this.call(OP.distillStep, args, tensors, options);
  }
  pgStep(args: ArgsOf<'pg_step'>, tensors: RequestTensorsOf<'pg_step'>, options?: CallOptions) {
    return this.call(OP.pgStep, args, tensors, options);
  }
  save(args: ArgsOf<'save'>, options?: CallOptions) {
    return this.call(OP.save, args, {}, options);
  }
  /** Asks the worker to exit (prefer `close`, which also reaps the process and frees the socket). */
  stop(options?: CallOptions) {
    return this.call(OP.stop, {}, {}, options);
  }

  /** Sends one request of any op: args parsed by the op's schema, reply checked on arrival. */
  async call<O extends OpName>(op: O, args: ArgsOf<O>, tensors: object = {}, options: CallOptions = {}): Promise<Reply<O>> {
    const raw = await this.callUnchecked(op, parseArgs(op, args, this.name), tensors as Tensors, options);
    return raw as Reply<O>;
  }

  /**
   * Sends a request WITHOUT the client-side argument check (the worker still validates it).
   * For diagnostics and the bridge tests, which must show the worker's own answers to bad input.
   */
  async callUnchecked(op: string, args: unknown, tensors: Tensors = {}, options: CallOptions = {}): Promise<{ result: Record<string, unknown>; tensors: Tensors }> {
    if (this.deathError) throw this.deathError;
    if (this.closing && op !== OP.stop) throw this.closedError(op);
    const id = this.nextId++;
    const header: RequestHeader = { v: PROTOCOL_VERSION, id, op, args };
    const frames = [JSON.stringify(header), ...encodeTensors(tensors)];
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const settled = new Promise<{ result: Record<string, unknown>; tensors: Tensors }>((resolve, reject) => {
      const timer = new AwakeTimeout(timeoutMs, () => this.onTimeout(id, timeoutMs));
      this.pending.set(id, { op, resolve, reject, timer });
    });
    this.worker.send(frames).catch((error: Error) => this.fail(id, this.deathError ?? this.sendError(op, error)));
    return settled;
  }

  /** Stops the worker (stop op, then SIGKILL after the grace period) and frees its socket. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.worker
      .shutdown(() => this.stop({ timeoutMs: this.shutdownGraceMs }), this.shutdownGraceMs)
      .then(() => undefined);
    return this.closing;
  }

  private onReply(frames: Buffer[]): void {
    const header = this.parseReplyHeader(frames[0]);
    if (header === undefined) return;
    const pending = header.id === null ? undefined : this.pending.get(header.id);
    if (pending === undefined) {
      const what = header.ok ? 'a reply' : `an error reply (${header.error.code}: ${header.error.message})`;
      this.worker.log.note(`ignored ${what} for request ${header.id}, which is not pending (timed out?)`);
      return;
    }
    const id = header.id as number;
    if (!header.ok) return this.fail(id, this.replyError(pending.op, header.error));
    try {
      const known = isOpName(pending.op) ? pending.op : undefined;
      const result = known ? (RESULT_SCHEMAS[known].parse(header.result) as Record<string, unknown>) : header.result;
      const tensors = decodeTensors(frames.slice(1));
      if (known && known !== OP.echo) checkReplyTensors(known, tensors);
      this.settle(id).resolve({ result, tensors });
    } catch (error) {
      this.fail(id, asProtocolError(error, pending.op, this.name));
    }
  }

  /**
   * Frame 0 of a reply, or undefined after failing what it concerned: a malformed header fails
   * at once (a `ProtocolError`, never a wait for the timeout) the request its `id` names, or
   * every pending request when no id can be read, since the reply may have been any of them.
   */
  private parseReplyHeader(frame: Buffer | undefined): ReplyHeader | undefined {
    const text = frame?.toString('utf8') ?? '';
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      this.failMalformed(undefined, `frame 0 is not a JSON header (${escapeControl((error as Error).message)}): ${preview(text)}`);
      return undefined;
    }
    const parsed = ReplyHeaderSchema.safeParse(json);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'header'}: ${issue.message}`).join('; ');
    const id = (json as { id?: unknown } | null)?.id;
    this.failMalformed(typeof id === 'number' ? id : undefined, `its header is off the protocol (${issues}): ${preview(text)}`);
    return undefined;
  }

  private failMalformed(id: number | undefined, what: string): void {
    // An id names its request (not pending any more: it timed out, only log); no id, all of them.
    const target = id === undefined ? [...this.pending.keys()] : this.pending.has(id) ? [id] : [];
    this.worker.log.note(`malformed reply from the worker: ${what}`);
    if (target.length === 0) return;
    const ops = [...new Set(target.map((key) => this.pending.get(key)!.op))].join(', ');
    const scope = target.length === 1 ? `backend op ${ops}` : `${target.length} pending backend requests (${ops})`;
    const error = new ProtocolError('bad_reply', `${scope} failed: worker ${this.name} (pid ${this.pid}) sent a malformed reply: ${what}`, {
      context: { worker: this.name, pid: this.pid, logFile: this.logFile },
      hint: `The worker does not speak protocol v${PROTOCOL_VERSION} as src/backend/protocol.ts declares it; run \`npx mgsd doctor\`, and see ${this.logFile}.`,
    });
    for (const key of target) this.fail(key, error);
  }

  private onTimeout(id: number, timeoutMs: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    const error = new BackendError(
      'timeout',
      `backend op ${pending.op} timed out after ${timeoutMs} ms (worker ${this.name}, pid ${this.pid}, ${this.pending.size - 1} other request(s) in flight)`,
      {
        context: { op: pending.op, worker: this.name, pid: this.pid, timeoutMs, logFile: this.logFile },
        hint: `The worker may be hung or the op too slow: check ${this.logFile}, or raise backend.requestTimeoutMs.`,
      },
    );
    this.fail(id, error);
  }

  private onStall(stall: Stall): void {
    if (this.deathError || this.worker.exitInfo) return;
    this.worker.log.note(`no heartbeat for ${(stall.silentMs / 1000).toFixed(1)} s (${stall.state ?? 'state unknown'}); killing the worker with SIGKILL`);
    this.deathError = stalledError(this.lost(), stall, this.heartbeatTimeoutMs);
    for (const id of [...this.pending.keys()]) this.fail(id, this.deathError);
    this.worker.kill();
  }

  private onExit(): void {
    if (this.deathError) return; // stalled: that error already says what happened
    const exit = this.worker.exitInfo ?? { exitCode: undefined, signal: undefined };
    this.deathError = exitedError(this.lost(), exit, this.worker.describeExit(), this.closing !== undefined);
    for (const id of [...this.pending.keys()]) this.fail(id, this.deathError);
  }

  private lost(): LostWorker {
    return { name: this.name, pid: this.pid, log: this.worker.log, pendingOps: [...this.pending.values()].map((p) => p.op) };
  }

  private settle(id: number): Pending {
    const pending = this.pending.get(id)!;
    pending.timer.clear();
    this.pending.delete(id);
    return pending;
  }

  private fail(id: number, error: Error): void {
    if (this.pending.has(id)) this.settle(id).reject(error);
  }

  private replyError(op: string, error: ErrorBody): BackendError {
    return new BackendError(error.code, `backend op ${op} failed in worker ${this.name} (pid ${this.pid}): ${error.message}`, {
      cause: new PythonTraceback(error.traceback.trimEnd()),
      context: { op, worker: this.name, pid: this.pid, code: error.code, traceback: error.traceback, logFile: this.logFile },
      hint: error.hint ?? `See ${this.logFile} (the Python traceback is there, and printed with --verbose).`,
    });
  }

  private sendError(op: string, error: Error): BackendError {
    return new BackendError('send_failed', `backend op ${op}: cannot send to worker ${this.name} (pid ${this.pid}): ${error.message}`, {
      cause: error,
      context: { op, worker: this.name, logFile: this.logFile },
      hint: `The worker ${this.worker.describeExit()}; see ${this.logFile}.`,
    });
  }

  private closedError(op: string): BackendError {
    return new BackendError('worker_closed', `backend op ${op}: worker ${this.name} is closing or closed`, {
      hint: 'Send requests before close(); start a new BackendClient to continue.',
    });
  }
}
