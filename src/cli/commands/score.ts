/**
 * `mgsd score`: grade responses produced anywhere against one or more datasets, print the
 * per-task/per-level table and the all-task macro, optionally write one graded line per response
 * and a JSON summary. Records without a response count as failures unless `--missing skip`.
 *
 * Parser and simulation settings come from `--config` (or the schema defaults); each flag
 * overrides exactly one key: --profile → profile, --block → parser.block, --require-tag →
 * parser.requireTag, --unknown-tokens → parser.unknownTokens, --out-of-bounds → parser.outOfBounds.
 * Outputs never overwrite an input nor land in a dataset, and are written atomically.
 * (`exitOverride` is set here because commands added with `addCommand` do not inherit it.)
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { Command, Option } from 'commander';
import { z } from 'zod';

import { openDataset } from '../../data/dataset.js';
import { formatJsonl } from '../../data/jsonl.js';
import { assertSafeOutput } from '../../experiment/output-guard.js';
import { assertWritableFile, writeFileAtomic, writeJsonAtomic } from '../../fs-atomic.js';
import { toScoreLine } from '../../rollout/grade.js';
import { summarizeMetrics } from '../../eval/metrics.js';
import { scoreResponses } from '../../eval/score-responses.js';
import { formatSummaryTable } from '../../eval/summary-table.js';
import { loadConfigSections } from '../config-sections.js';
import { collect } from '../options.js';
import { parseOptions } from '../parse-options.js';

const ScoreOptions = z.object({
  dataset: z.array(z.string()).nonempty('give at least one --dataset'),
  split: z.enum(['train', 'val', 'test']),
  missing: z.enum(['fail', 'skip']),
  responses: z.string(),
  out: z.string().optional(),
  summary: z.string().optional(),
  config: z.string().optional(),
  set: z.array(z.string()),
  profile: z.enum(['paper', 'compact']).optional(),
  block: z.enum(['first', 'last']).optional(),
  requireTag: z.boolean().optional(),
  unknownTokens: z.enum(['fail', 'skip']).optional(),
  outOfBounds: z.enum(['fail', 'stay']).optional(),
});
type ScoreOptions = z.infer<typeof ScoreOptions>;

/** The config keys the flags override, as `--set` expressions (so defaults stay in the schema). */
function flagOverrides(options: ScoreOptions): string[] {
  const pairs: Array<[string, string | boolean | undefined]> = [
    ['profile', options.profile],
    ['parser.block', options.block],
    ['parser.requireTag', options.requireTag],
    ['parser.unknownTokens', options.unknownTokens],
    ['parser.outOfBounds', options.outOfBounds],
  ];
  return pairs.flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${String(value)}`]));
}

/**
 * Refuses, before any scoring, an output that would overwrite an input (the responses, the
 * dataset, the config, or the other output) or land inside a dataset, and one that cannot be written.
 */
function checkOutputs(options: ScoreOptions): void {
  const inputs = [
    { label: '--responses', path: options.responses },
    ...options.dataset.map((path) => ({ label: '--dataset', path })),
    ...(options.config !== undefined && existsSync(options.config) ? [{ label: '--config', path: options.config }] : []),
  ];
  if (options.out !== undefined) {
    assertSafeOutput('--out', options.out, inputs);
    assertWritableFile(resolve(options.out), { label: '--out' });
  }
  if (options.summary !== undefined) {
    const others = options.out === undefined ? inputs : [...inputs, { label: '--out', path: options.out }];
    assertSafeOutput('--summary', options.summary, others);
    assertWritableFile(resolve(options.summary), { label: '--summary' });
  }
}

/** `mgsd score`. */
export function scoreCommand(): Command {
  return new Command('score')
    .exitOverride()
    .description('grade a JSONL file of {"id", "response"} lines against one or more datasets; print success per task and level and the all-task macro')
    .requiredOption('--dataset <dir>', 'dataset directory, built or imported (repeatable: e.g. FrozenLake and MiniBehaviour sets together)', collect, [])
    .addOption(new Option('--split <split>', 'the split the responses answer').choices(['train', 'val', 'test']).default('test'))
    .addOption(new Option('--missing <policy>', 'records without a response: count as failures, or leave out of the denominator').choices(['fail', 'skip']).default('fail'))
    .requiredOption('--responses <file.jsonl>', 'one {"id": ..., "response": "..."} per line')
    .option('--out <file.jsonl>', 'write one graded line per response')
    .option('--summary <file.json>', 'write the summary as JSON')
    .option('-c, --config <preset|file>', 'take profile and parser.* from this config (default: the schema defaults)')
    .option('--set <key.path=value>', 'override one config key (repeatable)', collect, [])
    .addOption(new Option('--profile <profile>', 'answer format (profile)').choices(['paper', 'compact']))
    .addOption(new Option('--block <which>', 'which <answer> block counts (parser.block)').choices(['first', 'last']))
    .option('--require-tag', 'a response without an answer block has no plan (parser.requireTag)')
    .addOption(new Option('--unknown-tokens <mode>', 'unknown tokens fail the plan or are skipped (parser.unknownTokens)').choices(['fail', 'skip']))
    .addOption(new Option('--out-of-bounds <mode>', 'a move off the grid fails or stays put (parser.outOfBounds)').choices(['fail', 'stay']))
    .action((raw) => {
      const options = parseOptions('score', ScoreOptions, raw);
      checkOutputs(options);
      const sections = loadConfigSections(options.config, [...options.set, ...flagOverrides(options)]);
      const { outOfBounds, ...parser } = sections.parser;
      const datasets = options.dataset.map((dir) => openDataset(dir));
      const scope = { split: options.split, missing: options.missing };
      const scored = scoreResponses(datasets, resolve(options.responses), { profile: sections.profile, parser, rules: { outOfBounds } }, scope);
      const summary = summarizeMetrics(scored.graded);
      const settings = { profile: sections.profile, parser: sections.parser, datasets: datasets.map((d) => d.dir), split: options.split, responses: resolve(options.responses) };
      // --out holds the answered responses only; missing records appear in the counts.
      if (options.out !== undefined) writeFileAtomic(resolve(options.out), formatJsonl(scored.graded.slice(0, scored.answered).map(toScoreLine)), { label: '--out' });
      const counts = { answered: scored.answered, missing: scored.missing, missing_policy: scored.missingPolicy };
      if (options.summary !== undefined) writeJsonAtomic(resolve(options.summary), { settings, ...counts, ...summary }, { label: '--summary' });
      const missingText =
        scored.missing === 0 ? 'none missing' : `${scored.missing} ${options.split} records without a response, ${scored.missingPolicy === 'fail' ? 'counted as failures' : 'left out (--missing skip)'}`;
      const header = `scored ${scored.answered} responses (${missingText}); profile ${sections.profile}, parser ${JSON.stringify(sections.parser)}`;
      process.stdout.write(`${header}\n\n${formatSummaryTable(summary)}\n`);
    });
}
