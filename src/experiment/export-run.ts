/**
 * `mgsd export`: writes one trained model of a run in its own hub layout, so other tools load it
 * without mgsd — for `hf`, config.json + safetensors + tokenizer/processor files that
 * `transformers` `from_pretrained` (and so vLLM) loads; for `tiny`, its config and safetensors.
 *
 * The run's worker loads the model exactly as evaluation does (from a full or a DCP checkpoint,
 * frozen, in model.dtype) and saves it with the `save` op's `hub` layout, which writes into a
 * temporary directory beside `out` and renames it into place. `out` must not exist, and may not lie
 * inside the run, the checkpoint or a dataset (output-guard.ts): an export never writes over an input.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { BackendClient } from '../backend/client.js';
import { ConfigError } from '../errors.js';
import { checkpointOf } from './evaluate-run.js';
import { validateWrittenConfig } from './load.js';
import { loadRequest } from './models.js';
import { assertSafeOutput } from './output-guard.js';
import { RunDir } from './run-dir.js';

/** What to export. */
export interface ExportRequest {
  run: string;
  /** A model name of the run (base, sft, mgsd, …) or a checkpoint directory. */
  model: string;
  out: string;
}

/** Exports and returns the files written (relative to `out`). */
export async function exportRun(request: ExportRequest): Promise<{ out: string; files: string[] }> {
  const run = new RunDir(request.run);
  const config = validateWrittenConfig(run.readConfig().raw, run.config);
  const checkpoint = checkpointOf(run, config, request.model);
  const out = resolve(request.out);
  assertSafeOutput('--out', out, [
    { label: '--run', path: run.root },
    ...(checkpoint === null ? [] : [{ label: '--model', path: checkpoint }]),
  ]);
  if (existsSync(out)) {
    throw new ConfigError('output_exists', `--out ${out} already exists; an export never writes over a directory`, {
      hint: 'Pick a new directory, or remove the old export first.',
    });
  }
  const client = await BackendClient.start({
    workers: { export: { threads: 2 } },
    logDir: run.logs,
    python: config.backend.python,
    startTimeoutMs: config.backend.startTimeoutMs,
    requestTimeoutMs: config.backend.requestTimeoutMs,
  });
  try {
    const worker = client.worker('export');
    await worker.load(loadRequest(config, 'export', checkpoint, null));
    const reply = await worker.save({ role: 'export', dir: out, include_optimizer: false, layout: 'hub' });
    return { out, files: reply.result.files };
  } finally {
    await client.close();
  }
}
