/**
 * One writer per run directory. Every command that writes into a run (`mgsd run`, `--resume`,
 * `mgsd report`, `mgsd eval --out` into the run) first takes `<run>/run.lock`; a second one is
 * refused with the holder's pid, host, command and start time, instead of both appending to the
 * same metrics and ledger logs.
 *
 * Invariants:
 * - the lock file is created complete and atomically: its JSON is written to a private temporary
 *   file, which is then hard-linked to `run.lock` (`link` fails with EEXIST like `O_EXCL`), so a
 *   reader never sees a half-written lock;
 * - a lock whose holder is a dead process on this host is stale and is taken over (with a note);
 *   a lock from another host is never guessed about: the refusal says how to remove it;
 * - release removes the file only while it is still ours, and also runs on `process.exit`, so a
 *   second Ctrl-C does not leave a lock behind (a `kill -9` does, and the next command takes it over).
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { z } from 'zod';

import { MgsdError } from '../errors.js';
import { writeError } from '../fs-atomic.js';

/** The lock file's name inside a run directory. */
export const LOCK_FILE = 'run.lock';

const LockHolderSchema = z
  .object({ pid: z.number().int().positive(), host: z.string(), command: z.string(), started_at: z.string() })
  .strict();

/** Who holds a run directory. */
export type LockHolder = z.infer<typeof LockHolderSchema>;

/** Another process is writing into the run directory. */
export class RunLockedError extends MgsdError {}

/** A held lock on one run directory; `release()` it when done (idempotent). */
export class RunLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {
    process.on('exit', this.onExit);
  }

  /**
   * Takes the lock of `runRoot` (creating the folder), or throws `RunLockedError` naming the holder.
   * `note` is told when a stale lock of a dead process is taken over.
   */
  static acquire(runRoot: string, note: (message: string) => void = () => {}): RunLock {
    try {
      mkdirSync(runRoot, { recursive: true });
    } catch (error) {
      throw writeError(runRoot, error, { label: 'run directory' });
    }
    const path = join(runRoot, LOCK_FILE);
    const holder: LockHolder = { pid: process.pid, host: hostname(), command: commandLine(), started_at: new Date().toISOString() };
    if (tryCreate(path, holder)) return new RunLock(path, holder);
    const current = readHolder(path);
    if (current !== null && !isStale(current)) throw lockedError(runRoot, path, current);
    if (current === null && existsSync(path)) throw corruptLockError(runRoot, path);
    // The holder is dead (or released between our two looks): take over, then make sure we won.
    rmSync(path, { force: true });
    if (!tryCreate(path, holder)) throw lockedError(runRoot, path, readHolder(path) ?? holder);
    if (current !== null) {
      note(`[run] took over the stale lock ${path} of pid ${current.pid} (${current.command}, started ${current.started_at}), which is no longer running`);
    }
    return new RunLock(path, holder);
  }

  /** Removes the lock if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    const current = readHolder(this.path);
    if (current !== null && current.pid === this.holder.pid && current.started_at === this.holder.started_at) {
      rmSync(this.path, { force: true });
    }
  }
}

/** Runs `work` while holding the lock of `runRoot`. */
export async function withRunLock<T>(runRoot: string, note: (message: string) => void, work: () => Promise<T> | T): Promise<T> {
  const lock = RunLock.acquire(runRoot, note);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

function tryCreate(path: string, holder: LockHolder): boolean {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(holder, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** The holder recorded in `path`, or null when the file is gone or unreadable as a lock. */
function readHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null; // released between our two looks
  }
  try {
    const parsed = LockHolderSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** True when the holder ran on this host and its process no longer exists. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to another user, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function lockedError(runRoot: string, path: string, holder: LockHolder): RunLockedError {
  const where = holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.host}`;
  return new RunLockedError('run_locked', `${runRoot} is in use by ${where} (\`${holder.command}\`, started ${holder.started_at})`, {
    hint:
      holder.host === hostname()
        ? `Wait for that command to finish or stop it (kill ${holder.pid}); a lock of a process that has exited is taken over automatically.`
        : `Wait for that command to finish; if it is certainly gone, delete ${path}.`,
    context: { path, ...holder },
  });
}

function corruptLockError(runRoot: string, path: string): RunLockedError {
  return new RunLockedError('run_lock_invalid', `${runRoot}: the lock file ${path} is not an mgsd lock (edited or damaged)`, {
    hint: `Make sure no mgsd command is writing into ${runRoot}, then delete ${path}.`,
    context: { path },
  });
}

function commandLine(): string {
  return ['mgsd', ...process.argv.slice(2)].join(' ');
}
