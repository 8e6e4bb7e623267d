"""Checkpoints of one role: model weights (safetensors) + optional optimizer state, written atomically.

Layout of a checkpoint directory:
    mgsd-checkpoint.json   {"format": 1, "kind", "step", "has_optimizer", "files": [...]}
    model/                 whatever `PolicyModel.save` writes (tiny: config.json + model.safetensors;
                           hf: a hub-like directory)
    optimizer.pt           {"format": 1, "step": int, "shapes": [[...], ...], "optimizer": state_dict}

Atomicity: everything is written into a hidden temp directory beside the target, every file and
directory is fsynced, then the temp directory is renamed into place (an existing checkpoint is
first renamed aside and removed only after the new one is in place). A crash leaves either the
old checkpoint or the new one, plus possibly a `.<name>.tmp-*` directory, never a half-written
checkpoint under the target name.

Loading never unpickles arbitrary objects: weights come from safetensors and the optimizer file
is read with `torch.load(weights_only=True)` (tensors, numbers, strings, lists, dicts, tuples).
"""

from __future__ import annotations

import json
import os
import pickle
import secrets
import shutil
from pathlib import Path

import torch

from .errors import ModelLoadError
from .models.base import PolicyModel

FORMAT_VERSION = 1
MANIFEST_FILE = "mgsd-checkpoint.json"
MODEL_DIR = "model"
OPTIMIZER_FILE = "optimizer.pt"


def save_checkpoint(directory: str | Path, model: PolicyModel, optimizer: torch.optim.Optimizer | None,
                    step: int) -> list[str]:
    """Writes the checkpoint atomically; returns the files written, relative to `directory`."""
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    temp.mkdir()
    try:
        (temp / MODEL_DIR).mkdir()
        model.save(str(temp / MODEL_DIR))
        if optimizer is not None:
            shapes = [list(p.shape) for group in optimizer.param_groups for p in group["params"]]
            payload = {"format": FORMAT_VERSION, "step": step, "shapes": shapes, "optimizer": optimizer.state_dict()}
            torch.save(payload, temp / OPTIMIZER_FILE)
        files = sorted(str(p.relative_to(temp)) for p in temp.rglob("*") if p.is_file())
        manifest = {"format": FORMAT_VERSION, "kind": model.kind, "step": step,
                    "has_optimizer": optimizer is not None, "files": files + [MANIFEST_FILE]}
        (temp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync_tree(temp)
        _replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return manifest["files"]


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a complete checkpoint; ModelLoadError naming the path otherwise."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise ModelLoadError(f"checkpoint {directory}: no {MANIFEST_FILE} (not an mgsd checkpoint, or incomplete)",
                             hint="Point `checkpoint` at a directory written by the `save` op.")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise ModelLoadError(f"checkpoint {directory}: format {manifest.get('format')!r}, expected {FORMAT_VERSION}",
                             hint="The checkpoint was written by another mgsd version.")
    return manifest


def model_dir(directory: str | Path) -> str:
    """The model sub-directory of a checkpoint (checked to be a complete checkpoint)."""
    read_manifest(directory)
    return str(Path(directory) / MODEL_DIR)


def restore_optimizer(directory: str | Path, optimizer: torch.optim.Optimizer, device: torch.device) -> int | None:
    """Loads saved optimizer state into `optimizer`; returns the saved step, or None when the
    checkpoint holds no optimizer state. Raises ModelLoadError when the state does not fit."""
    path = Path(directory) / OPTIMIZER_FILE
    if not read_manifest(directory).get("has_optimizer"):
        return None
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError) as err:
        raise ModelLoadError(f"checkpoint {directory}: {OPTIMIZER_FILE} could not be read safely: {err}",
                             hint="It may be corrupt or foreign (only tensors and plain data are accepted); "
                                  "load the weights alone from a checkpoint saved with include_optimizer false.") from err
    shapes = [list(p.shape) for group in optimizer.param_groups for p in group["params"]]
    if payload.get("shapes") != shapes:
        raise ModelLoadError(
            f"checkpoint {directory}: the optimizer state was saved for {len(payload.get('shapes', []))} "
            f"parameter tensors of other shapes than this model's {len(shapes)}",
            hint="Load the checkpoint into the same model configuration, or save it with include_optimizer false.",
        )
    optimizer.load_state_dict(payload["optimizer"])
    return int(payload["step"])


def _replace(temp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(target, old)
    os.rename(temp, target)
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
