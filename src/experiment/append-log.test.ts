import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AppendLog, readLog } from './append-log.js';

const tempLog = () => join(mkdtempSync(join(tmpdir(), 'mgsd-log-')), 'metrics.jsonl');

describe('AppendLog', () => {
  it('appends whole lines and cuts back to a recorded size', () => {
    const path = tempLog();
    const log = AppendLog.open(path);
    log.append([{ step: 1 }, { step: 2 }]);
    const checkpoint = log.size();
    log.append([{ step: 3 }]);
    log.truncateTo(checkpoint);
    log.append([{ step: 3, again: true }]);
    log.close();
    expect(readLog(path)).toEqual([{ step: 1 }, { step: 2 }, { step: 3, again: true }]);
  });

  it('drops a torn last line left by a crash when reopened', () => {
    const path = tempLog();
    appendFileSync(path, '{"step":1}\n{"step":2');
    AppendLog.open(path).close();
    expect(readFileSync(path, 'utf8')).toBe('{"step":1}\n');
  });

  it('refuses to cut a log back to more than it holds', () => {
    const log = AppendLog.open(tempLog());
    expect(() => log.truncateTo(10)).toThrow(/cannot cut back to 10 bytes, the log has 0/);
    log.close();
  });

  it('names the file and line of a corrupt record', () => {
    const path = tempLog();
    appendFileSync(path, '{"step":1}\nnot json\n');
    expect(() => readLog(path)).toThrow(/metrics\.jsonl:2: not valid JSON/);
  });
});
