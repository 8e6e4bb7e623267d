"""Tracker sink: feeds a run's metrics JSONL logs to TensorBoard, Weights & Biases and MLflow.

The JSONL logs under `<run>/metrics/` stay the record; this process only mirrors them, through each
tracker's own Python library (no hand-written event-file encoder):

- tensorboard: `torch.utils.tensorboard.SummaryWriter` (needs the `tensorboard` package), event
  files in `<run>/tensorboard/`;
- wandb: `wandb.init(mode="offline")` under `<run>/wandb/` unless WANDB_MODE says otherwise;
- mlflow: a file store at `<run>/mlruns/` unless MLFLOW_TRACKING_URI says otherwise.

Usage: `python -m mgsd_backend.trackers --run DIR --to tensorboard,mlflow`. It prints `ready` once
every library is imported, then polls the logs and mirrors each complete new line, until its stdin
closes (the run ended); then it drains the logs a last time, closes the trackers and exits 0.
Each line `{stage, step, kind?, <name>: number, ...}` becomes one scalar per numeric field, tagged
`<stage>/<name>` (`<stage>/<kind>/<name>` for validation lines), at `step`.

On start the TensorBoard folder is rebuilt from the logs (a resumed run's logs were cut back to its
checkpoint, so the mirror must be too). A missing library exits with status 3 and the pip command.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

TRACKERS = ("tensorboard", "wandb", "mlflow")
REQUIREMENTS = "requirements-trackers.txt"
EXIT_MISSING_LIBRARY = 3


class Tracker:
    """One tracker: `log(tag, value, step)` and `close()`."""

    def log(self, tag: str, value: float, step: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class TensorBoardTracker(Tracker):
    def __init__(self, run: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # imports tensorboard itself

        folder = run / "tensorboard"
        shutil.rmtree(folder, ignore_errors=True)
        self.writer = SummaryWriter(log_dir=str(folder))

    def log(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.close()


class WandbTracker(Tracker):
    def __init__(self, run: Path) -> None:
        import wandb

        os.environ.setdefault("WANDB_MODE", "offline")
        self.wandb = wandb
        self.run = wandb.init(project="mgsd", name=run.name, dir=str(run), config=_resolved_config(run))
        self.defined: set[str] = set()

    def log(self, tag: str, value: float, step: int) -> None:
        stage = tag.split("/", 1)[0]
        if stage not in self.defined:  # each stage counts its own steps
            self.wandb.define_metric(f"{stage}/step")
            self.wandb.define_metric(f"{stage}/*", step_metric=f"{stage}/step")
            self.defined.add(stage)
        self.run.log({tag: value, f"{stage}/step": step})

    def close(self) -> None:
        self.run.finish()


class MlflowTracker(Tracker):
    def __init__(self, run: Path) -> None:
        import mlflow

        if "MLFLOW_TRACKING_URI" not in os.environ:
            # Offline by default: a file store inside the run. MLflow 3 refuses file stores unless
            # told otherwise (a database backend needs SQLAlchemy, which mlflow-skinny lacks);
            # set MLFLOW_TRACKING_URI to use a server or a database instead.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri((run / "mlruns").resolve().as_uri())
        self.mlflow = mlflow
        mlflow.set_experiment("mgsd")
        mlflow.start_run(run_name=run.name)

    def log(self, tag: str, value: float, step: int) -> None:
        self.mlflow.log_metric(tag.replace("/", "."), value, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


def _resolved_config(run: Path) -> dict[str, Any]:
    path = run / "config.resolved.json"
    return json.loads(path.read_text()) if path.exists() else {}


def open_trackers(names: list[str], run: Path) -> list[Tracker]:
    """Imports and opens every tracker; a missing library is one clear message and exit 3."""
    classes = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker, "mlflow": MlflowTracker}
    trackers = []
    for name in names:
        if name not in classes:
            sys.stderr.write(f"trackers: unknown tracker {name!r}; known: {', '.join(TRACKERS)}\n")
            sys.exit(2)
        try:
            trackers.append(classes[name](run))
        except ImportError as error:
            sys.stderr.write(
                f"trackers: --report-to {name} needs the Python package of {name} ({error}). "
                f"Install it with: .venv/bin/pip install -r {REQUIREMENTS}\n"
            )
            sys.exit(EXIT_MISSING_LIBRARY)
    return trackers


class LogFollower:
    """Reads complete new lines of every `metrics/*.jsonl`, remembering each file's offset."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}

    def new_lines(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.folder.glob("*.jsonl")):
            offset = self.offsets.get(path, 0)
            size = path.stat().st_size
            if size < offset:  # cut back (a resumed stage): read it again from the start
                offset = 0
            if size == offset:
                continue
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read()
            end = data.rfind(b"\n") + 1  # a partly written last line waits for the next poll
            for line in data[:end].splitlines():
                if line.strip():
                    out.append(json.loads(line))
            self.offsets[path] = offset + end
        return out


def scalars(line: dict[str, Any]) -> list[tuple[str, float, int]]:
    """The `(tag, value, step)` scalars of one metrics line."""
    stage = str(line.get("stage", "run"))
    step = int(line.get("step", 0))
    prefix = f"{stage}/{line['kind']}" if isinstance(line.get("kind"), str) else stage
    return [
        (f"{prefix}/{key}", float(value), step)
        for key, value in line.items()
        if key not in ("stage", "step", "kind") and isinstance(value, (int, float)) and not isinstance(value, bool)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mirror a run's metrics JSONL logs to trackers.")
    parser.add_argument("--run", required=True, help="the run directory")
    parser.add_argument("--to", required=True, help=f"comma-separated: {', '.join(TRACKERS)}")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    run = Path(args.run)
    trackers = open_trackers([name for name in args.to.split(",") if name], run)
    print("ready", flush=True)
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    follower = LogFollower(run / "metrics")
    while True:
        is_last = closed.is_set()
        for line in follower.new_lines():
            for tag, value, step in scalars(line):
                for tracker in trackers:
                    tracker.log(tag, value, step)
        if is_last:
            break
        closed.wait(args.poll_seconds)
    for tracker in trackers:
        tracker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
