/**
 * `mgsd data build|import|export|show`: datasets on disk (see src/data/). Each action parses its
 * options through a zod schema, maps the config to the plain inputs `data/` takes, and prints a
 * short result; progress goes to stderr.
 *
 * NOTE: commands added with `addCommand` do not inherit the program's `exitOverride`, so each
 * command here sets its own; `cli/main.ts` then maps commander's errors to exit code 2.
 */
import { dirname, resolve } from 'node:path';

import { Argument, Command, Option } from 'commander';
import { z } from 'zod';

import { resolveBenchmarkFile } from '../../data/benchmarks.js';
import { buildDataset } from '../../data/build.js';
import { findRecord, firstRecord, openDataset } from '../../data/dataset.js';
import { exportDataset } from '../../data/export.js';
import { importBenchmark } from '../../data/import.js';
import { readToolVersion } from '../../data/manifest.js';
import { BENCHMARK_KINDS, READ_ORDER, SPLITS } from '../../data/schema.js';
import { showRecord } from '../../data/show.js';
import { toBuildInput } from '../../experiment/dataset-input.js';
import { DEFAULT_PRESET, loadConfig } from '../../experiment/load.js';
import { assertSafeOutput } from '../../experiment/output-guard.js';
import { escapeForTerminal } from '../../errors.js';
import { assertWritableFile, writeFileAtomic } from '../../fs-atomic.js';
import { loadConfigSections } from '../config-sections.js';
import { collect, stderrProgress } from '../options.js';
import { parseOptions } from '../parse-options.js';

const PROFILES = ['paper', 'compact'] as const;

const BuildOptions = z.object({ config: z.string(), set: z.array(z.string()), out: z.string(), force: z.boolean().default(false) });

function buildCommand(): Command {
  return new Command('build')
    .exitOverride()
    .description('generate train/val/test splits per task and level (deduplicated, seeded), render them, write a manifest')
    .option('-c, --config <preset|file>', 'preset name under configs/ or a YAML file', DEFAULT_PRESET)
    .option('--set <key.path=value>', 'override one config key (repeatable)', collect, [])
    .requiredOption('--out <dir>', 'dataset directory to create')
    .option('--force', 'replace --out if it exists (only once the new dataset is complete)')
    .action((raw) => {
      const options = parseOptions('data build', BuildOptions, raw);
      const { config, source } = loadConfig(options.config, options.set);
      const started = performance.now();
      const manifest = buildDataset(toBuildInput(config), {
        out: options.out,
        shouldReplace: options.force,
        toolVersion: readToolVersion(),
        progress: stderrProgress(),
        configDir: dirname(source),
      });
      const records = Object.keys(manifest.files).filter((file) => file.endsWith('.png')).length;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(`wrote ${records} instances to ${resolve(options.out)} in ${seconds}s (data.seed ${config.data.seed})\n`);
    });
}

const ImportOptions = z.object({
  kind: z.enum(BENCHMARK_KINDS),
  file: z.string(),
  out: z.string(),
  skipInvalid: z.boolean().default(false),
  config: z.string().optional(),
  set: z.array(z.string()),
  levels: z.string().regex(/^\d+(,\d+)*$/, 'expected levels like 3,4').optional(),
  limitPerLevel: z.coerce.number().int().nonnegative().default(0),
  force: z.boolean().default(false),
});

function importCommand(): Command {
  return new Command('import')
    .exitOverride()
    .description('import a published test set (benchmarks/README.md) as a dataset with split "test"')
    .addArgument(new Argument('<kind>', 'the format of the file').choices(BENCHMARK_KINDS))
    .argument('<file>', 'the published JSONL file, e.g. benchmarks/vsp-frozenlake.jsonl')
    .requiredOption('--out <dir>', 'dataset directory to create')
    .option('--skip-invalid', 'import the valid lines and list the malformed ones (default: any malformed line fails)')
    .option('-c, --config <preset|file>', 'take data.renderStyle/imageSizePx from this config (default: the schema defaults)')
    .option('--set <key.path=value>', 'override one config key (repeatable)', collect, [])
    .option('--levels <list>', 'import only these levels, e.g. 3,4')
    .option('--limit-per-level <n>', 'keep at most n records per level, in file order (0 = all)')
    .option('--force', 'replace --out if it exists')
    .action((kind: string, file: string, raw) => {
      const options = parseOptions('data import', ImportOptions, { ...raw, kind, file }, ['kind', 'file']);
      const { data } = loadConfigSections(options.config, options.set);
      const result = importBenchmark(
        {
          kind: options.kind,
          file: resolveBenchmarkFile(options.file),
          render: { style: data.renderStyle, sizePx: data.imageSizePx },
          shouldSkipInvalid: options.skipInvalid,
          limitPerLevel: options.limitPerLevel,
          levels: options.levels === undefined ? null : options.levels.split(',').map(Number),
        },
        { out: options.out, shouldReplace: options.force, toolVersion: readToolVersion(), progress: stderrProgress() },
      );
      for (const line of result.skipped) process.stderr.write(`skipped ${escapeForTerminal(line)}\n`);
      process.stdout.write(`imported ${result.imported} records into ${resolve(options.out)} (${result.skipped.length} skipped)\n`);
    });
}

const ExportOptions = z.object({
  dir: z.string(),
  format: z.enum(['llamafactory', 'jsonl']),
  out: z.string(),
  profile: z.enum(PROFILES).optional(),
  target: z.enum(['plan', 'perception']),
  split: z.enum([...SPLITS, 'all']),
});

function exportCommand(): Command {
  return new Command('export')
    .exitOverride()
    .description('write a dataset as supervised rows: LLaMA-Factory sharegpt (+ dataset_info.json) or plain JSONL')
    .argument('<dir>', 'dataset directory')
    .addOption(new Option('--format <format>', 'output format').choices(['llamafactory', 'jsonl']).makeOptionMandatory())
    .requiredOption('--out <file>', 'output JSONL file')
    .addOption(new Option('--profile <profile>', 'prompt profile (default: the config schema default)').choices(PROFILES))
    .addOption(new Option('--target <target>', 'what the response teaches').choices(['plan', 'perception']).default('plan'))
    .addOption(new Option('--split <split>', 'which split(s)').choices([...SPLITS, 'all']).default('all'))
    .action((dir: string, raw) => {
      const options = parseOptions('data export', ExportOptions, { ...raw, dir }, ['dir']);
      assertSafeOutput('--out', options.out, [{ label: '<dir>', path: options.dir }]);
      assertWritableFile(resolve(options.out), { label: '--out' });
      const profile = options.profile ?? loadConfigSections(undefined, []).profile;
      const result = exportDataset(openDataset(options.dir), {
        format: options.format,
        profile,
        target: options.target,
        splits: options.split === 'all' ? null : [options.split],
        out: options.out,
      });
      const info = result.datasetInfo === null ? '' : ` (entry added to ${result.datasetInfo})`;
      process.stdout.write(`wrote ${result.rows} ${options.format} rows (${profile} profile, ${options.target}) to ${result.out}${info}\n`);
    });
}

const ShowOptions = z.object({
  dir: z.string(),
  id: z.string().optional(),
  out: z.string().optional(),
  profile: z.enum(PROFILES).optional(),
  plan: z.boolean().default(false),
});

function showCommand(): Command {
  return new Command('show')
    .exitOverride()
    .description('print one record (state, optimal length, number of optimal plans, one optimal plan) and write its PNG')
    .argument('<dir>', 'dataset directory')
    .option('--id <id>', `record id (default: the first record, splits read in the order ${READ_ORDER.join(', ')})`)
    .option('--out <file.png>', 'where to write the PNG (default: <id>.png in the current directory)')
    .addOption(new Option('--profile <profile>', 'prompt profile of the printed state').choices(PROFILES))
    .option('--plan', 'draw the optimal plan on the image')
    .action((dir: string, raw) => {
      const options = parseOptions('data show', ShowOptions, { ...raw, dir }, ['dir']);
      const dataset = openDataset(options.dir);
      const record = options.id === undefined ? firstRecord(dataset) : findRecord(dataset, options.id);
      const profile = options.profile ?? loadConfigSections(undefined, []).profile;
      const view = showRecord(dataset, record, profile, options.plan);
      const out = resolve(options.out ?? `${record.id.replaceAll('/', '_')}.png`);
      assertSafeOutput('--out', out, [{ label: '<dir>', path: options.dir }]);
      writeFileAtomic(out, view.png, { label: '--out' });
      process.stdout.write(`${escapeForTerminal(view.text)}\n\nwrote ${out}\n`);
    });
}

/** `mgsd data`: the dataset subcommands. */
export function dataCommand(): Command {
  return new Command('data')
    .exitOverride()
    .description('build, import, export and inspect datasets')
    .addCommand(buildCommand())
    .addCommand(importCommand())
    .addCommand(exportCommand())
    .addCommand(showCommand());
}
