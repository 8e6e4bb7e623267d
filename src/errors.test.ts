import { describe, expect, it } from 'vitest';

import { DataError, escapeForTerminal, formatError } from './errors.js';

describe('escapeForTerminal', () => {
  it('makes escape sequences, C0/C1 controls, bidi overrides and a BOM visible, and keeps newlines and tabs', () => {
    expect(escapeForTerminal('id \u001b]0;pwned\u0007 \r\u0085\u202e\ufeff\tok\n')).toBe('id \\x1b]0;pwned\\x07 \\x0d\\x85\\u202e\\ufeff\tok\n');
  });

  it('is applied to every message, hint and cause formatError prints', () => {
    const error = new DataError('x', 'bad id "\u001b[2J"', { hint: 'fix \u009b', cause: new Error('cause \u0007') });
    const text = formatError(error);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('bad id "\\x1b[2J"');
    expect(text).toContain('hint: fix \\x9b');
    expect(text).toContain('caused by: cause \\x07');
  });
});
