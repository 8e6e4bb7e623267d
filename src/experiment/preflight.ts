/**
 * Checks that a config fits this machine BEFORE any work: the Python interpreter exists, an `hf`
 * model has transformers and peft, a CUDA config sees a CUDA device. Each failure says what to
 * change. (A worker's hello lists its devices, so the CUDA check runs right after the workers start
 * and before the dataset is built.)
 */
import { execa } from 'execa';

import type { BackendClient } from '../backend/client.js';
import { resolveInterpreter, workerEnv } from '../backend/interpreter.js';
import { BackendError, ConfigError } from '../errors.js';
import type { ExperimentConfig } from './config.js';

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
