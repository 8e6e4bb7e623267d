import { describe, expect, it } from 'vitest';

import { PythonTraceback } from './backend/worker-handle.js';
import { BackendError, formatError, RunInterrupted, SIGNAL_EXIT_CODES } from './errors.js';

describe('formatError', () => {
  const error = new BackendError('disk_full', 'backend op save failed in worker student (pid 7): writing checkpoint /r/c: no space left', {
    hint: 'Free space, then resume.',
    cause: new PythonTraceback('Traceback (most recent call last):\n  File "checkpoint.py", line 3\nOSError: [Errno 28]'),
  });

  it('keeps a Python traceback out of the user error, pointing at the log and --verbose', () => {
    expect(formatError(error)).toBe(
      [
        'error: backend op save failed in worker student (pid 7): writing checkpoint /r/c: no space left',
        '  hint: Free space, then resume.',
        '(Python traceback: in the worker log; --verbose prints it)',
      ].join('\n'),
    );
  });

  it('prints the traceback with --verbose', () => {
    expect(formatError(error, true)).toContain('caused by: Traceback (most recent call last):\n  File "checkpoint.py", line 3');
  });
});

describe('RunInterrupted', () => {
  it('exits 128 + the signal number: 130 for SIGINT (the default), 143 for SIGTERM, 129 for SIGHUP', () => {
    expect(new RunInterrupted('interrupted', 'x').exitCode).toBe(130);
    expect(new RunInterrupted('interrupted', 'x', { signal: 'SIGTERM' }).exitCode).toBe(143);
    expect(new RunInterrupted('interrupted', 'x', { signal: 'SIGHUP' }).exitCode).toBe(129);
    expect(SIGNAL_EXIT_CODES).toEqual({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 });
  });
});
