/**
 * `npm run bench:peer`: mgsd's OPSD step against TRL's `DistillationTrainer` on the same tiny random
 * Qwen3-VL, views, batch, response length and threads (not part of `npm test`; it installs TRL into
 * its own venv, `.venv-peer/`, on first use).
 *
 * This side builds the inputs, because every prompt comes from the tasks' `prompts.ts`:
 * - `real`: mgsd's real OPSD views for FrozenLake instances, 4 per step and new ones every step
 *   (paper profile, as the Qwen presets):
 *   the student view with one 256 px paper-style image each, and the frozen teacher's text-only
 *   view (symbolic state + reference plan);
 * - `short`: one short instruction with the same instances rendered at 64 px (fixed overheads).
 * It writes them to a temp JSON file and runs `python -m mgsd_backend.bench_peer` (interpreter:
 * `$MGSD_PYTHON` or the project's `.venv`), passing this process's arguments through (e.g.
 * `--rounds 3 --steps 6 --threads-list 1,2`). Progress goes to stderr; the Python side prints the
 * table and, as the last stdout line, one JSON object, forwarded unchanged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { execa } from 'execa';

import { PROJECT_ROOT, resolveInterpreter, workerEnv } from '../backend/interpreter.js';
import { image, text, type ChatView } from '../chat.js';
import { deriveSeed, getEnv } from '../envs/index.js';
import type { Instance } from '../envs/types.js';

const TASK = 'frozenlake';
const LEVELS = [3, 4, 5, 6] as const; // one instance per level in each batch (the Qwen presets' FrozenLake levels)
const BATCH = LEVELS.length;
/** Distinct batches: every step of a run (warm-up included) sees new prompts, as an OPSD run does. */
const BATCHES = 16;
const SHORT_INSTRUCTION = 'Plan the shortest safe path.';

/** One benchmark case as the Python side reads it. */
interface PeerCase {
  /** Rows [b * batch, (b + 1) * batch) form step b's batch. */
  batch: number;
  student_views: ChatView[];
  teacher_views: ChatView[];
  images_b64: string;
  px: number;
}

/** The benchmark's inputs (exported for ad-hoc runs of the Python sides). */
export function buildCases(): Record<string, PeerCase> {
  const env = getEnv(TASK);
  const instances: Instance[] = Array.from({ length: BATCH * BATCHES }, (_, i) =>
    env.spec.generate(LEVELS[i % BATCH]!, deriveSeed('bench-peer', i), { bucket: null, holeProbability: 0.1, minPathLength: 2 }),
  );
  const teacherViews = instances.map((instance) =>
    env.prompts.teacherView(instance as never, 'paper', env.spec.solve(instance as never).plan),
  );
  const images = (px: number): string => {
    const data = new Uint8Array(instances.length * px * px * 3);
    instances.forEach((instance, i) => {
      const raster = env.spec.render(instance as never, { style: 'paper', sizePx: px });
      if (raster.width !== px || raster.height !== px) throw new Error(`bench:peer: render gave ${raster.width}x${raster.height}, asked ${px}`);
      data.set(raster.rgb, i * px * px * 3);
    });
    return Buffer.from(data).toString('base64');
  };
  const shortView: ChatView = [{ role: 'user', content: [image(), text(SHORT_INSTRUCTION)] }];
  return {
    real: {
      batch: BATCH,
      student_views: instances.map((instance) => env.prompts.studentView(instance as never, 'paper')),
      teacher_views: teacherViews,
      images_b64: images(256),
      px: 256,
    },
    short: { batch: BATCH, student_views: instances.map(() => shortView), teacher_views: teacherViews, images_b64: images(64), px: 64 },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-bench-peer-'));
  try {
    const specPath = join(dir, 'cases.json');
    writeFileSync(specPath, JSON.stringify({ cases: buildCases() }));
    const python = resolveInterpreter();
    const child = await execa(python.path, ['-m', 'mgsd_backend.bench_peer', '--cases', specPath, ...process.argv.slice(2)], {
      cwd: PROJECT_ROOT,
      env: workerEnv(),
      stderr: 'inherit',
    });
    process.stdout.write(`${child.stdout.trim()}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
