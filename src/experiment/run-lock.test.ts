import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { LOCK_FILE, RunLock, RunLockedError } from './run-lock.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-lock-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has certainly exited. */
function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
}

describe('RunLock', () => {
  it('lets one holder in, refuses a second with the holder named, and frees the directory on release', () => {
    const lock = RunLock.acquire(root);
    const held = JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8')) as Record<string, unknown>;
    expect(held).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => RunLock.acquire(root)).toThrow(RunLockedError);
    expect(() => RunLock.acquire(root)).toThrow(new RegExp(`in use by pid ${process.pid} \\(\`mgsd`));
    lock.release();
    expect(existsSync(join(root, LOCK_FILE))).toBe(false);
    RunLock.acquire(root).release();
  });

  it('takes over the lock of a dead process and says so', () => {
    const stale = { pid: deadPid(), host: hostname(), command: 'mgsd run --out x', started_at: '2026-01-01T00:00:00.000Z' };
    writeFileSync(join(root, LOCK_FILE), JSON.stringify(stale));
    const notes: string[] = [];
    const lock = RunLock.acquire(root, (message) => notes.push(message));
    expect(notes.join('\n')).toMatch(new RegExp(`took over the stale lock .* of pid ${stale.pid}`));
    expect(JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('never guesses about a lock from another host or a damaged lock file', () => {
    writeFileSync(join(root, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', command: 'mgsd run', started_at: 'now' }));
    expect(() => RunLock.acquire(root)).toThrow(/in use by pid 1 on host elsewhere/);
    writeFileSync(join(root, LOCK_FILE), '{"pid": ');
    expect(() => RunLock.acquire(root)).toThrow(/is not an mgsd lock/);
    expect(readFileSync(join(root, LOCK_FILE), 'utf8')).toBe('{"pid": ');
  });
});
