"""mgsd's own decode step for a Qwen3-VL's text tokens: every step of `qwen3_vl_sampler.decode`
after the prefill (one text token per row), in place of transformers' `text_model(...)` + `lm_head`.

Why: on small models the per-step cost is overhead, not arithmetic. transformers' text forward
builds a causal mask, routes positions, updates a `DynamicCache` (a torch.cat per layer per step)
and calls 7 linears per layer, each a small GEMM that (at 2 OpenMP threads) wakes the second
thread. Here each layer runs 4 GEMMs (q/k/v as one, o, gate/up as one, down) and the mask is a
slice of one boolean tensor.

Exact, not approximate: the step calls the layer's own norm modules (`input_layernorm`, `q_norm`,
`k_norm`, `post_attention_layernorm`, the final `norm`), `o_proj`, `down_proj`, the MLP's `act_fn`,
the text model's `embed_tokens` and `rotary_emb` (with the step's [3, B, 1] M-RoPE positions, once
per step) and transformers' `apply_rotary_pos_emb`; q/k/v and gate/up are one `F.linear` each
against the concatenated weights, and attention is the same SDPA call transformers makes for one
query (its `pack_gqa` layout, a [B, 1, 1, T] boolean key mask). Values agree with the stock step
up to float summation order (tests/test_qwen3_vl_decode_step.py).

Choices:
- KV cache: the prefill's `DynamicCache` is copied once into per-layer buffers (room for
  `FIRST_STEPS` steps, doubling when full); a step writes one column and attends over a prefix
  view. `DynamicCache.update` would cat the whole cache per layer per step: O(T) copies each step,
  O(T²) per generate, which grows with response length and batch on a real model. (On the tiny
  model on a noisy 2-core CPU the two differ by 0-4 % at 200 steps, not measurably at 16.)
- Merged weights are built once per `decode` call from the live parameters (a cat per layer), so
  an optimizer step between generates can never leave them stale, and their memory (about the
  decoder's linear weights again) is freed when generation ends instead of held across training.
  Cost: 0.06 ms per `decode` on the tiny model (about 1 ms per step), one read of those weights on
  a real one. A cache keyed on the parameters' `_version` counters would save that read but hold
  the copy through every optimizer step.
  Under autocast they are built in the autocast dtype, which is what autocast would cast them to.
- Where the step does not apply (`lean_step_blocker`), the sampler keeps transformers' path and
  logs why once: FSDP2-sharded parameters (gathered inside each module's own forward), LoRA or any
  other wrapper around the projections (the LoRA delta cannot be merged without changing the
  rounding), forward hooks on bypassed modules, training mode (dropout), an attention
  implementation other than SDPA, sliding-window or non-full-attention layers.

Dimension letters: B batch, S cache capacity (prompt + steps), T visible key columns, H query heads,
K key/value heads, G = H / K, E head dim, D hidden, N fused output width, V vocabulary.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import torch
import torch.nn.functional as F

log = logging.getLogger("mgsd_backend.models.qwen3_vl_decode_step")

# Step columns the KV buffers first make room for; they double when full, up to prompt +
# max_new_tokens. Reserving every step up front would hold the longest possible cache (GBs at a
# 2-4 k token budget on a real model) even when every row stops early.
FIRST_STEPS = 128
# The linears the step never calls (it multiplies by their concatenated weights instead).
ATTENTION_FUSED, MLP_FUSED = ("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj")


def lean_step_blocker(policy) -> str | None:
    """Why the lean step cannot decode `policy`'s text tokens exactly; None when it can."""
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextDecoderLayer

    if policy.shards_parameters:
        return "parameters are sharded by FSDP2 (each module gathers its weights in its own forward)"
    core = policy.core
    config = core.config.text_config
    if config._attn_implementation != "sdpa":
        return f"attention implementation {config._attn_implementation!r} (the step reproduces 'sdpa')"
    if getattr(config, "sliding_window", None) is not None or getattr(config, "use_sliding_window", False):
        return "a sliding-window attention config"
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
        return f"layer types {sorted(set(config.layer_types))} (the step does full attention only)"
    text_model = core.model.language_model
    if text_model._forward_hooks or text_model._forward_pre_hooks:
        return "the text model has forward hooks, which the step would bypass"
    for i, layer in enumerate(text_model.layers):
        if type(layer) is not Qwen3VLTextDecoderLayer or "forward" in vars(layer):
            return f"decoder layer {i} is {type(layer).__name__} or has an overridden forward"
        fused = {name: getattr(layer.self_attn, name) for name in ATTENTION_FUSED}
        fused.update({name: getattr(layer.mlp, name) for name in MLP_FUSED})
        for name, module in fused.items():
            if type(module) is not torch.nn.Linear:
                wrapper = "LoRA" if hasattr(module, "base_layer") else type(module).__name__
                return f"layer {i} {name} is wrapped ({wrapper}): its output is not one plain linear"
        for name, module in {"layer": layer, "self_attn": layer.self_attn, "mlp": layer.mlp, **fused}.items():
            if module._forward_hooks or module._forward_pre_hooks:
                return f"layer {i} {name} has forward hooks, which the step would bypass"
    if core.training:  # generate runs in eval mode; a direct caller might not
        return "the model is in training mode (attention dropout)"
    return None


def log_decode_path(blocker: str | None, seen: set[str]) -> None:
    """Logs the path `decode` takes, once per distinct reason (`seen`: the caller's record)."""
    key = blocker or "lean"
    if key in seen:
        return
    seen.add(key)
    if blocker is None:
        log.info("decode: mgsd's lean Qwen3-VL decode step (qwen3_vl_decode_step.py)")
    else:
        # Info, not a warning: sharded and LoRA models take this path by design.
        log.info("decode: transformers' text model per step, not the lean step, because %s", blocker)


class FusedWeights(NamedTuple):
    """One layer's concatenated projections (built from the live parameters, see the header)."""

    qkv_ND: torch.Tensor
    qkv_bias_N: torch.Tensor | None
    qkv_split: tuple[int, int, int]
    gate_up_ND: torch.Tensor


def fuse_layer(layer, dtype: torch.dtype | None) -> FusedWeights:
    """[Wq; Wk; Wv] (and biases) and [Wgate; Wup] of `layer`, cast to `dtype` when given."""
    attn, mlp = layer.self_attn, layer.mlp
    if mlp.gate_proj.bias is not None or mlp.up_proj.bias is not None:
        raise RuntimeError("qwen3_vl_decode_step: gate/up projections with a bias; extend fuse_layer first")

    def cat(tensors):
        return torch.cat([t.detach().to(dtype or t.dtype) for t in tensors])

    projections = (attn.q_proj, attn.k_proj, attn.v_proj)
    has_bias = [p.bias is not None for p in projections]
    if any(has_bias) and not all(has_bias):
        raise RuntimeError(f"qwen3_vl_decode_step: q/k/v biases present {has_bias}; expected all or none")
    return FusedWeights(cat(p.weight for p in projections), cat(p.bias for p in projections) if all(has_bias) else None,
                        tuple(p.out_features for p in projections), cat((mlp.gate_proj.weight, mlp.up_proj.weight)))


class LeanDecodeStep:
    """Decodes one text token per row through the text decoder and head → float logits [B, V].

    Built after the prefill from its filled `DynamicCache`; each call consumes the next column of
    `mask_BS` (the prompt's padding mask, then 1 per decoded token)."""

    def __init__(self, core, cache, mask_BS: torch.Tensor) -> None:
        from transformers.cache_utils import DynamicLayer
        from transformers.models.qwen3_vl.modeling_qwen3_vl import apply_rotary_pos_emb

        self._text, self._head, self._rope = core.model.language_model, core.lm_head, apply_rotary_pos_emb
        weight = self._text.layers[0].self_attn.q_proj.weight
        # Autocast would cast the fused weights to its dtype at every call (it caches casts of leaf
        # parameters only): cast them once here instead.
        cast = torch.get_autocast_dtype(weight.device.type) if torch.is_autocast_enabled(weight.device.type) else None
        self._fused = [fuse_layer(layer, cast if weight.is_floating_point() else None) for layer in self._text.layers]
        for i, layer in enumerate(cache.layers):
            if type(layer) is not DynamicLayer:
                raise RuntimeError(f"qwen3_vl_decode_step: cache layer {i} is {type(layer).__name__}, "
                                   f"expected DynamicLayer (lean_step_blocker should have refused this config)")
        self._width = cache.layers[0].keys.shape[2]  # columns filled so far
        self._visible_B11S = mask_BS.bool()[:, None, None, :]
        capacity = min(mask_BS.shape[1], self._width + FIRST_STEPS)
        self._keys = [_grown(layer.keys, capacity) for layer in cache.layers]
        self._values = [_grown(layer.values, capacity) for layer in cache.layers]

    @torch.no_grad()
    def __call__(self, ids_B1: torch.Tensor, positions_3B1: torch.Tensor) -> torch.Tensor:
        column = self._width
        if column >= self._visible_B11S.shape[-1]:
            raise RuntimeError(f"qwen3_vl_decode_step: step at column {column} past the cache's "
                               f"{self._visible_B11S.shape[-1]} columns")
        if column == self._keys[0].shape[2]:  # full: double (amortised O(1) copies per step)
            capacity = min(self._visible_B11S.shape[-1], 2 * column)
            self._keys = [_grown(keys, capacity, column) for keys in self._keys]
            self._values = [_grown(values, capacity, column) for values in self._values]
        self._width += 1
        hidden_B1D = self._text.embed_tokens(ids_B1)
        cos_sin = self._text.rotary_emb(hidden_B1D, positions_3B1)
        visible_B11T = self._visible_B11S[..., : column + 1]
        for layer, fused, keys_BKSE, values_BKSE in zip(self._text.layers, self._fused, self._keys, self._values):
            hidden_B1D = self._layer(layer, fused, hidden_B1D, cos_sin, keys_BKSE, values_BKSE, column, visible_B11T)
        return self._head(self._text.norm(hidden_B1D)[:, -1])

    def _layer(self, layer, fused: FusedWeights, hidden_B1D, cos_sin, keys_BKSE, values_BKSE, column: int,
               visible_B11T) -> torch.Tensor:
        attn = layer.self_attn
        batch, head_dim = hidden_B1D.shape[0], attn.head_dim
        qkv_B1N = F.linear(layer.input_layernorm(hidden_B1D), fused.qkv_ND, fused.qkv_bias_N)
        q_B1N, k_B1N, v_B1N = qkv_B1N.split(fused.qkv_split, -1)
        q_BH1E = attn.q_norm(q_B1N.view(batch, 1, -1, head_dim)).transpose(1, 2)
        k_BK1E = attn.k_norm(k_B1N.view(batch, 1, -1, head_dim)).transpose(1, 2)
        q_BH1E, k_BK1E = self._rope(q_BH1E, k_BK1E, *cos_sin)
        if k_BK1E.dtype != keys_BKSE.dtype:  # the stock cat would promote; the buffer cannot
            raise RuntimeError(f"qwen3_vl_decode_step: step keys {k_BK1E.dtype}, prefill cache {keys_BKSE.dtype}")
        keys_BKSE[:, :, column: column + 1] = k_BK1E
        values_BKSE[:, :, column: column + 1] = v_B1N.view(batch, 1, -1, head_dim).transpose(1, 2)
        # transformers' `pack_gqa` for one query: the G query heads sharing a key/value head become
        # G query rows of that head, so keys and values are never repeated.
        kv_heads = keys_BKSE.shape[1]
        out_BKGE = F.scaled_dot_product_attention(
            q_BH1E.reshape(batch, kv_heads, -1, head_dim), keys_BKSE[:, :, : column + 1],
            values_BKSE[:, :, : column + 1], attn_mask=visible_B11T, scale=attn.scaling)
        hidden_B1D = hidden_B1D + attn.o_proj(out_BKGE.reshape(batch, 1, -1))
        gate_B1F, up_B1F = F.linear(layer.post_attention_layernorm(hidden_B1D), fused.gate_up_ND).chunk(2, -1)
        return hidden_B1D + layer.mlp.down_proj(layer.mlp.act_fn(gate_B1F) * up_B1F)


def _grown(filled_BKTE: torch.Tensor, capacity: int, width: int | None = None) -> torch.Tensor:
    """A [B, K, capacity, E] buffer holding the first `width` (default: all) columns of `filled_BKTE`."""
    width = filled_BKTE.shape[2] if width is None else width
    buffer_BKSE = filled_BKTE.new_empty(*filled_BKTE.shape[:2], capacity, filled_BKTE.shape[3])
    buffer_BKSE[:, :, :width] = filled_BKTE[:, :, :width]
    return buffer_BKSE
