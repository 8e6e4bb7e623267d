/**
 * The tracker sink of a run (`reportTo`, `--report-to`): one Python process
 * (`python -m mgsd_backend.trackers`) that mirrors the run's metrics JSONL logs, as they are
 * appended, to TensorBoard, W&B and MLflow through their own libraries. The JSONL logs stay the
 * record; the sink only reads them. It starts before any stage (a missing library fails the run
 * before work begins, with the pip command) and is closed when the run ends: closing its stdin
 * makes it drain the logs a last time and exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

import { PY_BACKEND_DIR, resolveInterpreter } from '../backend/interpreter.js';
import { BackendError, ConfigError } from '../errors.js';

/** The trackers a run can report to. */
export const TRACKER_NAMES = ['tensorboard', 'wandb', 'mlflow'] as const;
export type TrackerName = (typeof TRACKER_NAMES)[number];

/** Exit status of the sink when a tracker's library is not installed. */
const EXIT_MISSING_LIBRARY = 3;
const CLOSE_TIMEOUT_MS = 60_000;

/** A started sink. */
export interface TrackerSink {
  /** Drains the logs into the trackers and waits for the process to exit. */
  close(): Promise<void>;
}

/** Starts the sink for `runRoot` (logs in `<run>/logs/trackers.log`); resolves once it is ready. */
export async function startTrackerSink(runRoot: string, trackers: readonly TrackerName[], python: string | null): Promise<TrackerSink> {
  const interpreter = resolveInterpreter(python);
  const logPath = join(runRoot, 'logs', 'trackers.log');
  const child = spawn(interpreter.path, ['-m', 'mgsd_backend.trackers', '--run', runRoot, '--to', trackers.join(',')], {
    env: { ...process.env, PYTHONPATH: PY_BACKEND_DIR },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logPath, { flags: 'a' });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    log.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const ready = new Promise<boolean>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!(await ready)) {
    const code = await exited;
    log.end();
    const message = `--report-to ${trackers.join(',')}: the tracker sink exited with status ${code} before it was ready: ${stderr.trim().split('\n').at(-1) ?? ''}`;
    const hint =
      code === EXIT_MISSING_LIBRARY
        ? `Install the trackers' libraries: ${interpreter.path} -m pip install -r requirements-trackers.txt (or drop --report-to). Log: ${logPath}`
        : `The tracker's library refused to start; read ${logPath}, fix its setting, or drop that tracker from --report-to.`;
    throw code === EXIT_MISSING_LIBRARY ? new ConfigError('tracker_missing', message, { hint }) : new BackendError('tracker_failed', message, { hint });
  }
  return { close: () => closeSink(child, exited, log, logPath) };
}

async function closeSink(child: ChildProcess, exited: Promise<number | null>, log: NodeJS.WritableStream, logPath: string): Promise<void> {
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
  const code = await exited;
  clearTimeout(timer);
  log.end();
  if (code !== 0) {
    throw new BackendError('tracker_failed', `the tracker sink exited with status ${code} while mirroring the metrics`, {
      hint: `The JSONL metrics are complete; see ${logPath}.`,
    });
  }
}

/** Parses `--report-to a,b` into tracker names, naming a wrong one. */
export function parseTrackers(list: string): TrackerName[] {
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!(TRACKER_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError('bad_tracker', `--report-to: unknown tracker "${name}"`, { hint: `Use a comma-separated list of ${TRACKER_NAMES.join(', ')}.` });
    }
  }
  return names as TrackerName[];
}
