/**
 * Where a worker's ROUTER listens: a unix socket in a fresh private directory, or, only when no
 * such path can be made, loopback tcp.
 *
 * A unix socket path must fit `sun_path` (108 bytes with its NUL on Linux), so a long `$TMPDIR`
 * (CI workspaces, nested build trees) would force the tcp fallback, which any local user can reach.
 * The directory is therefore the first of `$TMPDIR` (what `os.tmpdir()` gives), `$XDG_RUNTIME_DIR`
 * (per-user, 0700) and `/tmp` where the socket path fits; `mkdtemp` makes it 0700 with a random
 * name, so no one else can connect. Any choice other than the first is logged with the reason.
 * The tcp fallback stays guarded by the launch token and the pid check of the handshake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Router } from 'zeromq';

import type { WorkerLog } from './worker-log.js';

/** The longest unix socket path Linux accepts (`sun_path` is 108 bytes, NUL included). */
export const MAX_SOCKET_PATH_BYTES = 107;
const SOCKET_FILE = 'worker.sock';
const DIR_PREFIX = 'mgsd-';

/** A bound endpoint, and the private directory to remove once the worker has connected. */
export interface BoundEndpoint {
  endpoint: string;
  dir?: string;
}

/** The socket path a base directory would give (mkdtemp adds 6 characters to the prefix). */
function socketPathBytes(base: string): number {
  return Buffer.byteLength(join(base, `${DIR_PREFIX}XXXXXX`, SOCKET_FILE));
}

/** The candidate base directories, in order of preference, without repeats. */
export function socketDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const candidates = [tmpdir(), env.XDG_RUNTIME_DIR, '/tmp'].filter((dir): dir is string => Boolean(dir));
  return [...new Set(candidates)];
}

/** Binds `socket` on ipc:// in a private directory (see the module header), else loopback tcp. */
export async function bindPrivate(socket: Router, log: WorkerLog, forceTcp: boolean): Promise<BoundEndpoint> {
  const reasons: string[] = [];
  if (forceTcp) reasons.push('tcp was asked for (forceTcp)');
  for (const base of forceTcp ? [] : socketDirCandidates()) {
    const bytes = socketPathBytes(base);
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      reasons.push(`${base}: socket path would be ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte unix socket limit`);
      continue;
    }
    let dir: string;
    try {
      dir = mkdtempSync(join(base, DIR_PREFIX));
    } catch (error) {
      reasons.push(`${base}: cannot create a private directory (${(error as Error).message})`);
      continue;
    }
    const endpoint = `ipc://${join(dir, SOCKET_FILE)}`;
    try {
      await socket.bind(endpoint);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      reasons.push(`${endpoint}: bind failed (${(error as Error).message})`);
      continue;
    }
    if (reasons.length) log.note(`socket in ${base} instead of ${tmpdir()}: ${reasons.join('; ')}`);
    return { endpoint, dir };
  }
  log.note(`no private unix socket possible (${reasons.join('; ')}); falling back to tcp://127.0.0.1, guarded by the launch token and pid`);
  await socket.bind('tcp://127.0.0.1:*');
  return { endpoint: socket.lastEndpoint ?? 'tcp://127.0.0.1:?' };
}
