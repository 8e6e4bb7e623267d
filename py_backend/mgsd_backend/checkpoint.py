"""Checkpoints of one role: model weights (safetensors) + optional optimizer state, written atomically.

Three layouts (the `save` op's `layout`; default `dcp` when the worker runs under a process group,
`full` otherwise):
- `full` (below): the model's own save + `optimizer.pt`, for one process;
- `dcp`: sharded `torch.distributed.checkpoint` files, saved at N ranks and loadable at M
  (sharding/dcp_checkpoint.py; its pickled `.metadata` is hash-checked before loading);
- `hub`: the trained model alone in its hub layout (`mgsd export`): for `hf` config.json,
  safetensors, tokenizer and processor files (`from_pretrained` loads it); for `tiny` its config
  and safetensors. No mgsd manifest, no optimizer; weights in the master dtype.

Layout of a `full` checkpoint directory:
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

from .errors import ModelLoadError, RequestError
from .models.base import PolicyModel
from .sharding import dcp_checkpoint, fsdp

FORMAT_VERSION = 1
MANIFEST_FILE = "mgsd-checkpoint.json"
MODEL_DIR = "model"
OPTIMIZER_FILE = "optimizer.pt"
LAYOUTS = ("full", "dcp", "hub")


def default_layout(model: PolicyModel) -> str:
    """`dcp` under a process group (sharded or replicated weights, resumable at any N), else `full`."""
    return "dcp" if fsdp.is_distributed() and model.module() is not None else "full"


def save_any(directory: str | Path, model: PolicyModel, optimizer: torch.optim.Optimizer | None, step: int,
             layout: str | None) -> tuple[str, list[str], dict]:
    """Saves in `layout` (None = `default_layout`) → (layout, files, extra manifest facts)."""
    layout = layout or default_layout(model)
    if layout == "hub":
        return layout, save_hub(directory, model), {}
    if layout == "dcp":
        module = model.module()
        if module is None:
            raise RequestError(f"save: model kind {model.kind!r} cannot write a DCP checkpoint",
                               hint="Save with layout full.")
        merged = (lambda temp: model.save(str(temp / MODEL_DIR))) if model.has_adapter else None
        files = dcp_checkpoint.save(directory, module, optimizer, kind=model.kind, step=step,
                                    manifest_file=MANIFEST_FILE, format_version=FORMAT_VERSION, finish=_finish,
                                    merged_model=merged)
        return layout, files, {"metadata_sha256": read_manifest(directory)["metadata_sha256"]}
    if model.shards_parameters:
        raise RequestError("save: layout full gathers nothing across ranks; this model is sharded",
                           hint="Save with layout dcp (resume) or hub (export).")
    return layout, save_checkpoint(directory, model, optimizer, step), {}


def save_hub(directory: str | Path, model: PolicyModel) -> list[str]:
    """The model alone in its hub layout, atomically. Every rank calls it; rank 0 writes."""
    target = Path(directory).resolve()
    temp = target.parent / f".{target.name}.tmp-hub"
    if fsdp.rank() == 0:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
    if fsdp.is_distributed():
        torch.distributed.barrier()
    if fsdp.rank() == 0 or model.shards_parameters:  # a sharded save is a collective that writes on rank 0
        model.save(str(temp))
    files: list[str] = []
    if fsdp.rank() == 0:
        files = sorted(str(p.relative_to(temp)) for p in temp.rglob("*") if p.is_file())
        _finish(temp, target)
    if fsdp.is_distributed():
        torch.distributed.barrier()
    return files


def _finish(temp: Path, target: Path) -> None:
    _fsync_tree(temp)
    _replace(temp, target)


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


def model_dir(directory: str | Path) -> str | None:
    """The model sub-directory of a checkpoint (checked to be complete). None for a `dcp` checkpoint
    without one: its weights are loaded by `restore_dcp` into a model built from its spec. A `dcp`
    checkpoint of a model with an adapter (LoRA) also holds the merged weights in `model/`, which a
    new stage (without the adapter) loads."""
    manifest = read_manifest(directory)
    if dcp_checkpoint.is_dcp(manifest) and not manifest.get("merged_model"):
        return None
    return str(Path(directory) / MODEL_DIR)


def is_dcp_checkpoint(directory: str | Path) -> bool:
    return dcp_checkpoint.is_dcp(read_manifest(directory))


def restore_dcp(directory: str | Path, model: PolicyModel, optimizer: torch.optim.Optimizer | None) -> int | None:
    """Loads a `dcp` checkpoint into `model` (+ `optimizer`); the saved step when the optimizer
    state was restored. Raises ModelLoadError when the manifest and files disagree."""
    manifest = read_manifest(directory)
    module = model.module()
    if module is None:
        raise ModelLoadError(f"checkpoint {directory}: a DCP checkpoint, but model kind {model.kind!r} cannot load one")
    if manifest.get("kind") != model.kind:
        raise ModelLoadError(f"checkpoint {directory}: saved from a {manifest.get('kind')!r} model, loading into "
                             f"{model.kind!r}", hint="Load it with the model spec it was trained with.")
    try:
        return dcp_checkpoint.load(directory, manifest, module, optimizer)
    except (RuntimeError, KeyError, ValueError) as err:
        raise ModelLoadError(f"checkpoint {directory}: the DCP state does not fit this model: {err}",
                             hint="Load it with the model spec (and LoRA settings) it was trained with.") from err


def restore_optimizer(directory: str | Path, optimizer: torch.optim.Optimizer, device: torch.device) -> int | None:
    """Loads saved optimizer state into `optimizer`; returns the saved step, or None when the
    checkpoint holds no optimizer state. Raises ModelLoadError when the state does not fit."""
    path = Path(directory) / OPTIMIZER_FILE
    manifest = read_manifest(directory)
    if not manifest.get("has_optimizer") or dcp_checkpoint.is_dcp(manifest):
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
