"""Checkpoints: exact round trip of weights and optimizer state, atomic replacement, safe loading."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch

from mgsd_backend import checkpoint as ckpt
from mgsd_backend.errors import CheckpointCorrupt, DiskFull, ModelLoadError, PermissionDenied
from mgsd_backend.server import error_body
from mgsd_backend.worker import Worker
from tiny_fixtures import SMALL_CONFIG, images, load_args, student_views

torch.set_num_threads(1)
VIEWS, IMAGES, TARGETS = student_views(3), images(3), ["RD", "LLU", "D"]


def sft(worker: Worker, role: str = "student") -> dict:
    args = {"role": role, "views": VIEWS, "targets": TARGETS, "append_eos": True, "lr": 3e-3, "grad_clip": 1.0}
    return worker.sft_step(args, {"images": IMAGES})[0]


def trained_worker(steps: int = 3) -> Worker:
    worker = Worker(threads=1)
    worker.load(load_args("student"), {})
    for _ in range(steps):
        sft(worker)
    return worker


def outputs(worker: Worker, role: str = "student") -> tuple[list[str], torch.Tensor]:
    sampling = {"max_new_tokens": 10, "temperature": 1.0, "top_p": 1.0, "seed": 3}
    result, out = worker.generate({"role": role, "views": VIEWS, "sampling": sampling}, {"images": IMAGES})
    return result["texts"], out["logprobs"]


def test_round_trip_restores_outputs_optimizer_state_and_step(tmp_path: Path):
    source = trained_worker()
    result, _ = source.save({"role": "student", "dir": str(tmp_path / "ckpt"), "include_optimizer": True}, {})
    assert {"model/config.json", "model/model.safetensors", "optimizer.pt", "mgsd-checkpoint.json"} <= set(result["files"])
    restored = Worker(threads=1)
    loaded, _ = restored.load(load_args("student", seed=123, checkpoint=str(tmp_path / "ckpt")), {})
    assert loaded["optimizer_restored"] and loaded["step"] == 3
    texts_a, lp_a = outputs(source)
    texts_b, lp_b = outputs(restored)
    assert texts_a == texts_b and torch.equal(lp_a, lp_b)
    opt_a, opt_b = source.roles["student"].optimizer, restored.roles["student"].optimizer
    assert opt_a is not None and opt_b is not None
    for pa, pb in zip(opt_a.state.values(), opt_b.state.values()):
        assert all(torch.equal(pa[key], pb[key]) for key in ("exp_avg", "exp_avg_sq", "step"))
    # The same next step on both gives bitwise identical weights only if the moments came back.
    sft(source), sft(restored)
    for a, b in zip(source.roles["student"].model.trainable_parameters(),
                    restored.roles["student"].model.trainable_parameters()):
        assert torch.equal(a, b)


def test_a_new_stage_can_start_a_fresh_optimizer_from_a_checkpoint(tmp_path: Path):
    source = trained_worker()
    source.save({"role": "student", "dir": str(tmp_path / "ckpt"), "include_optimizer": True}, {})
    fresh = Worker(threads=1)
    args = {**load_args("student", checkpoint=str(tmp_path / "ckpt")), "restore_optimizer": False}
    loaded, _ = fresh.load(args, {})
    assert not loaded["optimizer_restored"] and loaded["step"] == 0
    optimizer = fresh.roles["student"].optimizer
    assert optimizer is not None and len(optimizer.state) == 0
    assert outputs(fresh)[0] == outputs(source)[0]


def test_frozen_load_from_checkpoint_has_no_optimizer_and_same_outputs(tmp_path: Path):
    source = trained_worker()
    source.save({"role": "student", "dir": str(tmp_path / "c"), "include_optimizer": False}, {})
    frozen = Worker(threads=1)
    result, _ = frozen.load(load_args("teacher", trainable=False, checkpoint=str(tmp_path / "c")), {})
    assert result["describe"]["trainable_params"] == 0 and frozen.roles["teacher"].optimizer is None
    assert outputs(source)[0] == outputs(frozen, "teacher")[0]


def test_saving_over_a_checkpoint_replaces_it_atomically_and_leaves_no_temp_dirs(tmp_path: Path, monkeypatch):
    worker = trained_worker(1)
    target = tmp_path / "latest"
    worker.save({"role": "student", "dir": str(target), "include_optimizer": True}, {})
    sft(worker)
    worker.save({"role": "student", "dir": str(target), "include_optimizer": True}, {})
    assert ckpt.read_manifest(target)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]

    def broken_save(directory: str) -> None:
        (Path(directory) / "partial.bin").write_bytes(b"x")
        raise OSError("disk full")

    monkeypatch.setattr(worker.roles["student"].model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        worker.save({"role": "student", "dir": str(target), "include_optimizer": True}, {})
    assert ckpt.read_manifest(target)["step"] == 2 and not (target / "model" / "partial.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


class Smuggled:
    """Any class: a weights-only load must refuse to construct it."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_loading_never_unpickles_arbitrary_objects(tmp_path: Path):
    worker = trained_worker(1)
    worker.save({"role": "student", "dir": str(tmp_path / "c"), "include_optimizer": True}, {})
    torch.save({"format": 1, "step": 1, "shapes": [], "optimizer": Smuggled()}, tmp_path / "c" / "optimizer.pt")
    with pytest.raises(CheckpointCorrupt, match=r"optimizer\.pt cannot be read: it is damaged, truncated or not written by mgsd"):
        Worker(threads=1).load(load_args("student", checkpoint=str(tmp_path / "c")), {})


@pytest.mark.parametrize(
    ("damage", "names"),
    [
        (lambda c: (c / "optimizer.pt").write_bytes(b"not a zip"), "optimizer.pt"),
        (lambda c: (c / "optimizer.pt").write_bytes((c / "optimizer.pt").read_bytes()[:200]), "optimizer.pt"),
        (lambda c: (c / "model" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage"), "*.safetensors"),
        (lambda c: (c / "model" / "config.json").write_text("{not json"), "config.json"),
        (lambda c: (c / "mgsd-checkpoint.json").write_text("{"), "mgsd-checkpoint.json"),
    ],
)
def test_a_damaged_checkpoint_file_is_named_with_what_to_delete(tmp_path: Path, damage, names):
    worker = trained_worker(1)
    checkpoint = tmp_path / "checkpoints" / "opsd" / "step-1"
    worker.save({"role": "student", "dir": str(checkpoint), "include_optimizer": True}, {})
    damage(checkpoint)
    with pytest.raises(CheckpointCorrupt) as caught:
        Worker(threads=1).load(load_args("student", checkpoint=str(checkpoint)), {})
    body = error_body(caught.value, "load")
    assert body["code"] == "checkpoint_corrupt"
    assert names in body["message"] and str(checkpoint) in body["message"]
    assert "Traceback" not in body["message"] and "Traceback" in body["traceback"]
    assert f"delete {tmp_path / 'checkpoints' / 'opsd'}" in body["hint"] and "--resume" in body["hint"]


def test_a_full_disk_or_a_read_only_directory_during_save_names_the_path(tmp_path: Path, monkeypatch):
    worker = trained_worker(1)

    def full_disk(directory: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(directory) / "model.safetensors"))

    monkeypatch.setattr(worker.roles["student"].model, "save", full_disk)
    with pytest.raises(DiskFull) as caught:
        worker.save({"role": "student", "dir": str(tmp_path / "c"), "include_optimizer": True}, {})
    body = error_body(caught.value, "save")
    assert body["code"] == "disk_full"
    assert body["message"].startswith(f"writing checkpoint {tmp_path / 'c'}: no space left on the device of ")
    assert "model.safetensors" in body["message"] and "--resume" in body["hint"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temp directory left behind

    def read_only(directory: str) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), directory)

    monkeypatch.setattr(worker.roles["student"].model, "save", read_only)
    with pytest.raises(PermissionDenied, match="permission denied on"):
        worker.save({"role": "student", "dir": str(tmp_path / "c"), "include_optimizer": True}, {})


def test_an_unexpected_exception_keeps_its_traceback_out_of_the_message():
    try:
        raise ZeroDivisionError("division by zero\nsecond line")
    except ZeroDivisionError as error:
        body = error_body(error, "sft_step")
    assert body["code"] == "op_failed"
    assert body["message"] == "unexpected ZeroDivisionError in op sft_step: division by zero"
    assert "worker log" in body["hint"] and "ZeroDivisionError" in body["traceback"]


def test_config_mismatch_and_missing_manifest_are_model_load_errors(tmp_path: Path):
    worker = trained_worker(1)
    worker.save({"role": "student", "dir": str(tmp_path / "c"), "include_optimizer": False}, {})
    other = {**SMALL_CONFIG, "n_layers": 3}
    with pytest.raises(ModelLoadError, match=r"different config.*'n_layers': \(3, 2\)"):
        Worker(threads=1).load(load_args("student", checkpoint=str(tmp_path / "c"), config=other), {})
    with pytest.raises(ModelLoadError, match="no mgsd-checkpoint.json"):
        Worker(threads=1).load(load_args("student", checkpoint=str(tmp_path)), {})


def test_a_full_disk_reported_without_an_errno_is_still_recognised(tmp_path: Path, monkeypatch):
    """safetensors (Rust) reports `(os error 28)` in its message; torch.save's zip writer drops
    the errno entirely, so the free space of the filesystem decides."""
    worker = trained_worker(1)
    model = worker.roles["student"].model

    def rust_full(directory: str) -> None:
        raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(model, "save", rust_full)
    with pytest.raises(DiskFull, match=r"writing checkpoint .*/a: no space left"):
        worker.save({"role": "student", "dir": str(tmp_path / "a"), "include_optimizer": True}, {})

    monkeypatch.setattr(model, "save", lambda directory: None)
    monkeypatch.setattr(ckpt.torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")))
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 4096})())
    with pytest.raises(DiskFull, match=r"4096 bytes free"):
        worker.save({"role": "student", "dir": str(tmp_path / "b"), "include_optimizer": True}, {})

    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 10 << 30})())
    with pytest.raises(RuntimeError, match="file write failed"):  # plenty of space: not a full disk
        worker.save({"role": "student", "dir": str(tmp_path / "c"), "include_optimizer": True}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == []
