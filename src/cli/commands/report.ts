/**
 * `mgsd report <run>`: (re)write a run's report.md and report.html from its directory, holding the
 * run's lock (a running `mgsd run` on the same directory writes the report itself at the end).
 */
import { Argument, Command } from 'commander';

import { writeReport } from '../../experiment/report-stage.js';
import { RunDir } from '../../experiment/run-dir.js';
import { withRunLock } from '../../experiment/run-lock.js';

export function reportCommand(): Command {
  return new Command('report')
    .description("write a run's report (report.md, report.html) from its results, logs and evaluations")
    .addArgument(new Argument('<run>', 'a run directory written by `mgsd run`'))
    .action(async (runPath: string) => {
      const run = new RunDir(runPath);
      run.assertResumable();
      const { markdown, html } = await withRunLock(run.root, (message) => process.stderr.write(`${message}\n`), () => writeReport(run));
      process.stdout.write(`${markdown}\n${html}\n`);
    });
}
