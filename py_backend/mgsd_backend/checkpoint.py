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

Failures name the file and say what to do: a write that fails (full disk, no permission) is a
`DiskFull`/`PermissionDenied`/`IoFailed`; a file that cannot be read back (truncated, damaged,
foreign, a crafted pickle) is a `CheckpointCorrupt` naming the file and the checkpoint directory
to delete (a stage whose checkpoint folder is gone restarts from the previous stage on `--resume`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import pickle
import secrets
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import torch

from .errors import (
    CheckpointCorrupt,
    DiskFull,
    IoFailed,
    ModelLoadError,
    PermissionDenied,
    RequestError,
    explain_os_error,
)
from .models.base import PolicyModel
from .sharding import dcp_checkpoint, fsdp

T = TypeVar("T")

FORMAT_VERSION = 1
MANIFEST_FILE = "mgsd-checkpoint.json"
MODEL_DIR = "model"
OPTIMIZER_FILE = "optimizer.pt"
LAYOUTS = ("full", "dcp", "hub")


def default_layout(model: PolicyModel) -> str:
    """`dcp` for weights sharded across a process group, else `full` (rank 0 writes replicated weights
    and their optimizer whole: resumable at any N too, and the layout the tiny groups' resume is
    tested with)."""
    return "dcp" if fsdp.is_distributed() and model.shards_parameters else "full"


def save_any(directory: str | Path, model: PolicyModel, optimizer: torch.optim.Optimizer | None, step: int,
             layout: str | None) -> tuple[str, list[str], dict]:
    """Saves in `layout` (None = `default_layout`) → (layout, files, extra manifest facts)."""
    layout = layout or default_layout(model)
    if layout in ("hub", "dcp"):
        try:
            return _save_sharded_or_hub(directory, model, optimizer, step, layout)
        except Exception as error:  # a full disk, no permission…: the typed error naming the path
            known = explain_write_failure(error, Path(directory).resolve())
            if known is None:
                raise
            raise known from error
    if model.shards_parameters:
        raise RequestError("save: layout full gathers nothing across ranks; this model is sharded",
                           hint="Save with layout dcp (resume) or hub (export).")
    if fsdp.rank() != 0:  # replicas are identical: rank 0 writes the one copy
        return layout, [], {}
    return layout, save_checkpoint(directory, model, optimizer, step), {}


def _save_sharded_or_hub(directory: str | Path, model: PolicyModel, optimizer: torch.optim.Optimizer | None,
                         step: int, layout: str) -> tuple[str, list[str], dict]:
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
    raise AssertionError(f"layout {layout!r} is not hub or dcp")


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
    """Writes the checkpoint atomically; returns the files written, relative to `directory`.
    A failed write (full disk, no permission…) becomes the typed error naming the path."""
    target = Path(directory).resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        temp.mkdir()
    except OSError as error:
        raise explain_os_error(error, f"writing checkpoint {directory}") from error
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
    except BaseException as error:
        # NOTE: explained before the temp dir is removed: a full disk is still full then.
        known = explain_write_failure(error, target) if isinstance(error, Exception) else None
        shutil.rmtree(temp, ignore_errors=True)
        if known is None:
            raise
        raise known from error
    return manifest["files"]


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a complete checkpoint; ModelLoadError naming the path otherwise."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise ModelLoadError(f"checkpoint {directory}: no {MANIFEST_FILE} (not an mgsd checkpoint, or incomplete)",
                             hint="Point `checkpoint` at a directory written by the `save` op.")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise corrupt(directory, path, error) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ModelLoadError(f"checkpoint {directory}: format {found!r}, expected {FORMAT_VERSION}",
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
    except FileNotFoundError as err:
        raise corrupt(directory, path, err) from err
    except OSError as err:
        raise explain_os_error(err, f"reading checkpoint {directory}", str(path)) from err
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError) as err:
        # NOTE: weights_only refuses anything but plain data; a crafted pickle lands here, unrun.
        raise corrupt(directory, path, err) from err
    if not isinstance(payload, dict) or "optimizer" not in payload or "step" not in payload:
        raise corrupt(directory, path, ValueError("not an mgsd optimizer file (no optimizer/step entries)"))
    shapes = [list(p.shape) for group in optimizer.param_groups for p in group["params"]]
    if payload.get("shapes") != shapes:
        raise ModelLoadError(
            f"checkpoint {directory}: the optimizer state was saved for {len(payload.get('shapes', []))} "
            f"parameter tensors of other shapes than this model's {len(shapes)}",
            hint="Load the checkpoint into the same model configuration, or save it with include_optimizer false.",
        )
    optimizer.load_state_dict(payload["optimizer"])
    return int(payload["step"])


_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_LOW_SPACE_BYTES = 1 << 20


def explain_write_failure(error: BaseException, directory: Path) -> RequestError | None:
    """A failed checkpoint write → the typed error naming the path, or None when unknown.

    Writers report a full disk three ways: an OSError (Python), `… (os error 28)` in a
    SafetensorError (Rust), or a bare "file write failed" RuntimeError (torch.save's zip writer,
    which drops the errno); the last is recognised by the filesystem having no space left."""
    action = f"writing checkpoint {directory}"
    if isinstance(error, OSError) and error.errno is not None:
        return explain_os_error(error, action)
    found = _RUST_OS_ERROR.search(str(error))
    if found:
        code = int(found.group(1))
        return explain_os_error(OSError(code, os.strerror(code), str(directory)), action)
    try:
        free = shutil.disk_usage(_existing_parent(directory)).free
    except OSError:
        return None
    if free < _LOW_SPACE_BYTES:
        return explain_os_error(OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}; {free} bytes free", str(directory)), action)
    return None


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def reading_model(directory: str | Path, load: Callable[[], T]) -> T:
    """Runs `load` (building a model from checkpoint `directory`); a damaged weights or config file
    (found anywhere in the exception's cause chain) becomes a `CheckpointCorrupt` naming the
    checkpoint, an OSError the typed error naming the file; other errors pass unchanged."""
    try:
        return load()
    except (CheckpointCorrupt, DiskFull, PermissionDenied, IoFailed):
        raise  # already names its file
    except Exception as error:
        for cause in _causes(error):
            if isinstance(cause, (json.JSONDecodeError, UnicodeDecodeError)):
                raise corrupt(directory, Path(directory) / MODEL_DIR / "config.json", cause) from error
            if type(cause).__name__ == "SafetensorError":
                raise corrupt(directory, Path(directory) / MODEL_DIR, cause, what="a weights file (*.safetensors) under") from error
            if isinstance(cause, OSError) and cause.errno is not None and not isinstance(cause, FileNotFoundError):
                raise explain_os_error(cause, f"reading checkpoint {directory}") from error
        raise


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def corrupt(directory: str | Path, path: str | Path, error: BaseException, what: str = "") -> CheckpointCorrupt:
    """The error for a checkpoint file that cannot be read: names it and the checkpoint to drop."""
    first_line = _reason(error)
    folder = Path(directory).resolve().parent
    return CheckpointCorrupt(
        f"checkpoint {directory}: {what + ' ' if what else ''}{path} cannot be read: it is damaged, truncated "
        f"or not written by mgsd ({first_line})",
        hint=f"If an mgsd run wrote it: delete {folder} and run `npx mgsd run --resume <run>`, which restarts that "
             "stage from the previous one; otherwise point `checkpoint` at a directory written by the `save` op.",
    )


def _reason(error: BaseException) -> str:
    """One line on why a file could not be read. torch's weights-only refusal is reduced to its
    cause: its text suggests `weights_only=False`, which would run whatever the file holds."""
    text = str(error)
    if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0] if "WeightsUnpickler error:" in text else ""
        return f"the safe loader refused it: {detail}" if detail else "the safe loader refused it"
    return (text.splitlines() or [type(error).__name__])[0][:300]


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
