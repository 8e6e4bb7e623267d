"""The tracker sink: metrics lines become scalars, the follower reads only complete new lines, and
TensorBoard event files written through its own library read back with the same values."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgsd_backend.trackers import LogFollower, scalars

PY_BACKEND = Path(__file__).resolve().parents[1]


def test_scalars_tag_by_stage_and_kind_and_skip_non_numbers():
    line = {"stage": "opsd", "step": 3, "kind": "validation", "val_macro_success": 0.5, "note": "x", "flag": True}
    assert scalars(line) == [("opsd/validation/val_macro_success", 0.5, 3)]
    assert scalars({"stage": "sft", "step": 1, "loss": 2}) == [("sft/loss", 2.0, 1)]


def test_follower_reads_complete_lines_once_and_rereads_a_cut_back_log(tmp_path):
    log = tmp_path / "sft.jsonl"
    log.write_text('{"stage": "sft", "step": 1, "loss": 1.0}\n{"stage": "sft", "st')
    follower = LogFollower(tmp_path)
    assert [line["step"] for line in follower.new_lines()] == [1]
    with log.open("a") as handle:
        handle.write('ep": 2, "loss": 0.5}\n')
    assert [line["step"] for line in follower.new_lines()] == [2]
    assert follower.new_lines() == []
    log.write_text('{"stage": "sft", "step": 1, "loss": 0.9}\n')  # a resume cut the log back
    assert [line["loss"] for line in follower.new_lines()] == [0.9]


def test_tensorboard_events_read_back(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "opsd.jsonl").write_text(
        "".join(json.dumps({"stage": "opsd", "step": step, "kl": 1.0 / step}) + "\n" for step in (1, 2, 3))
    )
    result = subprocess.run(
        [sys.executable, "-m", "mgsd_backend.trackers", "--run", str(tmp_path), "--to", "tensorboard", "--poll-seconds", "0.05"],
        input="", capture_output=True, text=True, cwd=PY_BACKEND, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    accumulator = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
    accumulator.Reload()
    events = accumulator.Scalars("opsd/kl")
    assert [(event.step, round(event.value, 6)) for event in events] == [(1, 1.0), (2, 0.5), (3, round(1 / 3, 6))]


def test_missing_library_names_the_pip_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mgsd_backend.trackers", "--run", str(tmp_path), "--to", "definitely-not-a-tracker"],
        input="", capture_output=True, text=True, cwd=PY_BACKEND, timeout=60,
    )
    assert result.returncode == 2
    assert "unknown tracker" in result.stderr
