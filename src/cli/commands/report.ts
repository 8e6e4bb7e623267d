/** `mgsd report <run>`: (re)write a run's report.md and report.html from its directory. */
import { Argument, Command } from 'commander';

import { writeReport } from '../../experiment/report-stage.js';
import { RunDir } from '../../experiment/run-dir.js';

export function reportCommand(): Command {
  return new Command('report')
    .description("write a run's report (report.md, report.html) from its results, logs and evaluations")
    .addArgument(new Argument('<run>', 'a run directory written by `mgsd run`'))
    .action((runPath: string) => {
      const run = new RunDir(runPath);
      run.assertResumable();
      const { markdown, html } = writeReport(run);
      process.stdout.write(`${markdown}\n${html}\n`);
    });
}
