import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ConfigError, DataError } from '../errors.js';
import { loadConfig } from './load.js';
import { RunDir } from './run-dir.js';
import { createRunDir } from './run.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-rundir-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function newRun(): RunDir {
  const run = new RunDir(join(root, 'run'));
  createRunDir(run, loadConfig('tiny'), () => {});
  return run;
}

describe('RunDir', () => {
  it('starts over a run that failed before any progress, and says so', () => {
    const run = newRun();
    const notes: string[] = [];
    createRunDir(run, loadConfig('tiny', ['seed=5']), (message) => notes.push(message));
    expect(notes.join('\n')).toMatch(/failed before finishing a stage or saving a checkpoint: starting it over/);
    expect(JSON.parse(readFileSync(run.config, 'utf8')).seed).toBe(5);
    expect(() => run.readConfig()).not.toThrow();
  });

  it('refuses to start over a run with a checkpoint or a finished stage, pointing at --resume', () => {
    const run = newRun();
    mkdirSync(join(run.checkpoints('base')), { recursive: true });
    writeFileSync(join(run.checkpoints('base'), 'latest.json'), '{}');
    expect(() => run.create()).toThrow(ConfigError);
    expect(() => run.create()).toThrow(/already holds a run with finished work/);
    try {
      run.create();
    } catch (error) {
      expect((error as ConfigError).hint).toContain(`mgsd run --resume ${run.root}`);
    }
  });

  it('detects a hand-edited config.resolved.json through the sha256 in the manifest', () => {
    const run = newRun();
    writeFileSync(run.config, readFileSync(run.config, 'utf8').replace('"seed": 0', '"seed": 1'));
    expect(() => run.readConfig()).toThrow(/was changed after the run started/);
  });

  it('names the file and the field of a damaged run-state.json', () => {
    const run = newRun();
    writeFileSync(run.state, JSON.stringify({ stages: { sft: { stepsDone: -1, checkpoint: '' } } }));
    expect(() => run.readState()).toThrow(DataError);
    expect(() => run.readState()).toThrow(/run-state\.json: the run state has unexpected fields\n {2}stages\.sft\.stepsDone: .*\n {2}stages\.sft\.checkpoint: /);
  });
});
