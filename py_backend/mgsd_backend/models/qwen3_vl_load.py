"""Finding and loading a Qwen3-VL checkpoint for the `hf` model kind.

A model path is a local directory or a hub id. A hub id is resolved to its local snapshot first
(offline — cache only — when `HF_HUB_OFFLINE=1`), so weights, tokenizer and image config always
come from one directory, which `save` also copies side files from. Devices are explicit: asking
for CUDA where torch sees none is a `ModelLoadError`, never a silent CPU run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from ..errors import ModelLoadError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
SNAPSHOT_PATTERNS = ["*.json", "*.jinja", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]


def is_hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_device(device: str) -> torch.device:
    """`cpu`, `cuda` or `cuda:N` → a torch device that exists, or a ModelLoadError."""
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ModelLoadError(f"model device {device!r} is not a torch device", hint='use "cpu" or "cuda"') from err
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"model device {device!r} was requested but torch {torch.__version__} sees no CUDA device "
                f"(CUDA build {torch.version.cuda})",
                hint='set model.device to "cpu", or run on a machine with a GPU and a CUDA build of torch',
            )
        index = resolved.index if resolved.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ModelLoadError(f"model device {device!r}: only {torch.cuda.device_count()} CUDA device(s) exist",
                                 hint="pick an existing device index")
        resolved = torch.device("cuda", index)
    elif resolved.type != "cpu":
        raise ModelLoadError(f"model device {device!r} is not supported by kind hf", hint='use "cpu" or "cuda"')
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """`float32` | `bfloat16` | `float16` | `auto` (float32 on CPU, bfloat16 on CUDA)."""
    if dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if dtype not in DTYPES:
        raise ModelLoadError(f"model dtype {dtype!r} is not supported", hint=f"use one of {sorted(DTYPES)} or auto")
    return DTYPES[dtype]


def resolve_directory(source: str) -> Path:
    """A local checkpoint directory for `source` (a directory, or a hub id in the local cache / hub)."""
    if os.path.isdir(source):
        return Path(source)
    if not HUB_ID.fullmatch(source):
        raise ModelLoadError(f"model path {source!r} is not a directory", hint="give an existing checkpoint directory")
    from huggingface_hub import snapshot_download

    offline = is_hub_offline()
    try:
        return Path(snapshot_download(source, local_files_only=offline, allow_patterns=SNAPSHOT_PATTERNS))
    except Exception as err:  # huggingface_hub raises several unrelated types here
        where = "the local Hugging Face cache (HF_HUB_OFFLINE=1)" if offline else "the Hugging Face hub"
        raise ModelLoadError(
            f"model path {source!r}: not a local directory, and it could not be fetched from {where}: {err}",
            hint=f"download it once with `hf download {source}` (then HF_HUB_OFFLINE=1 works), "
            "or set model.path to a local checkpoint directory",
        ) from err


def check_is_qwen3_vl(directory: Path) -> None:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{directory}: no config.json, so it is not a transformers checkpoint",
                             hint="point model.path at a Qwen3-VL checkpoint directory")
    model_type = json.loads(config_path.read_text()).get("model_type")
    if model_type != "qwen3_vl":
        raise ModelLoadError(f"{directory}: model_type is {model_type!r}, but kind hf runs Qwen3-VL (qwen3_vl)",
                             hint="use a Qwen3-VL checkpoint such as Qwen/Qwen3-VL-4B-Instruct")


def load_model_and_tokenizer(directory: Path, dtype: torch.dtype, device: torch.device):
    """Qwen3VLForConditionalGeneration (sdpa attention) + tokenizer from one local directory."""
    check_is_qwen3_vl(directory)
    try:
        from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration
    except ImportError as err:
        import transformers

        raise ModelLoadError(f"transformers {transformers.__version__} has no Qwen3-VL",
                             hint="install transformers >= 4.57 (requirements.txt pins the tested one)") from err
    model = Qwen3VLForConditionalGeneration.from_pretrained(
        str(directory), dtype=dtype, attn_implementation="sdpa", local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    return model.to(device), tokenizer
