/**
 * `mgsd doctor`: checks Node, CPUs, the Python environment (interpreter, packages vs
 * requirements.txt, torch devices) and the bridge, prints one line per check and what to run to
 * fix each problem. Exit status 0 when nothing failed (warnings allowed), 1 otherwise.
 * (`exitOverride` is set here because commands added with `addCommand` do not inherit it.)
 */
import { Command } from 'commander';
import { z } from 'zod';

import { type Check, runDoctor } from '../../backend/doctor.js';
import { MgsdError } from '../../errors.js';
import { parseOptions } from '../parse-options.js';

const DoctorOptions = z.object({
  python: z.string().min(1).optional(),
  bridge: z.boolean(),
});

const MARK: Record<Check['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** The report as aligned lines, each problem followed by its fix. */
export function formatChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  return checks
    .flatMap((check) => {
      const line = `${MARK[check.status]}  ${check.name.padEnd(width)}  ${check.detail}`;
      return check.status !== 'ok' && check.fix ? [line, `      ${' '.repeat(width)}  fix: ${check.fix}`] : [line];
    })
    .join('\n');
}

/** `mgsd doctor`. */
export function doctorCommand(): Command {
  return new Command('doctor')
    .exitOverride()
    .description('check that this machine can run mgsd (Node, Python packages, devices, the bridge) and say what to install')
    .option('--python <path>', 'Python interpreter to check (backend.python; default $MGSD_PYTHON, else .venv)')
    .option('--no-bridge', 'skip the bridge self-test (which starts a worker)')
    .action(async (raw) => {
      const options = parseOptions('doctor', DoctorOptions, raw);
      const report = await runDoctor({ python: options.python ?? null, skipBridge: !options.bridge });
      process.stdout.write(`${formatChecks(report.checks)}\n`);
      const failed = report.checks.filter((check) => check.status === 'fail');
      if (failed.length > 0) {
        throw new MgsdError('doctor_failed', `mgsd doctor: ${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`, {
          hint: `Run: ${report.fix ?? 'npm run setup'}`,
        });
      }
    });
}
