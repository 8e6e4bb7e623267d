"""Sharded checkpoints with `torch.distributed.checkpoint` (DCP): model + optimizer, resumable at any N.

Layout of a DCP checkpoint directory (beside the full layout of checkpoint.py):
    mgsd-checkpoint.json   {"format": 1, "layout": "dcp", "kind", "step", "has_optimizer",
                            "world_size", "metadata_sha256", "files": [...]}
    dcp/                   DCP's own files: `.metadata` + one `__<rank>_0.distcp` per writing rank

Saved at N ranks, it loads at M ranks (DCP reshards by the planner) or on one process without a
process group. Every rank calls `save`/`load` (they are collectives); rank 0 alone writes the
manifest and renames the directory into place.

Safety: DCP's `.metadata` is a pickle and its default reader unpickles it. So the manifest records
the file's sha256 at save time and `load` refuses, before DCP reads anything, a checkpoint whose
`.metadata` does not hash to the recorded value: only metadata this run wrote is ever unpickled.

Atomicity: written into `.<name>.tmp-dcp-<step>` beside the target (the same name on every rank),
fsynced, renamed into place by rank 0 after a barrier; a crash leaves the previous checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
import torch.distributed as dist

from ..errors import ModelLoadError
from . import fsdp

LAYOUT = "dcp"
DCP_DIR = "dcp"
METADATA_FILE = ".metadata"


def _barrier() -> None:
    if fsdp.is_distributed():
        dist.barrier()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _state(module: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict

    if optimizer is None:
        return {"model": get_model_state_dict(module)}
    model_state, optim_state = get_state_dict(module, optimizers=optimizer)
    return {"model": model_state, "optim": optim_state}


def save(directory: str | Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer | None, *,
         kind: str, step: int, manifest_file: str, format_version: int, finish, merged_model=None) -> list[str]:
    """Writes a DCP checkpoint of `module` (+ `optimizer`); returns the files, relative to it.

    `finish(temp, target)` fsyncs and renames (checkpoint.py's atomic replace), run on rank 0.
    `merged_model(temp)`, when given, writes the adapter-merged weights into `temp/model` (every rank
    calls it: a sharded save is a collective; rank 0 writes); the manifest then says `merged_model`."""
    import torch.distributed.checkpoint as dcp

    target = Path(directory).resolve()
    temp = target.parent / f".{target.name}.tmp-dcp-{step}"
    if fsdp.rank() == 0:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(temp, ignore_errors=True)  # a crashed earlier attempt at this step
        (temp / DCP_DIR).mkdir(parents=True)
        if merged_model is not None:
            (temp / "model").mkdir()
    _barrier()
    dcp.save(_state(module, optimizer), checkpoint_id=str(temp / DCP_DIR), no_dist=not fsdp.is_distributed())
    if merged_model is not None:
        merged_model(temp)
    _barrier()
    files: list[str] = []
    if fsdp.rank() == 0:
        files = sorted(str(p.relative_to(temp)) for p in temp.rglob("*") if p.is_file()) + [manifest_file]
        manifest = {"format": format_version, "layout": LAYOUT, "kind": kind, "step": step,
                    "has_optimizer": optimizer is not None, "world_size": fsdp.world_size(),
                    "merged_model": merged_model is not None,
                    "metadata_sha256": sha256_of(temp / DCP_DIR / METADATA_FILE), "files": files}
        (temp / manifest_file).write_text(json.dumps(manifest, indent=2) + "\n")
        finish(temp, target)
    _barrier()
    return files


def load(directory: str | Path, manifest: dict, module: torch.nn.Module,
         optimizer: torch.optim.Optimizer | None) -> int | None:
    """Loads the checkpoint into `module` (and `optimizer` when given and saved); returns the saved
    step when optimizer state was restored, else None. Checks `.metadata` against the manifest first."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_state_dict

    metadata = Path(directory) / DCP_DIR / METADATA_FILE
    if not metadata.is_file():
        raise ModelLoadError(f"checkpoint {directory}: {DCP_DIR}/{METADATA_FILE} is missing (incomplete DCP checkpoint)",
                             hint="Load an earlier checkpoint of the stage.")
    found = sha256_of(metadata)
    if found != manifest.get("metadata_sha256"):
        raise ModelLoadError(
            f"checkpoint {directory}: {DCP_DIR}/{METADATA_FILE} has sha256 {found}, but the checkpoint's manifest "
            f"recorded {manifest.get('metadata_sha256')!r}; it was changed after this run wrote it, and DCP metadata is "
            "a pickle, so it is not loaded",
            hint="Restore the checkpoint from a trusted copy, or resume from an earlier checkpoint.")
    with_optimizer = optimizer is not None and bool(manifest.get("has_optimizer"))
    state = _state(module, optimizer if with_optimizer else None)
    dcp.load(state, checkpoint_id=str(Path(directory) / DCP_DIR), no_dist=not fsdp.is_distributed())
    if with_optimizer:
        set_state_dict(module, optimizers=optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        return int(manifest["step"])
    set_model_state_dict(module, state["model"])
    return None


def is_dcp(manifest: dict) -> bool:
    return manifest.get("layout") == LAYOUT


