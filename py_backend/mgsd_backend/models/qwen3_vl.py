"""The `hf` model kind: Qwen3-VL (any size, hub id or local directory) through transformers.

`build_hf_model` loads a checkpoint (offline when `HF_HUB_OFFLINE=1` or the path is a directory),
optionally adds LoRA on the language model's linears, and wraps it as a `PolicyModel`. Inputs come
from mgsd's own codec (`qwen3_vl_codec.py`), so CPU tests and GPU runs see identical tensors.

Notable choices (see shared/reference/qwen3-vl-in-transformers.md):
- Positions. `encode_prompts` computes a prompt's positions once (`prefill_positions`: M-RoPE via
  `get_rope_index`, fed `mm_token_type_ids` where the installed transformers takes it, for a view
  with an image); generation and `response_hidden` pass them explicitly, response tokens
  continuing each row's last position + 1 on every axis (what `get_rope_index` gives text after
  the prompt). A text-only view (the teacher) gets plain `cumsum(mask) - 1` positions on all
  three M-RoPE axes. `rope_deltas`, which the model caches between calls, is cleared before and
  after every forward and `generate`.
- Padding. Prompts are left-padded to P columns, responses right-padded to R; the hidden row at
  column P+j-1 predicts response token j.
- Sampling (`qwen3_vl_sampler.py`). Every generation knob is explicit (the checkpoint's
  recommended top-k/top-p never leak in); per-row seeds from (seed, global row), independent of the
  batch split; run in eval mode; vision placeholder tokens suppressed. `Generation.logprobs_BR`
  comes from the sampling pass itself (log-softmax of the raw logits / temperature, temperature 1
  for greedy): no teacher-forced recompute. `token_logprobs` is the teacher-forced equivalent,
  kept for tests and callers that score ids they did not sample here.
- Precision and sharding (`sharding/`): a trainable model computing in bf16 keeps fp32 master
  weights by default (`master_weights`); with a process group the model is FSDP2-sharded and
  every forward goes through the `ShardedRoot` (`_hidden`, `logits`), never `core.model` directly.
- LoRA on `q/k/v/o/gate/up/down_proj` under `language_model` only; vision tower and merger frozen.
  `save` merges LoRA into a copy of the weights (never into the live model) and writes a
  directory that loads like a hub checkpoint (`qwen3_vl_lora.py`). Loading: `qwen3_vl_load.py`.

Dimension letters: B batch, P prompt length, R response length, T = P + R, D hidden, V vocabulary,
N flattened rows.
"""

from __future__ import annotations

import contextlib
import inspect
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelLoadError
from ..sharding import fsdp
from ..sharding.master_weights import PrecisionPlan, autocast_context, plan_precision
from .base import EncodedPrompts, Generation, PolicyModel, SamplingParams, View
from .qwen3_vl_codec import ImageSettings, Qwen3VLCodec, check_chat_template
from .qwen3_vl_lora import add_lora, enable_checkpointing, merge_gathered_lora, write_merged_checkpoint
from .qwen3_vl_patch_embed import use_linear_patch_embed
from .qwen3_vl_sampler import hf_generate, prefill_positions
from .qwen3_vl_tail import last_layer_only_at

LOGIT_CHUNK_ROWS = 1024


def build_hf_model(spec: dict, *, device: str, dtype: str, seed: int, trainable: bool,
                   checkpoint: str | None) -> Qwen3VLPolicy:
    """Loads `spec` (`{"kind": "hf", "path", "lora", "gradient_checkpointing", "master_weights"?,
    "cpu_offload"?}`) for the registry.

    `checkpoint`, when given, is a directory written by `save` (merged weights + tokenizer) and is
    loaded instead of `spec["path"]`; a fresh LoRA (seeded by `seed`) goes on top when asked."""
    from .qwen3_vl_load import load_model_and_tokenizer, resolve_directory, resolve_device, resolve_dtype

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source = checkpoint or spec.get("path")
    if not source:
        raise ModelLoadError("model spec of kind hf has no path", hint="set model.path to a hub id or a directory")
    directory = resolve_directory(str(source))
    try:
        plan = plan_precision(torch_dtype, str(spec.get("master_weights", "fp32")), trainable)
    except ValueError as err:
        raise ModelLoadError(f"hf model spec: {err}", hint="set model.masterWeights to fp32 or bf16") from err
    # Sharded: load into CPU memory; fully_shard then moves only each rank's shards to the device
    # (a full fp32 copy per GPU first would need 4 bytes × parameters on every rank).
    load_device = torch.device("cpu") if fsdp.is_distributed() else torch_device
    model, tokenizer = load_model_and_tokenizer(directory, plan.param_dtype, load_device)
    torch.manual_seed(seed)  # LoRA's A matrices are initialised randomly
    return Qwen3VLPolicy(
        model, tokenizer, ImageSettings.from_directory(directory), lora=spec.get("lora"), trainable=trainable,
        gradient_checkpointing=bool(spec.get("gradient_checkpointing", False)), source=str(source),
        source_dir=directory, plan=plan, cpu_offload=bool(spec.get("cpu_offload", False)), device=torch_device,
    )


class Qwen3VLPolicy(PolicyModel):
    """A Qwen3-VL `Qwen3VLForConditionalGeneration` behind mgsd's `PolicyModel` interface."""

    kind = "hf"

    def __init__(self, model, tokenizer, settings: ImageSettings, *, lora: dict | None = None,
                 trainable: bool = False, gradient_checkpointing: bool = False,
                 source: str = "<memory>", source_dir: Path | None = None, plan: PrecisionPlan | None = None,
                 cpu_offload: bool = False, device: torch.device | None = None) -> None:
        self._core = model  # Qwen3VLForConditionalGeneration; LoRA layers are injected in place
        self._tokenizer = tokenizer
        self._source, self._source_dir = source, source_dir
        self._lora = lora if trainable else None  # a frozen model has nothing to adapt
        self._trainable = trainable
        config = model.config
        self._pad_id = _token_id(tokenizer, "<|endoftext|>", tokenizer.pad_token_id)
        self._eos_id = _token_id(tokenizer, "<|im_end|>", tokenizer.eos_token_id)
        self._stop_ids = sorted({self._eos_id, self._pad_id} | ({tokenizer.eos_token_id} - {None}))
        self._vision_ids = [config.image_token_id, config.video_token_id, config.vision_start_token_id,
                            config.vision_end_token_id] + _known_ids(tokenizer, ["<|vision_pad|>"])
        self._codec = Qwen3VLCodec(tokenizer, settings, image_token_id=config.image_token_id, pad_id=self._pad_id)
        self._takes_mm_types = "mm_token_type_ids" in inspect.signature(model.model.forward).parameters
        self._template_check = check_chat_template(tokenizer)
        # Sampling settings come only from `generate`'s arguments, never from the checkpoint's defaults.
        from transformers import GenerationConfig

        model.generation_config = GenerationConfig(eos_token_id=self._stop_ids, pad_token_id=self._pad_id)
        self._checkpointing = gradient_checkpointing and trainable
        use_linear_patch_embed(model)  # the same map, about 2-3x cheaper on CPU (qwen3_vl_patch_embed.py)
        self._setup_training(gradient_checkpointing)
        self._device = device or model.lm_head.weight.device
        self._plan = plan or PrecisionPlan(model.dtype, model.dtype, "bf16" if model.dtype != torch.float32 else "fp32")
        # Sharded whenever a process group exists (world size 1 included): see sharding/fsdp.py.
        self._root = (fsdp.shard_qwen3_vl(model, self._plan, self._device, cpu_offload=cpu_offload and not trainable)
                      if fsdp.is_distributed() else None)

    def _setup_training(self, gradient_checkpointing: bool) -> None:
        if not self._trainable:
            self._core.eval().requires_grad_(False)
            return
        if self._lora is not None:
            add_lora(self._core, self._lora)
        if gradient_checkpointing:
            self._core.config.use_cache = False
            enable_checkpointing(self._core)
        self._core.train()

    # ---- tokenizer side ---------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self._core.config.text_config.vocab_size)

    @property
    def eos_id(self) -> int:
        return self._eos_id

    @property
    def pad_id(self) -> int:
        return self._pad_id

    @property
    def device(self) -> torch.device:
        return self._device

    def encode_prompts(self, views: list[View], images_BHWC: torch.Tensor | None) -> EncodedPrompts:
        out = self._codec.encode(views, images_BHWC)
        inputs: dict[str, Any] = {"input_ids": out.input_ids_BP.to(self.device),
                                  "attention_mask": out.attention_mask_BP.to(self.device),
                                  "mm_token_type_ids": out.mm_token_type_ids_BP.to(self.device)}
        if out.pixel_values_NF is not None:
            inputs["pixel_values"] = out.pixel_values_NF.to(self.device, self._plan.compute_dtype)
            inputs["image_grid_thw"] = out.image_grid_thw.to(self.device)
        prompts = EncodedPrompts(batch_size=len(views), has_images=out.pixel_values_NF is not None, inputs=inputs)
        # Positions once per encoding: generation's prefill and every response_hidden on these
        # prompts reuse them (transformers' get_rope_index loops in Python over rows and images).
        inputs["positions_4BP"] = prefill_positions(self, prompts)
        return prompts

    def encode_targets(self, texts: list[str], append_eos: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return self._codec.encode_targets(texts, append_eos, self._eos_id)

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    # ---- compute ----------------------------------------------------------------------------
    def _model_inputs(self, prompts: EncodedPrompts, ids_BT, mask_BT) -> dict[str, Any]:
        """Forward kwargs for prompt (+ response) columns; positions per the module header."""
        kwargs: dict[str, Any] = {"input_ids": ids_BT, "attention_mask": mask_BT}
        if prompts.has_images:
            kwargs["pixel_values"] = prompts.inputs["pixel_values"]
            kwargs["image_grid_thw"] = prompts.inputs["image_grid_thw"]
            if self._takes_mm_types:  # transformers >= 5.3 needs it for M-RoPE; responses are text (0)
                types_BP = prompts.inputs["mm_token_type_ids"]
                zeros = types_BP.new_zeros(ids_BT.shape[0], ids_BT.shape[1] - types_BP.shape[1])
                kwargs["mm_token_type_ids"] = torch.cat([types_BP, zeros], 1)
        return kwargs

    def _clear_rope_cache(self) -> None:
        # NOTE: Qwen3VLModel caches rope_deltas across calls; a stale one shifts positions.
        self._core.model.rope_deltas = None

    def generate(self, prompts: EncodedPrompts, params: SamplingParams) -> Generation:
        with torch.no_grad(), self._eval_mode():
            self._clear_rope_cache()
            try:
                return hf_generate(self, prompts, params)
            finally:
                self._clear_rope_cache()

    # What the sampler (qwen3_vl_sampler.py) needs from the policy.
    @property
    def core(self):
        """The wrapped `Qwen3VLForConditionalGeneration`."""
        return self._core

    @property
    def tokenizer(self):
        return self._tokenizer

    @property
    def source(self) -> str:
        return self._source

    @property
    def stop_ids(self) -> list[int]:
        """Token ids that end a response (EOS, pad, the tokenizer's own EOS)."""
        return self._stop_ids

    @property
    def vision_ids(self) -> list[int]:
        """Qwen's vision placeholder ids, which sampling never emits."""
        return self._vision_ids

    def model_inputs(self, prompts: EncodedPrompts, ids_BT, mask_BT) -> dict[str, Any]:
        """Forward kwargs for prompt (+ response) columns; positions per the module header."""
        return self._model_inputs(prompts, ids_BT, mask_BT)

    def token_logprobs(self, prompts: EncodedPrompts, response_ids_BR, response_mask_BR, temperature: float):
        """log softmax(logits / temperature) of each response token, chunked; 0 where masked."""
        hidden_BRD = self.response_hidden(prompts, response_ids_BR, response_mask_BR)
        mask_BR = response_mask_BR.to(hidden_BRD.device)
        rows_ND, ids_N = hidden_BRD[mask_BR], response_ids_BR.to(hidden_BRD.device)[mask_BR]
        picked = []
        for start in range(0, rows_ND.shape[0], LOGIT_CHUNK_ROWS):
            logits_NV = self.logits(rows_ND[start:start + LOGIT_CHUNK_ROWS]) / temperature
            ids = ids_N[start:start + LOGIT_CHUNK_ROWS, None]
            picked.append(logits_NV.gather(1, ids)[:, 0] - torch.logsumexp(logits_NV, dim=1))
        out_BR = torch.zeros(mask_BR.shape, dtype=torch.float32, device=hidden_BRD.device)
        if picked:
            out_BR[mask_BR] = torch.cat(picked)
        return out_BR

    def response_hidden(self, prompts: EncodedPrompts, response_ids_BR: torch.Tensor,
                        response_mask_BR: torch.Tensor) -> torch.Tensor:
        prompt_BP = prompts.inputs["input_ids"]
        _check_no_vision_tokens(response_ids_BR, self._vision_ids)
        width_P, width_R = prompt_BP.shape[1], response_ids_BR.shape[1]
        ids_BT = torch.cat([prompt_BP, response_ids_BR.to(self.device, torch.long)], 1)
        mask_BT = torch.cat([prompts.inputs["attention_mask"], response_mask_BR.to(self.device, torch.long)], 1)
        kwargs = self._model_inputs(prompts, ids_BT, mask_BT)
        if prompts.has_images:  # the prompt's M-RoPE positions, then text continuing each row +1
            prompt_3BP = prompts.inputs["positions_4BP"][1:]
            steps_R = torch.arange(1, width_R + 1, device=prompt_3BP.device)
            kwargs["position_ids"] = torch.cat([prompt_3BP, prompt_3BP[..., -1:] + steps_R], -1)
        else:
            kwargs["position_ids"] = text_positions(mask_BT)
        # Only the R columns that predict response tokens are read: the last layer computes just
        # those (qwen3_vl_tail.py), unless activation checkpointing would recompute it outside this call.
        recomputed = self._checkpointing and torch.is_grad_enabled()
        tail = (last_layer_only_at(self._core, width_P - 1, width_P + width_R - 1, mask_BT)
                if width_R > 0 and not recomputed else contextlib.nullcontext())
        self._clear_rope_cache()
        try:
            with tail:
                out = self._hidden(**kwargs, use_cache=False)
        finally:
            self._clear_rope_cache()
        return out.last_hidden_state[:, width_P - 1: width_P + width_R - 1]

    def logits(self, hidden_ND: torch.Tensor) -> torch.Tensor:
        if self._root is not None:
            return self._root(head_input=hidden_ND).float()
        head = self._core.lm_head
        return head(hidden_ND.to(head.weight.dtype)).float()

    def _hidden(self, **kwargs: Any):
        return self._root(**kwargs) if self._root is not None else self._core.model(**kwargs)

    def compute_context(self, sampling: bool = False):
        # Sampling's decode loop calls core.forward, outside the FSDP root: gather the root first.
        stack = contextlib.ExitStack()
        stack.enter_context(autocast_context(self._plan, self.device, sharded=self._root is not None))
        if sampling:
            stack.enter_context(fsdp.gathered_root(self._root))
        return stack

    def module(self) -> torch.nn.Module:
        # The same `core.`-prefixed keys sharded or not, so a DCP checkpoint loads at any N.
        return self._root if self._root is not None else fsdp.ShardedRoot(self._core)

    @property
    def shards_parameters(self) -> bool:
        return self._root is not None

    @property
    def has_adapter(self) -> bool:
        return self._lora is not None

    # ---- training state ---------------------------------------------------------------------
    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self._core.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> None:
        _set_mode(self._core, mode and self._trainable)

    def named_weights(self):
        """The live parameters by transformers' names (LoRA layers unmerged: an engine that holds
        its own copy must merge them, as `save` does)."""
        return self._core.named_parameters()

    def save(self, directory: str) -> None:
        if self._root is None:
            write_merged_checkpoint(self._core, self._tokenizer, self._source_dir, Path(directory))
            return
        # Sharded: every rank gathers (a collective); rank 0 alone writes the full weights.
        full = {k.removeprefix("core."): v for k, v in fsdp.full_state_dict(self._root).items()}
        if self._lora is not None:
            full = merge_gathered_lora(full, float(self._lora["alpha"]) / float(self._lora["rank"]))
        embed = "model.language_model.embed_tokens.weight"
        if fsdp.rank() == 0 and "lm_head.weight" in full and self._core.lm_head.weight is \
                self._core.model.language_model.embed_tokens.weight:
            # Gathered separately, the tied head is a second tensor; share it again so save_pretrained
            # writes it once, as it does for the unsharded model.
            full["lm_head.weight"] = full[embed]
        if fsdp.rank() == 0:
            write_merged_checkpoint(self._core, self._tokenizer, self._source_dir, Path(directory), state=full)

    def describe(self) -> dict[str, Any]:
        import transformers

        return {
            "kind": self.kind, "source": self._source,
            "params": sum(p.numel() for p in self._core.parameters()), **self._plan.describe(),
            "sharding": {"kind": "fsdp2", "world_size": fsdp.world_size()} if self._root is not None else None,
            "trainable_params": sum(p.numel() for p in self.trainable_parameters()),
            "vocab": self.vocab_size, "tokenizer_size": len(self._tokenizer),
            "device": str(self.device), "dtype": str(self._plan.compute_dtype).removeprefix("torch."),
            "lora": self._lora, "chat_template": self._template_check,
            "transformers": transformers.__version__,
        }

    # ---- helpers ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _eval_mode(self):
        was_training = self._core.training
        _set_mode(self._core, False)
        try:
            yield
        finally:
            _set_mode(self._core, was_training)


def _set_mode(core, training: bool) -> None:
    """`core.train(training)`, skipped when the root already is in that mode: only this class sets
    modes (always on the whole model), so the root's flag is every module's, and the walk over
    every submodule (~0.2 ms on the tiny model, several times per step) is saved."""
    if core.training != training:
        core.train(training)


def text_positions(mask_BT: torch.Tensor) -> torch.Tensor:
    """Plain 1-D RoPE positions on all three M-RoPE axes → [3, B, T] (pads get 1, masked anyway)."""
    positions_BT = (mask_BT.long().cumsum(1) - 1).masked_fill(mask_BT == 0, 1)
    return positions_BT.unsqueeze(0).expand(3, -1, -1)


def _check_no_vision_tokens(response_ids_BR: torch.Tensor, vision_ids: list[int]) -> None:
    found = torch.isin(response_ids_BR, torch.tensor(vision_ids, device=response_ids_BR.device))
    if bool(found.any()):
        row, col = (int(i) for i in found.nonzero()[0])
        raise ValueError(
            f"response sample {row}, position {col}: token id {int(response_ids_BR[row, col])} is a Qwen vision "
            f"placeholder, which would be read as image input. Responses must not contain vision tokens "
            f"(generate suppresses them); pad responses with the model's pad id."
        )


def _known_ids(tokenizer, tokens: list[str]) -> list[int]:
    ids = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
    return [i for i in ids if isinstance(i, int) and i != tokenizer.unk_token_id]


def _token_id(tokenizer, token: str, fallback: int | None) -> int:
    found = tokenizer.convert_tokens_to_ids(token)
    if isinstance(found, int) and found != tokenizer.unk_token_id:
        return found
    if fallback is None:
        raise ModelLoadError(f"the tokenizer has no {token} token and no fallback id",
                             hint="kind hf expects a Qwen3-VL tokenizer")
    return int(fallback)
