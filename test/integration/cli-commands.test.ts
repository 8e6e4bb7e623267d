/**
 * `mgsd eval`, `mgsd report`, `mgsd config` and `mgsd doctor` run as a user runs them: the built
 * CLI (`bin/mgsd.js`, so `npm run build` first, as `npm test` does), real Python workers, and a run
 * directory made once by a miniature `mgsd run` (seconds). Each test asserts the exit code and what
 * the user sees on stdout/stderr.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/experiment/load.js';
import { miniOverrides } from '../helpers/tiny-setup.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-cli-'));
const RUN = join(WORK, 'run');

interface Result {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function mgsd(...args: string[]): Promise<Result> {
  const result = await execa(process.execPath, [CLI, ...args], { cwd: ROOT, reject: false, timeout: 240_000 });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function jsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('mgsd config', () => {
  it('--list prints every bundled preset, one a line, and exits 0', async () => {
    const result = await mgsd('config', '--list');
    expect(result.exitCode, result.stderr).toBe(0);
    const presets = readdirSync(join(ROOT, 'configs'))
      .filter((file) => file.endsWith('.yaml'))
      .map((file) => file.replace(/\.yaml$/, ''))
      .sort();
    expect(result.stdout.trim().split('\n')).toEqual(presets);
    expect(presets).toContain('tiny');
  });

  it('prints the preset fully resolved, with --set overrides applied and defaults filled', async () => {
    const result = await mgsd('config', '--set', 'seed=7', '--set', 'stages.opsd.steps=3');
    expect(result.exitCode, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, any>;
    expect(printed.seed).toBe(7);
    expect(printed.stages.opsd.steps).toBe(3);
    // Keys the preset file never mentions come back with their schema defaults.
    expect(printed).toEqual(loadConfig('tiny', ['seed=7', 'stages.opsd.steps=3']).config);
    expect(printed.parser).toEqual(expect.objectContaining({ block: expect.any(String) }));
  });

  it('refuses an unknown key with exit 2, naming the key, the file and a remedy', async () => {
    const result = await mgsd('config', '--set', 'nosuch.key=1');
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('configs/tiny.yaml: invalid configuration');
    expect(result.stderr).toContain('Unrecognized key: "nosuch"');
    expect(result.stderr).toMatch(/hint: .*--set key\.path=value/);
  });

  it('refuses a preset that does not exist with exit 2, listing the presets there are', async () => {
    const result = await mgsd('config', '-c', 'no-such-preset');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/config "no-such-preset" not found/);
    expect(result.stderr).toMatch(/hint: .*tiny/);
  });
});

describe('mgsd doctor', () => {
  it('reports every check ok on this machine, bridge self-test included, and exits 0', async () => {
    const result = await mgsd('doctor');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    for (const check of ['node', 'python', 'python: torch', 'python: pyzmq', 'bridge']) {
      expect(result.stdout).toMatch(new RegExp(`^ok +${check.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'));
    }
    expect(result.stdout).not.toMatch(/^(FAIL|WARN)/m);
  });

  it('fails with exit 1 on a missing interpreter, printing the failed check and its fix', async () => {
    const result = await mgsd('doctor', '--python', join(WORK, 'no-python'), '--no-bridge');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^FAIL +python +Python interpreter .*no-python .*does not exist/m);
    expect(result.stdout).toMatch(/^ +fix: /m);
    expect(result.stderr).toContain('mgsd doctor: 1 check(s) failed: python');
  });
});

describe('mgsd eval and mgsd report on a finished run', () => {
  beforeAll(async () => {
    const sets = miniOverrides(join(WORK, 'datasets')).flatMap((override) => ['--set', override]);
    const result = await mgsd('run', '--out', RUN, ...sets);
    if (result.exitCode !== 0) throw new Error(`the miniature run failed (${result.exitCode}):\n${result.stderr}`);
  }, 240_000);

  it('eval re-evaluates a model of the run to exactly the responses the run recorded, and prints the table', async () => {
    const out = join(WORK, 'sft-again.jsonl');
    const result = await mgsd('eval', '--run', RUN, '--model', 'sft', '--out', out);
    expect(result.exitCode, result.stderr).toBe(0);
    for (const task of ['frozenlake', 'maze', 'minibehaviour']) expect(result.stdout).toMatch(new RegExp(`^${task} +level-balanced +3 `, 'm'));
    expect(result.stdout).toMatch(/macro average over 3 task\(s\).*n 9: success \d+\.\d%/);
    // Same model, same test split, same decoding settings and seed as the run's own evaluation.
    expect(jsonLines(out)).toEqual(jsonLines(join(RUN, 'eval', 'sft-image.jsonl')));
  });

  it('eval of a model the run does not have exits 2 and lists the models it has', async () => {
    const result = await mgsd('eval', '--run', RUN, '--model', 'nosuch');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--model "nosuch": not a model of the run');
    expect(result.stderr).toMatch(/hint: Use one of base, sft, mgsd/);
  });

  it('eval and report of a folder that is not a run exit 2 and name the folder', async () => {
    const notRun = join(WORK, 'not-a-run');
    for (const args of [['eval', '--run', notRun], ['report', notRun]]) {
      const result = await mgsd(...args);
      expect(result.exitCode, args[0]).toBe(2);
      expect(result.stderr, args[0]).toContain(`${notRun} is not an mgsd run directory`);
    }
  });

  it('report rewrites report.md and report.html from the run directory and prints their paths', async () => {
    const markdown = join(RUN, 'report.md');
    const html = join(RUN, 'report.html');
    const before = readFileSync(markdown, 'utf8');
    rmSync(markdown);
    rmSync(html);
    const result = await mgsd('report', RUN);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([markdown, html]);
    expect(existsSync(html)).toBe(true);
    expect(readFileSync(markdown, 'utf8')).toBe(before);
    for (const row of ['base (image)', 'sft (text)', 'mgsd (image)']) expect(before).toContain(`| ${row} |`);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });
});
