"""The tiny VLM's network: a patch-conv image stem feeding a pre-LN GPT decoder (PyTorch, CPU/CUDA).

- Image stem: Conv2d(3, D, kernel=patch, stride=patch) over a uint8 RGB image scaled to [-1, 1];
  one visual token per patch (raster order), plus a learned per-patch position embedding and a
  learned "visual" type embedding. Visual tokens replace the IMAGE placeholder ids of the sequence
  and then get the same sequence position embedding as text tokens.
- Decoder: learned absolute positions (`max_seq_len`), pre-LN blocks (causal self-attention
  through `scaled_dot_product_attention`, GELU MLP 4×), final LayerNorm, output head tied to the
  token embedding.
- Padding: rows carry a key mask; positions are per row (`cumsum(mask) - 1`), so a left-padded
  prompt sees exactly what it would see alone. Pad queries attend to themselves only (a fully
  masked row would give NaN); their outputs are never read. Masks are additive (0 / -inf).
- Kept columns: `blocks_forward(keep=…)` runs the last block's queries, attention and MLP only at
  the columns a caller reads (the response-predicting ones, or a prefill's last); its keys and
  values still cover every column. Exact, and on the tiny shapes a fifth or more of a forward.
- KV cache: `LayerCache` holds preallocated keys/values [B, H, T_max, hd]; a call with `start`
  writes its keys at `start..start+T` and attends over `0..start+T`.

Dimension letters: B batch, T sequence, D width, H heads, V vocabulary, G patches per image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .tiny_tokenizer import VOCAB_SIZE


@dataclass(frozen=True)
class TinyVLMConfig:
    """Shape of the tiny VLM (the `config` of a `{"kind": "tiny"}` model spec)."""

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    patch_px: int = 8
    max_seq_len: int = 256
    image_size_px: int = 40

    @classmethod
    def from_dict(cls, config: dict) -> TinyVLMConfig:
        """Builds a config from JSON, rejecting unknown keys and inconsistent shapes."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"tiny model config: unknown key(s) {unknown}; known keys: {sorted(known)}")
        for key, value in config.items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"tiny model config: {key} must be a positive integer, got {value!r}")
        made = cls(**config)
        if made.d_model % made.n_heads:
            raise ValueError(f"tiny model config: n_heads={made.n_heads} must divide d_model={made.d_model}")
        if made.image_size_px % made.patch_px:
            raise ValueError(
                f"tiny model config: image_size_px={made.image_size_px} must be a multiple of "
                f"patch_px={made.patch_px}"
            )
        return made

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_visual(self) -> int:
        """Visual tokens per image (one per patch)."""
        return (self.image_size_px // self.patch_px) ** 2


class LayerCache:
    """Preallocated keys and values of one attention layer."""

    def __init__(self, batch: int, n_heads: int, max_len: int, head_dim: int, like: torch.Tensor) -> None:
        shape = (batch, n_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=like.dtype, device=like.device)
        self.v = torch.zeros(shape, dtype=like.dtype, device=like.device)


class Block(nn.Module):
    """One pre-LN transformer block."""

    def __init__(self, config: TinyVLMConfig) -> None:
        super().__init__()
        d = config.d_model
        self.n_heads = config.n_heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)

    def forward(self, x_BTD: torch.Tensor, mask_B1TK: torch.Tensor, cache: LayerCache | None,
                start: int, keep: slice | None = None) -> torch.Tensor:
        """[B, T, D] → [B, T, D]; with `keep`, only those columns' outputs ([B, R, D]): keys and
        values (and the cache) still cover every column, queries and the MLP only the kept ones."""
        attended_BRD = self._attend(self.ln1(x_BTD), mask_B1TK, cache, start, keep)
        x_BRD = (x_BTD if keep is None else x_BTD[:, keep]) + attended_BRD
        return x_BRD + self.out(F.gelu(self.fc(self.ln2(x_BRD))))

    def _attend(self, x_BTD: torch.Tensor, mask_B1TK: torch.Tensor, cache: LayerCache | None,
                start: int, keep: slice | None) -> torch.Tensor:
        B, T, D = x_BTD.shape
        q, k, v = self.qkv(x_BTD).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache.k[:, :, start:start + T] = k
            cache.v[:, :, start:start + T] = v
            k, v = cache.k[:, :, :start + T], cache.v[:, :, :start + T]
        if keep is not None:
            q, mask_B1TK = q[:, :, keep], mask_B1TK[:, :, keep]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_B1TK)
        return self.proj(y.transpose(1, 2).reshape(B, q.shape[2], D))


class TinyVLMNet(nn.Module):
    """Image stem + decoder. `embed` builds the input rows, `blocks_forward` runs the decoder."""

    def __init__(self, config: TinyVLMConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.tok_emb = nn.Embedding(VOCAB_SIZE, d)
        self.pos_emb = nn.Embedding(config.max_seq_len, d)
        self.patch = nn.Conv2d(3, d, kernel_size=config.patch_px, stride=config.patch_px)
        self.patch_pos = nn.Parameter(torch.zeros(config.n_visual, d))
        self.visual_type = nn.Parameter(torch.zeros(d))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2 style: N(0, 0.02), residual projections scaled by 1/sqrt(2·layers), zero biases.
        # LayerNorms keep their (1, 0) defaults.
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding, nn.Conv2d)):
                is_residual = name.endswith((".proj", ".out"))
                nn.init.normal_(module.weight, std=residual_std if is_residual else 0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.patch_pos, std=0.02)
        nn.init.normal_(self.visual_type, std=0.02)

    def visual_tokens(self, images_BCHW: torch.Tensor) -> torch.Tensor:
        """uint8 images [B, 3, S, S] → visual tokens [B, G, D]."""
        pixels = images_BCHW.to(self.patch.weight.dtype) / 127.5 - 1.0
        patches_BGD = self.patch(pixels).flatten(2).transpose(1, 2)
        return patches_BGD + self.patch_pos + self.visual_type

    def embed(self, ids_BT: torch.Tensor, positions_BT: torch.Tensor, visual_BT: torch.Tensor | None,
              images_BCHW: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings with visual tokens swapped in at `visual_BT`, plus positions."""
        x_BTD = self.tok_emb(ids_BT)
        if images_BCHW is not None and visual_BT is not None:
            # masked_scatter fills True slots in row-major order: row b's G slots get image b's G patches.
            x_BTD = x_BTD.masked_scatter(visual_BT.unsqueeze(-1), self.visual_tokens(images_BCHW))
        return x_BTD + self.pos_emb(positions_BT)

    def blocks_forward(self, x_BTD: torch.Tensor, mask_B1TK: torch.Tensor,
                       caches: list[LayerCache] | None = None, start: int = 0,
                       keep: slice | None = None) -> torch.Tensor:
        """Decoder blocks + final LayerNorm → [B, T, D], or with `keep` only those columns
        ([B, R, D]). Every block but the last must run at every column (its outputs are the next
        block's keys and values); the last computes queries, attention and MLP only at `keep`
        (exact: the other columns' outputs feed nothing)."""
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            x_BTD = block(x_BTD, mask_B1TK, caches[index] if caches is not None else None, start,
                          keep if index == last else None)
        return self.ln_f(x_BTD)

    def head(self, hidden_ND: torch.Tensor) -> torch.Tensor:
        """Tied output head, float32 logits."""
        return hidden_ND.float() @ self.tok_emb.weight.float().t()


def causal_mask(key_mask_BK: torch.Tensor, n_queries: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention mask [B, 1, Tq, K] (0 = attend, -inf = not) for the last `n_queries` of K
    keys: causal and restricted to real keys; every query also sees itself (pad rows would
    otherwise be all -inf → NaN). Additive beats boolean: SDPA converts a bool mask on every call,
    and one forward shares this mask across all layers."""
    K = key_mask_BK.shape[1]
    device = key_mask_BK.device
    query_index = torch.arange(K - n_queries, K, device=device)[:, None]
    key_index = torch.arange(K, device=device)[None, :]
    allowed_BQK = ((key_index <= query_index) & key_mask_BK[:, None, :]) | (key_index == query_index)
    additive = torch.zeros(allowed_BQK.shape, dtype=dtype, device=device).masked_fill(~allowed_BQK, float("-inf"))
    return additive.unsqueeze(1)


def positions_from_mask(mask_BT: torch.Tensor) -> torch.Tensor:
    """Per-row positions: 0 at each row's first real token (left padding shifts nothing)."""
    return (mask_BT.long().cumsum(-1) - 1).clamp(min=0)
