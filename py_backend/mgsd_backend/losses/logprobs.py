"""Per-token log-probs, entropy, top-k and full distributions from hidden rows, in row chunks.

Every function takes a model's hidden rows (one per scored response token, from
`PolicyModel.response_hidden` after masking) and calls `model.logits` on at most `chunk_rows` rows
at a time, so a 151k vocabulary never materialises [N, V] logits for the whole batch.

With grad enabled and more than one chunk, each chunk runs under activation checkpointing
(`torch.utils.checkpoint`, non-reentrant): only the chunk's small outputs are kept, and the
[chunk, V] logits are recomputed in backward. With one chunk (the tiny model) it runs plainly.

Temperature divides the logits before log-softmax; it must be > 0 (greedy has no distribution).

Dimension letters: N rows, D width, V vocabulary, K top-k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.checkpoint import checkpoint

from ..models.base import PolicyModel

# Elements of one chunk's logits (2^25 floats = 128 MiB in float32; ~220 rows of a 151k vocabulary).
CHUNK_ELEMENTS = 1 << 25

ChunkFn = Callable[..., tuple[torch.Tensor, ...]]


def chunk_rows_for(vocab_size: int, chunk_elements: int = CHUNK_ELEMENTS) -> int:
    """Rows per chunk so one chunk's logits hold about `chunk_elements` numbers."""
    return max(1, chunk_elements // max(1, vocab_size))


def map_row_chunks(fn: ChunkFn, row_tensors: Sequence[torch.Tensor], chunk_rows: int) -> tuple[torch.Tensor, ...]:
    """Applies `fn(*chunk_of_each_tensor)` (→ tuple of tensors whose first dim is the chunk's rows)
    over row chunks and concatenates the results."""
    n_rows = row_tensors[0].shape[0]
    starts = list(range(0, n_rows, chunk_rows)) or [0]
    use_checkpoint = torch.is_grad_enabled() and len(starts) > 1 and any(t.requires_grad for t in row_tensors)
    pieces: list[tuple[torch.Tensor, ...]] = []
    for start in starts:
        chunk = [t[start:start + chunk_rows] for t in row_tensors]
        if use_checkpoint:
            pieces.append(checkpoint(fn, *chunk, use_reentrant=False))
        else:
            pieces.append(fn(*chunk))
    return tuple(torch.cat(parts, dim=0) for parts in zip(*pieces))


def log_softmax_at(logits_NV: torch.Tensor, temperature: float) -> torch.Tensor:
    """log-softmax of logits / temperature, in float32."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 to define a distribution, got {temperature}")
    return torch.log_softmax(logits_NV.float() / temperature, dim=-1)


def entropy(logprobs_NV: torch.Tensor) -> torch.Tensor:
    """Entropy of each row's distribution (0·log 0 counted as 0)."""
    probs_NV = logprobs_NV.exp()
    return -(probs_NV * logprobs_NV.masked_fill(probs_NV == 0, 0.0)).sum(dim=-1)


def token_logprobs(model: PolicyModel, hidden_ND: torch.Tensor, ids_N: torch.Tensor, temperature: float,
                   chunk_rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-prob of each row's token [N] (differentiable), entropy [N] (detached))."""

    def fn(hidden: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logprobs_NV = log_softmax_at(model.logits(hidden), temperature)
        return logprobs_NV.gather(-1, ids[:, None]).squeeze(-1), entropy(logprobs_NV.detach())

    rows = chunk_rows or chunk_rows_for(model.vocab_size)
    return map_row_chunks(fn, (hidden_ND, ids_N), rows)  # type: ignore[return-value]


@torch.no_grad()
def topk_logprobs(model: PolicyModel, hidden_ND: torch.Tensor, k: int, temperature: float,
                  chunk_rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The k most likely tokens of each row → (ids [N, K] int64, log-probs [N, K]), no grad."""
    if not 1 <= k <= model.vocab_size:
        raise ValueError(f"k={k} must lie in [1, vocab size {model.vocab_size}]")

    def fn(hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, ids = log_softmax_at(model.logits(hidden), temperature).topk(k, dim=-1)
        return ids, values

    ids_NK, logprobs_NK = map_row_chunks(fn, (hidden_ND,), chunk_rows or chunk_rows_for(model.vocab_size))
    return ids_NK, logprobs_NK


@torch.no_grad()
def full_logprobs(model: PolicyModel, hidden_ND: torch.Tensor, temperature: float,
                  chunk_rows: int | None = None) -> torch.Tensor:
    """Every row's whole log-distribution [N, V], no grad (for the wire: small vocabularies only)."""

    def fn(hidden: torch.Tensor) -> tuple[torch.Tensor]:
        return (log_softmax_at(model.logits(hidden), temperature),)

    return map_row_chunks(fn, (hidden_ND,), chunk_rows or chunk_rows_for(model.vocab_size))[0]
