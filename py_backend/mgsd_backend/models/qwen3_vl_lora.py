"""LoRA on Qwen3-VL's language model, activation checkpointing, and merge-on-save.

LoRA (peft) targets `q/k/v/o/gate/up/down_proj` under `language_model` only, through a full-match
regex: peft has no default targets for qwen3_vl, and `"all-linear"` would also catch the vision
tower and mergers, which stay frozen (MGSD's SFT: rank 8, alpha 16, dropout 0).

`write_merged_checkpoint` never touches the live model: it builds a state dict in which each
LoRA-wrapped weight is W + ΔW (computed in float32, stored in the model dtype, moved to CPU one
layer at a time), saves it with `save_pretrained` (safetensors), and adds the tokenizer, chat
template and the source checkpoint's processor/generation files, so the directory loads like a hub
checkpoint. Training can go on with the adapter afterwards.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import torch

LORA_TARGETS = r".*language_model\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
# Files besides weights and tokenizer that make a directory load like a hub checkpoint.
SIDE_FILES = ("preprocessor_config.json", "video_preprocessor_config.json", "processor_config.json",
              "chat_template.json", "generation_config.json")


def add_lora(model, lora: dict) -> None:
    """Freezes `model` and injects LoRA adapters (in place) into its language-model linears."""
    from peft import LoraConfig, get_peft_model

    model.requires_grad_(False)
    config = LoraConfig(r=int(lora["rank"]), lora_alpha=float(lora["alpha"]), lora_dropout=float(lora["dropout"]),
                        target_modules=LORA_TARGETS, bias="none")
    with warnings.catch_warnings():  # peft reads a property that transformers 5.23 deprecated
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        get_peft_model(model, config)


def enable_checkpointing(model) -> None:
    """Non-reentrant activation checkpointing (LoRA gets gradients with frozen embeddings)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.23 renamed it
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def merged_state_dict(model) -> dict[str, torch.Tensor]:
    """The model's weights on CPU with every LoRA update merged in (the live model is untouched).

    Keys are the plain model's (`….q_proj.weight`, no `base_layer`/`lora_`). Tensors that share
    storage in the model (tied embeddings and head) still share it here, so `save_pretrained` sees
    the tie."""
    from peft.tuners.lora import LoraLayer

    merged: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            weight = module.get_base_layer().weight.detach()
            update = weight.float()
            for adapter in module.active_adapters:
                update = update + module.get_delta_weight(adapter).float()
            merged[f"{name}.base_layer.weight"] = update.to(weight.dtype).cpu()
    state: dict[str, torch.Tensor] = {}
    on_cpu: dict[tuple, torch.Tensor] = {}
    for key, tensor in model.state_dict().items():
        if ".lora_" in key:
            continue
        if key in merged:
            value = merged[key]
        else:
            storage = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tensor.shape)
            value = on_cpu.setdefault(storage, tensor.detach().cpu())
        state[key.replace(".base_layer.", ".")] = value
    return state


def merge_gathered_lora(state: dict[str, torch.Tensor], scaling: float) -> dict[str, torch.Tensor]:
    """`merged_state_dict` for a gathered (FSDP) full state dict: W + scaling · B @ A per adapted
    linear, in float32, stored in W's dtype; LoRA keys dropped and `base_layer.` removed."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if ".lora_" in key:
            continue
        if key.endswith(".base_layer.weight"):
            stem = key.removesuffix(".base_layer.weight")
            a = next(v for k, v in state.items() if k.startswith(f"{stem}.lora_A.") and k.endswith(".weight"))
            b = next(v for k, v in state.items() if k.startswith(f"{stem}.lora_B.") and k.endswith(".weight"))
            value = (value.float() + scaling * (b.float() @ a.float())).to(value.dtype)
        out[key.replace(".base_layer.", ".")] = value
    return out


def write_merged_checkpoint(model, tokenizer, source_dir: Path | None, out: Path,
                            state: dict[str, torch.Tensor] | None = None) -> None:
    """Saves merged weights + tokenizer + the source's side files into `out` (an existing directory).

    `state`: an already merged full state dict (a sharded model gathers its own); default: merged
    from the live model."""
    model.save_pretrained(str(out), state_dict=merged_state_dict(model) if state is None else state)
    tokenizer.save_pretrained(str(out))
    if source_dir is not None:
        for name in SIDE_FILES:
            if (source_dir / name).is_file():
                shutil.copyfile(source_dir / name, out / name)
