"""The last decoder layer of a Qwen3-VL computed only at the columns a caller reads.

`response_hidden` (teacher-forced scoring, the student's forward with gradient, the in-process
teacher) reads the final hidden states of the R columns that predict response tokens, never the
prompt's; generation's prefill reads only the last column's. Every layer but the last must still
run at every column (its outputs are the next layer's keys and values), but the last layer's
queries, attention output and MLP at the other columns feed nothing. `last_layer_only_at` makes
the last layer compute keys and values at every column (they are attended to, and cached) and
everything else only at columns [start, stop): that layer's attention work drops from T²/2 to
R·T and its MLP from T rows to R, forward and backward. On the 2-layer benchmark model that is
nearly half the decoder; on a 28-layer one about 1/28 of it.

Invariants:
- Exact: at [start, stop) the output is the same function of the inputs as the stock layer's
  (the same submodules, the same mask: key j is visible to query column i iff j <= i and the
  2-D padding mask is 1 at j), so values agree up to float summation order.
- The other columns of the returned [B, T, D] tensor are the layer's input passed through
  unchanged (finite, no gradient reaches them from the loss): callers must not read them.
- Cache-free passes (scoring) and prefills from an empty cache (generation: only the last column's
  output is read, every column's keys and values go to the cache); never a decode step.
- Only for a layer that runs inside this context when its forward runs: callers disable it under
  activation checkpointing with gradients (the recompute runs during backward, outside it). Under
  FSDP2 the layer's own hooks still gather its parameters before this forward runs.

Dimension letters: B batch, T columns, R = stop - start kept columns, H query heads, K key/value
heads, E head dim, D hidden.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def last_layer_only_at(core, start: int, stop: int, mask_BT: torch.Tensor) -> Iterator[None]:
    """While active, `core`'s last text decoder layer computes its output only at columns
    [start, stop) (see the module header); `mask_BT` is the forward's 2-D attention mask."""
    layer = core.model.language_model.layers[-1]
    if "forward" in vars(layer):
        raise RuntimeError("last_layer_only_at: the last decoder layer's forward is already overridden "
                           "(nested use, or a wrapper set it); this context must own it")
    if not 0 <= start < stop <= mask_BT.shape[1]:
        raise ValueError(f"last_layer_only_at: columns [{start}, {stop}) outside the {mask_BT.shape[1]} columns")

    def forward(hidden_states, position_embeddings, attention_mask=None, position_ids=None,
                past_key_values=None, use_cache=False, **kwargs):
        cached = 0 if past_key_values is None else past_key_values.get_seq_length(layer.self_attn.layer_idx)
        if cached or hidden_states.shape[1] != mask_BT.shape[1]:
            raise RuntimeError(f"last_layer_only_at: expected one pass over all {mask_BT.shape[1]} columns from an "
                               f"empty cache, got {hidden_states.shape[1]} columns after {cached} cached")
        return _kept_forward(layer, hidden_states, position_embeddings, start, stop, mask_BT, past_key_values)

    layer.forward = forward
    try:
        yield
    finally:
        del layer.forward


def _kept_forward(layer, hidden_BTD: torch.Tensor, position_embeddings, start: int, stop: int,
                  mask_BT: torch.Tensor, cache) -> torch.Tensor:
    """The stock decoder layer (pre-norm attention + MLP, residuals) with queries at [start, stop)."""
    from transformers.models.qwen3_vl.modeling_qwen3_vl import rotate_half

    def rope(x, cos, sin):  # the stock `apply_rotary_pos_emb`, one tensor at a time
        return x * cos.unsqueeze(1) + rotate_half(x) * sin.unsqueeze(1)

    attn = layer.self_attn
    batch, width = hidden_BTD.shape[:2]
    normed_BTD = layer.input_layernorm(hidden_BTD)
    normed_BRD = normed_BTD[:, start:stop]
    head_dim = attn.head_dim
    q_BHRE = attn.q_norm(attn.q_proj(normed_BRD).view(batch, stop - start, -1, head_dim)).transpose(1, 2)
    k_BKTE = attn.k_norm(attn.k_proj(normed_BTD).view(batch, width, -1, head_dim)).transpose(1, 2)
    v_BKTE = attn.v_proj(normed_BTD).view(batch, width, -1, head_dim).transpose(1, 2)
    cos, sin = position_embeddings
    q_BHRE, k_BKTE = rope(q_BHRE, cos[:, start:stop], sin[:, start:stop]), rope(k_BKTE, cos, sin)
    if cache is not None:  # a prefill: the cache gets every column's keys and values, as the stock layer's
        k_BKTE, v_BKTE = cache.update(k_BKTE, v_BKTE, attn.layer_idx)
    # Query column i sees key j iff j <= i (causal) and j is not padding: what the stock mask says.
    columns_T = torch.arange(width, device=hidden_BTD.device)
    causal_RT = columns_T[None, :] <= columns_T[start:stop, None]
    visible_B1RT = causal_RT[None, None] & mask_BT.to(hidden_BTD.device).bool()[:, None, None, :]
    out_BHRE = torch.nn.functional.scaled_dot_product_attention(
        q_BHRE, k_BKTE, v_BKTE, attn_mask=visible_B1RT, dropout_p=attn.attention_dropout if attn.training else 0.0,
        scale=attn.scaling, enable_gqa=q_BHRE.shape[1] != k_BKTE.shape[1])
    kept_BRD = hidden_BTD[:, start:stop] + attn.o_proj(out_BHRE.transpose(1, 2).reshape(batch, stop - start, -1))
    kept_BRD = kept_BRD + layer.mlp(layer.post_attention_layernorm(kept_BRD))
    return torch.cat([hidden_BTD[:, :start], kept_BRD, hidden_BTD[:, stop:]], 1)
