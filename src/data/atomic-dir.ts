/**
 * Writing a directory atomically: everything goes into `<out>.tmp-<pid>`, which is renamed to
 * `<out>` only when complete. A failed build removes its staging directory, so `<out>` is either
 * absent, the previous complete version, or the new complete version — never half-written.
 *
 * NOTE: a process killed by a signal cannot clean up; a stale `<out>.tmp-<pid>` may then remain
 * (it is never mistaken for a dataset, and the next build of `<out>` uses its own pid).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { DataError, MgsdError } from '../errors.js';
import { writeError } from '../fs-atomic.js';
import { DATASET_FORMAT, isDatasetDir, MANIFEST_FILE } from './manifest.js';

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

/**
 * Fails early when `out` exists and may not be replaced. `--force` replaces only a dataset mgsd
 * wrote (recognised by its manifest) or an empty folder: never a file, a run, or any other folder.
 */
export function assertWritableOutput(out: string, options: AtomicDirOptions): void {
  if (!existsSync(out)) return;
  const stat = statSync(out);
  if (!options.shouldReplace) {
    const what = stat.isDirectory() ? 'directory' : 'file';
    throw new DataError('output_exists', `--out ${out}: a ${what} with that name already exists`, {
      hint: isDatasetDir(out)
        ? 'Choose another --out, or pass --force to replace that dataset.'
        : stat.isDirectory() && readdirSync(out).length === 0
          ? 'Choose another --out, or pass --force to use this empty folder.'
          : 'Choose another --out.',
      context: { out },
    });
  }
  if (!stat.isDirectory()) {
    throw new DataError('output_not_dataset', `--out ${out} is a file, not a dataset directory; --force replaces only a dataset mgsd wrote`, {
      hint: 'Choose another --out (mgsd never deletes a file it did not write).',
      context: { out },
    });
  }
  if (!isDatasetDir(out) && readdirSync(out).length > 0) {
    throw new DataError('output_not_dataset', `--out ${out} is not a dataset mgsd wrote (no ${MANIFEST_FILE} of format ${DATASET_FORMAT}); --force replaces only such a dataset`, {
      hint: 'Choose another --out, or an empty folder (mgsd never deletes a folder it did not write).',
      context: { out },
    });
  }
}

/**
 * Runs `fill` on a fresh staging directory next to `out`, then moves it into place.
 * On any error the staging directory is removed; a file-system error (full disk, no permission)
 * is reported for `--out <out>`, never for the staging path the user did not choose.
 */
export function writeAtomicDir<T>(out: string, options: AtomicDirOptions, fill: (dir: StagingDir) => T): T {
  const target = resolve(out);
  assertWritableOutput(target, options);
  const staging = `${target}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(target), { recursive: true });
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging);
    const result = fill(new StagingDir(staging));
    commit(staging, target, options);
    return result;
  } catch (error) {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
    const isSystemError = typeof (error as NodeJS.ErrnoException).code === 'string' && !(error instanceof MgsdError);
    throw isSystemError ? writeError(target, error, { label: '--out' }) : error;
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
