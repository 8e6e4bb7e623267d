/**
 * The handshake of a freshly spawned worker: wait for a hello carrying this launch's token.
 *
 * A message without the token (a stranger on the socket, or garbage) is ignored and logged; a hello
 * with the token but another protocol version is a `ProtocolError` naming both versions and the
 * side to update; a worker that exits first, or says nothing in time, is a `BackendError` quoting
 * the last lines of its log. The socket pump started here keeps running after the handshake and
 * routes later messages wherever `pump.deliver` points.
 */
import { timingSafeEqual } from 'node:crypto';

import type { Router } from 'zeromq';

import { BackendError, ProtocolError } from '../errors.js';
import { type Hello, HelloEnvelopeSchema, HelloSchema } from './headers.js';
import type { ExitInfo, Frames, LaunchOptions } from './launch.js';
import { HELLO, PROTOCOL_VERSION } from './protocol.js';
import { stderrBlock, type WorkerLog } from './worker-log.js';

/** Receives every message of the socket for as long as it is open; `deliver` routes them. */
export interface Pump {
  deliver: (identity: Buffer, frames: Frames) => void;
}

/** Waits for our worker's hello (see the module header); resolves with its identity and hello. */
export async function handshake(
  socket: Router,
  token: string,
  exited: Promise<ExitInfo>,
  options: LaunchOptions,
  log: WorkerLog,
  context: Record<string, unknown>,
): Promise<{ identity: Buffer; hello: Hello; pump: Pump }> {
  const pump = startPump(socket, log);
  let strangers = 0;
  let timer: NodeJS.Timeout | undefined;
  const greeted = new Promise<{ identity: Buffer; hello: Hello }>((resolve, reject) => {
    pump.deliver = (identity, frames) => {
      try {
        const hello = checkHello(frames, token, options.name);
        if (hello) return resolve({ identity, hello });
        strangers += 1;
        log.note(`ignored a message from peer ${identity.toString('hex')}: not a hello with this launch's token`);
      } catch (error) {
        reject(error);
      }
    };
  });
  const died = exited.then((info) => Promise.reject(diedBeforeHello(info, options.name, log, context)));
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(noHello(strangers, options, log, context)), options.startTimeoutMs);
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

function noHello(strangers: number, options: LaunchOptions, log: WorkerLog, context: Record<string, unknown>): BackendError {
  const ignored = strangers ? ` (ignored ${strangers} message(s) from peers without this launch's token)` : '';
  return new BackendError(
    'start_timeout',
    `backend worker ${options.name} sent no valid hello within ${options.startTimeoutMs} ms${ignored}.${stderrBlock(log)}`,
    { context, hint: `Raise backend.startTimeoutMs if the machine is slow to import torch; the log is ${log.path}.` },
  );
}

/** A valid hello from our worker, undefined for a stranger; throws on a version mismatch. */
function checkHello(frames: Frames, token: string, name: string): Hello | undefined {
  let header: unknown;
  try {
    header = JSON.parse(frames[0]?.toString() ?? '');
  } catch {
    return undefined;
  }
  const envelope = HelloEnvelopeSchema.safeParse(header);
  if (!envelope.success || !sameToken(envelope.data.token, token)) return undefined;
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
