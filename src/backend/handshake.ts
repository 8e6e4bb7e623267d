/**
 * The handshake of a freshly spawned worker: wait for a hello carrying this launch's token and the
 * pid of the process we spawned.
 *
 * A message without the token (a stranger on the socket, or garbage) is ignored and logged, and so is
 * a hello with the token but another pid (the token leaked, or `backend.python` is a wrapper that
 * runs Python as a child instead of `exec`-ing it). Only the first valid hello counts: the
 * handshake resolves on it, and `LaunchedWorker.deliver` ignores any later hello. A hello with the
 * token and pid but another protocol version is a `ProtocolError` naming both versions and the
 * side to update; a worker that exits first, or says nothing in time, is a `BackendError` quoting
 * the last lines of its log. The socket pump started here keeps running after the handshake and
 * routes later messages wherever `pump.deliver` points.
 */
import { timingSafeEqual } from 'node:crypto';

import type { Router } from 'zeromq';

import { BackendError, ProtocolError } from '../errors.js';
import { type Frames, type Hello, HelloEnvelopeSchema, HelloSchema } from './headers.js';
import type { ExitInfo } from './spawn.js';
import { HELLO, PROTOCOL_VERSION } from './protocol.js';
import { stderrBlock, type WorkerLog } from './worker-log.js';

/** What the handshake needs of the launch options (`launch.ts`'s `LaunchOptions` has them). */
export interface HandshakeOptions {
  /** Worker name, for errors. */
  name: string;
  /** How long to wait for the hello. */
  startTimeoutMs: number;
}

/** Receives every message of the socket for as long as it is open; `deliver` routes them. */
export interface Pump {
  deliver: (identity: Buffer, frames: Frames) => void;
}

/** What a hello must carry to be accepted. */
export interface ExpectedHello {
  token: string;
  /** The pid of the process this launch spawned. */
  pid: number;
}

/** Waits for our worker's hello (see the module header); resolves with its identity and hello. */
export async function handshake(
  socket: Router,
  expected: ExpectedHello,
  exited: Promise<ExitInfo>,
  options: HandshakeOptions,
  log: WorkerLog,
  context: Record<string, unknown>,
): Promise<{ identity: Buffer; hello: Hello; pump: Pump }> {
  const pump = startPump(socket, log);
  let strangers = 0;
  let timer: NodeJS.Timeout | undefined;
  const greeted = new Promise<{ identity: Buffer; hello: Hello }>((resolve, reject) => {
    pump.deliver = (identity, frames) => {
      try {
        const verdict = checkHello(frames, expected, options.name);
        if (typeof verdict !== 'string') return resolve({ identity, hello: verdict });
        strangers += 1;
        log.note(`ignored a message from peer ${identity.toString('hex')}: ${verdict}`);
      } catch (error) {
        reject(error);
      }
    };
  });
  const died = exited.then((info) => Promise.reject(diedBeforeHello(info, options.name, log, context)));
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(noHello(strangers, expected.pid, options, log, context)), options.startTimeoutMs);
  });
  try {
    return { ...(await Promise.race([greeted, died, timedOut])), pump };
  } finally {
    clearTimeout(timer);
    died.catch(() => undefined);
  }
}

function startPump(socket: Router, log: WorkerLog): Pump {
  const pump: Pump = { deliver: () => undefined };
  void (async () => {
    while (!socket.closed) {
      try {
        const [identity, ...frames] = await socket.receive();
        pump.deliver(identity!, frames);
      } catch (error) {
        if (socket.closed) return;
        log.note(`receive failed: ${(error as Error).message}`);
      }
    }
  })();
  return pump;
}

function diedBeforeHello(info: ExitInfo, name: string, log: WorkerLog, context: Record<string, unknown>): BackendError {
  const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`;
  return new BackendError('worker_died', `backend worker ${name} ${how} before its hello.${stderrBlock(log)}`, {
    context: { ...context, ...info },
    hint: `Run \`npx mgsd doctor\` to check the Python environment; the full log is ${log.path}.`,
  });
}

function noHello(strangers: number, pid: number, options: HandshakeOptions, log: WorkerLog, context: Record<string, unknown>): BackendError {
  const ignored = strangers ? ` (ignored ${strangers} message(s) that were not a hello with this launch's token and pid ${pid}; see the log)` : '';
  return new BackendError(
    'start_timeout',
    `backend worker ${options.name} (pid ${pid}) sent no valid hello within ${options.startTimeoutMs} ms${ignored}.${stderrBlock(log)}`,
    {
      context,
      hint: `Raise backend.startTimeoutMs if the machine is slow to import torch; if backend.python is a wrapper script, make it \`exec\` Python. The log is ${log.path}.`,
    },
  );
}

/** True when frame 0 is a JSON hello (from anyone): used to refuse hellos after the handshake. */
export function isHelloFrame(frames: Frames): boolean {
  try {
    return HelloEnvelopeSchema.safeParse(JSON.parse(frames[0]?.toString() ?? '')).success;
  } catch {
    return false;
  }
}

/**
 * The hello of our worker, or why a message is not it (a string, for the log); throws on a
 * version mismatch or a malformed hello that carries the right token and pid.
 */
export function checkHello(frames: Frames, expected: ExpectedHello, name: string): Hello | string {
  let header: unknown;
  try {
    header = JSON.parse(frames[0]?.toString() ?? '');
  } catch {
    return 'not a JSON hello';
  }
  const envelope = HelloEnvelopeSchema.safeParse(header);
  if (!envelope.success) return 'not a hello';
  if (!sameToken(envelope.data.token, expected.token)) return "a hello without this launch's token";
  const pid = (header as { pid?: unknown }).pid;
  if (pid !== expected.pid) return `a hello with the token but from pid ${JSON.stringify(pid)}, not the spawned pid ${expected.pid}`;
  const version = envelope.data.v;
  if (version !== PROTOCOL_VERSION) {
    const newer = typeof version === 'number' && version > PROTOCOL_VERSION ? 'Python worker' : 'TypeScript client';
    const update = newer === 'Python worker' ? 'the TypeScript side (`npm run build`)' : 'py_backend (pull the matching version)';
    throw new ProtocolError('version_mismatch', `backend worker ${name} speaks protocol version ${JSON.stringify(version)}, this client speaks ${PROTOCOL_VERSION}; the ${newer} is newer`, {
      context: { worker: name, workerVersion: version, clientVersion: PROTOCOL_VERSION },
      hint: `Update ${update} so both sides come from the same checkout.`,
    });
  }
  const parsed = HelloSchema.safeParse(header);
  if (!parsed.success) {
    throw new ProtocolError('bad_hello', `backend worker ${name} sent a malformed ${HELLO}: ${parsed.error.message}`, {
      hint: 'The worker and the client disagree on the hello; update both from the same checkout.',
    });
  }
  return parsed.data;
}

function sameToken(received: string, expected: string): boolean {
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
