/**
 * Writing a directory atomically: everything goes into `<out>.tmp-<pid>`, which is renamed to
 * `<out>` only when complete. A failed build removes its staging directory, so `<out>` is either
 * absent, the previous complete version, or the new complete version — never half-written.
 *
 * NOTE: a process killed by a signal cannot clean up; a stale `<out>.tmp-<pid>` may then remain
 * (it is never mistaken for a dataset, and the next build of `<out>` uses its own pid).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { DataError } from '../errors.js';

/** A directory being written; it records the sha256 of every file it writes. */
export class StagingDir {
  /** Relative POSIX path → sha256 hex of the bytes written. */
  readonly hashes = new Map<string, string>();
  private readonly madeDirs = new Set<string>();

  constructor(readonly path: string) {}

  /** Writes `data` at `relativePath` (POSIX separators), creating folders as needed. */
  writeFile(relativePath: string, data: Uint8Array | string): void {
    const target = join(this.path, relativePath);
    const folder = dirname(target);
    if (!this.madeDirs.has(folder)) {
      mkdirSync(folder, { recursive: true });
      this.madeDirs.add(folder);
    }
    writeFileSync(target, data);
    this.hashes.set(relativePath, createHash('sha256').update(data).digest('hex'));
  }

  /** The hashes sorted by path (the manifest's `files`). */
  sortedHashes(): Record<string, string> {
    return Object.fromEntries([...this.hashes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/** How `writeAtomicDir` treats an existing output directory. */
export interface AtomicDirOptions {
  /** Replace an existing `<out>` (it is removed only after the new one is complete). */
  shouldReplace: boolean;
}

/** Fails early when `out` exists and may not be replaced. */
export function assertWritableOutput(out: string, options: AtomicDirOptions): void {
  if (existsSync(out) && !options.shouldReplace) {
    throw new DataError('output_exists', `output directory ${out} already exists`, {
      hint: 'Choose another --out, delete it, or pass --force to replace it.',
      context: { out },
    });
  }
}

/**
 * Runs `fill` on a fresh staging directory next to `out`, then moves it into place.
 * On any error the staging directory is removed and the error is rethrown unchanged.
 */
export function writeAtomicDir<T>(out: string, options: AtomicDirOptions, fill: (dir: StagingDir) => T): T {
  const target = resolve(out);
  assertWritableOutput(target, options);
  mkdirSync(dirname(target), { recursive: true });
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  try {
    const result = fill(new StagingDir(staging));
    commit(staging, target, options);
    return result;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

function commit(staging: string, target: string, options: AtomicDirOptions): void {
  if (!existsSync(target)) {
    renameSync(staging, target);
    return;
  }
  assertWritableOutput(target, options);
  const old = `${target}.old-${process.pid}`;
  renameSync(target, old);
  renameSync(staging, target);
  rmSync(old, { recursive: true, force: true });
}
