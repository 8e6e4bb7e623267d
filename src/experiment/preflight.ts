/**
 * Checks that a config fits this machine BEFORE any work: the Python interpreter exists, an `hf`
 * model has transformers and peft, a CUDA config sees a CUDA device. Each failure says what to
 * change. (A worker's hello lists its devices, so the CUDA check runs right after the workers start
 * and before the dataset is built.) For hf runs it also prints the per-GPU memory plan and refuses a
 * layout that cannot fit, and it warns when bf16 weights updated in place would round the updates away.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { execa } from 'execa';

import type { BackendClient } from '../backend/client.js';
import { resolveInterpreter, workerEnv } from '../backend/interpreter.js';
import { BackendError, ConfigError } from '../errors.js';
import { grpoPrompts } from '../train/grpo.js';
import type { ExperimentConfig } from './config.js';
import { assertFits, formatPlan, type MemoryLayout, planMemory, shapeOfConfig } from './memory-plan.js';

/** Interpreter and packages; throws with what to install. */
export async function checkPython(config: ExperimentConfig): Promise<void> {
  const interpreter = resolveInterpreter(config.backend.python);
  if (config.model.kind !== 'hf') return;
  const probe = await execa(interpreter.path, ['-c', 'import transformers, peft; print(transformers.__version__)'], {
    env: workerEnv(),
    reject: false,
    timeout: 120_000,
  });
  if (probe.exitCode !== 0) {
    throw new ConfigError('hf_unavailable', `model.kind "hf" needs transformers and peft, which ${interpreter.path} cannot import:\n${String(probe.stderr).trim().split('\n').slice(-1)[0]}`, {
      hint: 'Run `npm run setup` (installs requirements.txt into .venv), or point backend.python / MGSD_PYTHON at a Python that has them.',
    });
  }
}

/** A CUDA config on a worker without CUDA fails here, before any training. */
export function checkDevices(client: BackendClient, config: ExperimentConfig): void {
  if (config.model.device !== 'cuda') return;
  for (const name of client.names) {
    const hello = client.worker(name).hello as { devices?: Array<{ id: string }> };
    if (!(hello.devices ?? []).some((device) => device.id.startsWith('cuda'))) {
      throw new BackendError('no_cuda', `model.device is "cuda" but worker ${name} sees no CUDA device (${JSON.stringify(hello.devices ?? [])})`, {
        hint: 'Run on a machine with a GPU, or use the tiny preset on CPU (--set model.device=cpu only suits small models).',
      });
    }
  }
}

/** Typical |weight| of a pretrained transformer matrix (Qwen's initializer_range): the scale the rounding check uses. */
const TYPICAL_WEIGHT = 0.02;

/** Half a bf16 ulp at |w| (8 significant bits): an in-place update smaller than this rounds away. */
export function halfBf16Ulp(weight: number): number {
  return 2 ** (Math.floor(Math.log2(Math.abs(weight))) - 8);
}

/**
 * Warnings for trained stages whose updates bf16 weights would round away: AdamW moves each weight by
 * about lr per step, and with bf16 weights updated in place (model.masterWeights bf16, or any tiny
 * model in bfloat16) an update below half an ulp of a typical weight is lost.
 */
export function updateRoundingWarnings(config: ExperimentConfig): string[] {
  if (config.model.dtype !== 'bfloat16') return [];
  if (config.model.kind === 'hf' && config.model.masterWeights === 'fp32') return [];
  const limit = halfBf16Ulp(TYPICAL_WEIGHT);
  const stages: Array<[string, { enabled: boolean; lr: number }]> = [
    ['stages.sft', config.stages.sft],
    ['stages.opsd', config.stages.opsd],
    ['baselines.visualSft', config.baselines.visualSft],
    ['baselines.grpo', config.baselines.grpo],
  ];
  if (config.model.kind === 'tiny') stages.unshift(['stages.base', config.stages.base]);
  const fix = config.model.kind === 'hf' ? 'set model.masterWeights to fp32' : 'set model.dtype to float32';
  return stages
    .filter(([, stage]) => stage.enabled && stage.lr < limit)
    .map(
      ([key, stage]) =>
        `[preflight] warning: ${key}.lr ${stage.lr} with bf16 weights updated in place: AdamW moves a weight by about lr per step, ` +
        `below half a bf16 ulp (${limit.toExponential(2)}) of a typical weight (|w| ≈ ${TYPICAL_WEIGHT}), so most updates round away ` +
        `(the metrics' update_changed_fraction shows it). To train for real, ${fix}.`,
    );
}

/** Where a hub id's config.json sits in the local Hugging Face cache, if it does. */
function cachedConfigJson(hubId: string): string | null {
  const home = process.env.HF_HOME ?? join(homedir(), '.cache', 'huggingface');
  const snapshots = join(process.env.HF_HUB_CACHE ?? join(home, 'hub'), `models--${hubId.replaceAll('/', '--')}`, 'snapshots');
  if (!existsSync(snapshots)) return null;
  const found = readdirSync(snapshots).map((name) => join(snapshots, name, 'config.json')).filter((path) => existsSync(path));
  return found[0] ?? null;
}

/**
 * The hf memory plan (memory-plan.ts) of the OPSD stage on a CUDA config: returns the lines to print
 * and throws a ConfigError saying what to change when it cannot fit the GPU (backend.gpuMemoryGiB, or
 * the largest CUDA device in the workers' hello).
 */
export function checkMemoryPlan(client: BackendClient | null, config: ExperimentConfig, ranks: number): string[] {
  if (config.model.kind !== 'hf' || config.model.device !== 'cuda' || !config.stages.opsd.enabled) return [];
  const path = config.model.path!;
  const file = existsSync(join(path, 'config.json')) ? join(path, 'config.json') : cachedConfigJson(path);
  if (file === null) return [`[memory] no plan: the config.json of ${path} is not on this machine (a local directory or the Hugging Face cache)`];
  const shape = shapeOfConfig(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>, file);
  const opsd = config.stages.opsd;
  const layout: MemoryLayout = {
    shape,
    ranks,
    masterWeights: config.model.masterWeights,
    computeBytes: config.model.dtype === 'float32' ? 4 : 2,
    hasTeacher: !config.backend.separateTeacherWorker,
    teacherCpuOffload: config.model.teacherCpuOffload,
    gradientCheckpointing: config.model.gradientCheckpointing,
    microBatchRows: config.backend.microBatchSize ?? Math.ceil(opsd.batchSize / ranks),
    // The prompt: one token per 32×32 image pixels plus ~256 tokens of instructions.
    tokensPerRow: (config.data.imageSizePx / 32) ** 2 + 256 + opsd.rollout.maxNewTokens,
  };
  const mib = config.backend.gpuMemoryGiB !== null ? config.backend.gpuMemoryGiB * 1024 : largestCudaMib(client);
  const gpuBytes = mib === null ? null : mib * 2 ** 20;
  const lines = formatPlan(planMemory(layout), layout, gpuBytes);
  if (gpuBytes !== null) assertFits(layout, gpuBytes);
  return lines;
}

function largestCudaMib(client: BackendClient | null): number | null {
  if (client === null) return null;
  const sizes = client.names.flatMap((name) => {
    const hello = client.worker(name).hello as { devices?: Array<{ id: string; memory_mib?: number | null }> };
    return (hello.devices ?? []).filter((d) => d.id.startsWith('cuda') && typeof d.memory_mib === 'number').map((d) => d.memory_mib as number);
  });
  return sizes.length === 0 ? null : Math.max(...sizes);
}

/**
 * An `hf` model in a group of `ranks` is sharded (FSDP2), and every forward/backward is a collective,
 * so each training step must give every rank rows and the same number of micro-batches (the worker
 * refuses such a step too, but only when the stage reaches it). Throws a ConfigError naming the keys.
 */
export function checkShardedBatches(config: ExperimentConfig, ranks: number): void {
  if (config.model.kind !== 'hf' || ranks <= 1) return;
  const { stages, baselines } = config;
  const steps: Array<[string, number]> = [
    ...(stages.sft.enabled ? [['stages.sft.batchSize', stages.sft.batchSize] as [string, number]] : []),
    ...(stages.opsd.enabled ? [['stages.opsd.batchSize', stages.opsd.batchSize] as [string, number]] : []),
    ...(baselines.visualSft.enabled ? [['baselines.visualSft.batchSize', baselines.visualSft.batchSize] as [string, number]] : []),
    ...(baselines.grpo.enabled
      ? [['baselines.grpo.batchSize', grpoPrompts(baselines.grpo.batchSize, baselines.grpo.groupSize) * baselines.grpo.groupSize] as [string, number]]
      : []),
  ];
  const micro = config.backend.microBatchSize;
  const passes = (rows: number): number => (micro === null ? 1 : Math.ceil(rows / micro));
  const uneven = steps.filter(([, rows]) => {
    const most = Math.ceil(rows / ranks);
    const least = Math.floor(rows / ranks);
    return least === 0 || passes(most) !== passes(least);
  });
  if (uneven.length === 0) return;
  const unit = ranks * (micro ?? 1);
  throw new ConfigError(
    'sharded_batch_uneven',
    `${uneven.map(([key, rows]) => `${key} (${rows} rows per step)`).join(', ')} over backend.ranks ${ranks} gives the ranks of the sharded (FSDP2) model unequal forward/backward passes`,
    { hint: `Use batch sizes that are multiples of ${unit} (ranks × backend.microBatchSize), or change backend.ranks.` },
  );
}
