#!/usr/bin/env node
// Creates the project's Python environment (.venv) from requirements.txt, once.
// A stamp file holding the hash of requirements.txt makes re-runs instant; delete .venv to rebuild.
// The interpreter is $MGSD_BOOTSTRAP_PYTHON, else `python3` (3.10 or newer).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const venv = join(root, '.venv');
const venvPython = join(venv, 'bin', 'python');
const stamp = join(venv, '.mgsd-requirements.sha256');
const requirements = join(root, 'requirements.txt');
const digest = createHash('sha256').update(readFileSync(requirements)).digest('hex');

if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest && existsSync(venvPython)) {
  console.log(`mgsd: Python environment up to date (${venv})`);
  process.exit(0);
}

function run(command, args, what) {
  console.log(`mgsd: ${what}`);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root });
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : `exit status ${result.status}`;
    console.error(`mgsd: ${what} failed (${why}).`);
    console.error('  Check that python3 (3.10+) with the venv module is installed, and that PyPI is reachable.');
    process.exit(1);
  }
}

const bootstrap = process.env.MGSD_BOOTSTRAP_PYTHON ?? 'python3';
if (!existsSync(venvPython)) run(bootstrap, ['-m', 'venv', venv], `creating ${venv} with ${bootstrap}`);
run(venvPython, ['-m', 'pip', 'install', '--upgrade', '--quiet', 'pip'], 'upgrading pip');
run(
  venvPython,
  ['-m', 'pip', 'install', '--progress-bar', 'on', '-r', requirements],
  'installing requirements.txt (torch is large: the first install takes several minutes)',
);
writeFileSync(stamp, `${digest}\n`);
console.log(`mgsd: Python environment ready (${venvPython})`);
