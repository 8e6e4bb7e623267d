/**
 * `mgsd doctor`'s judgement: pins read from requirements.txt, versions compared with them, and a
 * real run against the project's Python (pythonia inspection; the bridge self-test is covered by
 * test/integration/bridge.test.ts, so it is skipped here).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { checkPackage, readPins, runDoctor } from './doctor.js';

describe('doctor', () => {
  it('reads name==version pins and ignores comments and unpinned lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mgsd-doctor-test-'));
    const file = join(dir, 'requirements.txt');
    writeFileSync(file, '# backend\ntorch==2.15.0\nPyZMQ == 27.3.0  # socket\nrequests\n\npillow==13.0.0; python_version>"3"\n');
    expect([...readPins(file)]).toEqual([
      ['torch', '2.15.0'],
      ['pyzmq', '27.3.0'],
      ['pillow', '13.0.0'],
    ]);
    rmSync(dir, { recursive: true });
  });

  it('judges installed versions against the pins (a local build tag is not a mismatch)', () => {
    const pip = '/py -m pip install';
    expect(checkPackage('torch', '2.15.0+cu132', '2.15.0', pip).status).toBe('ok');
    expect(checkPackage('numpy', '2.3.0', '2.4.6', pip)).toMatchObject({ status: 'warn', detail: '2.3.0 installed, requirements.txt pins 2.4.6 (arrays)' });
    expect(checkPackage('pyzmq', undefined, '27.3.0', pip)).toMatchObject({
      status: 'fail',
      fix: "/py -m pip install 'pyzmq==27.3.0'",
      requirement: 'pyzmq==27.3.0',
    });
  });

  it('says exactly what to install when the interpreter is missing', async () => {
    const report = await runDoctor({ python: '/nonexistent/bin/python', skipBridge: true });
    const python = report.checks.find((check) => check.name === 'python');
    expect(python?.status).toBe('fail');
    expect(report.fix).toMatch(/Fix the path, or unset it to use .*\.venv\/bin\/python \(created by `npm run setup`\)/);
  });

  it('passes on the project environment (pythonia inspection, no bridge)', async () => {
    const report = await runDoctor({ skipBridge: true });
    const failed = report.checks.filter((check) => check.status === 'fail');
    expect(failed).toEqual([]);
    expect(report.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(['node', 'cpu', 'python', 'python: torch', 'python: pyzmq', 'python: pyarrow', 'torch devices']),
    );
    expect(report.fix).toBeUndefined();
  }, 60_000);
});
