/**
 * Durable file writes shared by every layer: a file is written to a temporary sibling, flushed to
 * disk and renamed over the target, so readers see the old complete file or the new complete file,
 * never a torn one — also when the disk fills up or the process dies mid-write.
 *
 * Invariants: the temporary file lives in the target's own folder (rename is atomic only within one
 * file system) and is removed on any failure; a failure is an `MgsdError` that names the *target*
 * (what the user asked for), never the temporary path. Imports only the leaf `errors.ts`.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { MgsdError } from './errors.js';

let sequence = 0;

/** What a failed write was for, so the error can name the flag the user gave (`--out`). */
export interface AtomicWriteOptions {
  /** How the user named the target, e.g. `--out` or `--summary`; default: just the path. */
  label?: string;
}

/** Atomically replaces `path` with `data`; the previous file survives any failure intact. */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const folder = dirname(path);
  sequence += 1;
  const temporary = join(folder, `.${basename(path)}.tmp-${process.pid}-${sequence}`);
  try {
    mkdirSync(folder, { recursive: true });
    const fd = openSync(temporary, 'wx', 0o644);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    if (existsSync(temporary)) rmSync(temporary, { force: true });
    throw writeError(path, error, options);
  }
  try {
    syncFolder(folder);
  } catch (error) {
    throw writeError(path, error, options); // the new file is in place; its rename may not be durable yet
  }
}

/** Atomically writes `value` as pretty-printed JSON (with a trailing newline). */
export function writeJsonAtomic(path: string, value: unknown, options: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);
}

/** Makes the rename itself durable (a crash right after it must not bring the old file back). */
function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A write failure as a user error: the target, the system's reason, and what to do about it. */
export function writeError(path: string, error: unknown, options: AtomicWriteOptions = {}): MgsdError {
  const system = error as NodeJS.ErrnoException;
  // mkdir -p over a file fails with EEXIST: the same problem as ENOTDIR, said the same way.
  const code = system.code === 'EEXIST' && system.syscall === 'mkdir' ? 'ENOTDIR' : (system.code ?? 'unknown');
  const target = options.label === undefined ? path : `${options.label} ${path}`;
  const reason = REASONS[code] ?? (error as Error).message;
  return new MgsdError('write_failed', `cannot write ${target}: ${reason}`, {
    cause: error,
    hint: HINTS[code] ?? 'Choose another location, or fix the cause above; nothing was written there.',
    context: { path, code },
  });
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
};

const HINTS: Record<string, string> = {
  ENOSPC: 'Free some space and run the command again; the previous file (if any) was left intact.',
  EDQUOT: 'Free some space and run the command again; the previous file (if any) was left intact.',
  EACCES: 'Choose a folder you can write to.',
  EPERM: 'Choose a folder you can write to.',
  EROFS: 'Choose a folder on a writable file system.',
  ENOTDIR: 'Choose a path whose folders are folders.',
  EISDIR: 'Give a file name, not a folder.',
};

/**
 * Checks before long work that `path` could be written (its folder exists or can be made, and a
 * file can be created in it), so an unwritable `--out` fails in a second, not after an hour.
 */
export function assertWritableFile(path: string, options: AtomicWriteOptions = {}): void {
  const folder = dirname(path);
  sequence += 1;
  const probe = join(folder, `.${basename(path)}.probe-${process.pid}-${sequence}`);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw writeError(path, Object.assign(new Error(`${path} is a folder`), { code: 'EISDIR' }), options);
  }
  try {
    mkdirSync(folder, { recursive: true });
    closeSync(openSync(probe, 'wx', 0o644));
    rmSync(probe, { force: true });
  } catch (error) {
    throw writeError(path, error, options);
  }
}
