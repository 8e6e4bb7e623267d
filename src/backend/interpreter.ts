/**
 * Where the Python side lives: the project root, `py_backend/`, and which interpreter runs it.
 *
 * The interpreter is, in order: an explicit path (config `backend.python`), `$MGSD_PYTHON`, the
 * project's `.venv/bin/python` made by `npm run setup`. A missing interpreter is a `BackendError`
 * that says how to create one; nothing falls back silently to whatever `python3` is on PATH.
 */
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

import { BackendError } from '../errors.js';

/** The repository root (this file is `src/backend/` or `dist/backend/`, two levels down). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The directory put on `PYTHONPATH` so `python -m mgsd_backend` finds the package. */
export const PY_BACKEND_DIR = join(PROJECT_ROOT, 'py_backend');

/** The interpreter `npm run setup` creates. */
export const VENV_PYTHON = join(PROJECT_ROOT, '.venv', 'bin', 'python');

/** How the interpreter was chosen, for logs and `mgsd doctor`. */
export type InterpreterSource = 'option' | 'MGSD_PYTHON' | 'venv';

/** A chosen Python interpreter and where the choice came from. */
export interface Interpreter {
  path: string;
  source: InterpreterSource;
}

/** Picks the Python interpreter (explicit → `$MGSD_PYTHON` → `.venv`) and checks it is executable. */
export function resolveInterpreter(explicit?: string | null, env: NodeJS.ProcessEnv = process.env): Interpreter {
  const chosen: Interpreter = explicit
    ? { path: explicit, source: 'option' }
    : env.MGSD_PYTHON
      ? { path: env.MGSD_PYTHON, source: 'MGSD_PYTHON' }
      : { path: VENV_PYTHON, source: 'venv' };
  try {
    accessSync(chosen.path, constants.X_OK);
  } catch (error) {
    const from = {
      option: 'the backend.python option',
      MGSD_PYTHON: 'the MGSD_PYTHON environment variable',
      venv: "the project's virtual environment",
    }[chosen.source];
    throw new BackendError('python_missing', `Python interpreter ${chosen.path} (from ${from}) does not exist or is not executable`, {
      cause: error,
      context: { python: chosen.path, source: chosen.source },
      hint:
        chosen.source === 'venv'
          ? 'Run `npm run setup` to create .venv with requirements.txt, or set MGSD_PYTHON to a Python that has them.'
          : `Fix the path, or unset it to use ${VENV_PYTHON} (created by \`npm run setup\`).`,
    });
  }
  return chosen;
}

/** The environment of a worker process: `PYTHONPATH` gets `py_backend/` in front. */
export function workerEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const pythonPath = [PY_BACKEND_DIR, env.PYTHONPATH].filter((part) => part).join(':');
  return { PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1', ...extra };
}
