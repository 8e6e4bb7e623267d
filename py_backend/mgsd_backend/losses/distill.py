"""One distillation loss evaluation: student hidden rows + a teacher source → loss and metrics.

The teacher comes either from the wire (TypeScript scored it in another worker: token log-probs
for `sampled`, top-k ids + log-probs for `topk`, full log-probs for `full`) or from a model in this
worker (`TeacherRows.model` + its hidden rows, scored under no_grad chunk by chunk, so a 151k
vocabulary never needs a [N, V] teacher tensor). Student and teacher rows are aligned: row n of
both is response token n of the masked [B, R] batch.

Metrics: `log_ratio_N` = log π_T(y_t) − log π_old(y_t) (the official per-token advantage; π_old =
the current student unless old log-probs are given); `kl` with its `kl_kind`: `exact` whenever
the teacher's full distribution is at hand (in-process teacher, or `full` from the wire),
`topk_buckets` for a wire top-k teacher, `sampled_k1` (mean of log π_θ − log π_T over sampled
tokens, an unbiased estimate) for a wire sampled teacher; the student's entropy, and the teacher's
when its full distribution is at hand (else None).

A wire `topk` teacher may also send `teacher_logprobs` for exact per-token log-ratios; without
them, a sampled token outside the teacher's top-k is given the rest bucket's mean log-prob
log(rest / (V − K)).

Dimension letters: N tokens, D width, V vocabulary, K top-k.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..models.base import PolicyModel
from .kl import full_forward_kl, full_reverse_kl, rest_logprob, sampled_surrogate, topk_reverse_kl
from .logprobs import chunk_rows_for, entropy, log_softmax_at, map_row_chunks
from .pg import ClipParams, token_mean


@dataclass
class TeacherRows:
    """The teacher's side, row-aligned with the student's N tokens. Which scores are used, in order
    of preference: an in-process model, full log-probs, top-k (+ optional token log-probs), token
    log-probs (`layout`)."""

    token_logprobs_N: torch.Tensor | None = None
    topk_ids_NK: torch.Tensor | None = None
    topk_logprobs_NK: torch.Tensor | None = None
    full_logprobs_NV: torch.Tensor | None = None
    model: PolicyModel | None = None
    hidden_ND: torch.Tensor | None = None  # on the teacher model's device
    k: int | None = None  # top-k width when the top-k comes from a full distribution

    @property
    def layout(self) -> str:
        if self.model is not None and self.hidden_ND is not None:
            return "model"
        if self.full_logprobs_NV is not None:
            return "full"
        if self.topk_ids_NK is not None and self.topk_logprobs_NK is not None:
            return "topk"
        if self.token_logprobs_N is not None:
            return "token"
        raise ValueError("the teacher has no scores: send teacher_logprobs, teacher_topk_*, "
                         "teacher_full_logprobs, or name an in-process teacher role")

    @property
    def has_full(self) -> bool:
        return self.layout in ("model", "full")


@dataclass
class DistillResult:
    loss: torch.Tensor
    log_ratio_N: torch.Tensor
    kl: float
    kl_kind: str
    student_entropy: float
    teacher_entropy: float | None
    tokens: int


def distill_loss(student: PolicyModel, hidden_ND: torch.Tensor, ids_N: torch.Tensor, teacher: TeacherRows,
                 estimator: str, temperature: float, clip: ClipParams,
                 old_logprobs_N: torch.Tensor | None = None) -> DistillResult:
    """Evaluates the `estimator` loss (differentiable in `hidden_ND`) and the step's metrics."""
    fn, teacher_tensors = _chunk_fn(student, teacher, estimator, temperature)
    s_tok, s_ent, t_tok, t_ent, kl_exact, kl_est = map_row_chunks(
        fn, (hidden_ND, ids_N, *teacher_tensors), chunk_rows_for(student.vocab_size))
    old_N = s_tok.detach() if old_logprobs_N is None else old_logprobs_N.float()
    if estimator == "sampled":
        terms_N, log_ratio_N = sampled_surrogate(s_tok, t_tok, old_N, clip)
        loss = token_mean(terms_N)
    else:
        loss, log_ratio_N = token_mean(kl_est), (t_tok - old_N).detach()
    if teacher.has_full:
        kl, kind = float(token_mean(kl_exact)), "exact"
    elif estimator == "topk":
        kl, kind = float(token_mean(kl_est.detach())), "topk_buckets"
    else:
        kl, kind = float(token_mean(s_tok.detach() - t_tok)), "sampled_k1"
    return DistillResult(
        loss=loss, log_ratio_N=log_ratio_N, kl=kl, kl_kind=kind, student_entropy=float(token_mean(s_ent)),
        teacher_entropy=float(token_mean(t_ent)) if teacher.has_full else None, tokens=int(ids_N.numel()),
    )


def _chunk_fn(student: PolicyModel, teacher: TeacherRows, estimator: str,
              temperature: float) -> tuple[Callable[..., tuple[torch.Tensor, ...]], list[torch.Tensor]]:
    """The per-chunk computation and the teacher row tensors it takes after (hidden, ids).

    Outputs per row: student token log-prob (grad), student entropy, teacher token log-prob,
    teacher entropy (0 if unknown), exact KL (0 if unknown), estimator KL (grad; 0 for sampled)."""
    layout = teacher.layout
    if estimator in ("full", "forward") and layout not in ("model", "full"):
        raise ValueError(f"estimator '{estimator}' needs teacher_full_logprobs or an in-process teacher")
    if estimator == "topk" and layout in ("model", "full") and teacher.k is None:
        raise ValueError("estimator 'topk' from a full teacher distribution needs k")
    if estimator == "topk" and layout == "token":
        raise ValueError("estimator 'topk' needs teacher_topk_ids + teacher_topk_logprobs")

    def fn(hidden: torch.Tensor, ids: torch.Tensor, *rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        s_NV = log_softmax_at(student.logits(hidden), temperature)
        s_tok = s_NV.gather(-1, ids[:, None]).squeeze(-1)
        zeros = torch.zeros_like(s_tok.detach())
        t_NV = _teacher_full(teacher, rows, temperature, s_NV.device)
        if t_NV is not None:
            t_tok = t_NV.gather(-1, ids[:, None]).squeeze(-1)
            t_ent, kl_exact = entropy(t_NV), full_reverse_kl(s_NV.detach(), t_NV)
        else:
            t_tok, t_ent, kl_exact = _teacher_token(rows, ids, student.vocab_size), zeros, zeros
        if estimator == "full":
            kl_est = full_reverse_kl(s_NV, t_NV)
        elif estimator == "forward":
            kl_est = full_forward_kl(s_NV, t_NV)
        elif estimator == "topk":
            top_ids, top_lps = (rows[0], rows[1].float()) if t_NV is None else _top(t_NV, teacher.k)
            kl_est = topk_reverse_kl(s_NV, top_ids, top_lps)
        else:
            kl_est = zeros
        return s_tok, entropy(s_NV.detach()), t_tok.detach(), t_ent, kl_exact, kl_est

    return fn, _teacher_tensors(teacher, layout)


def _teacher_tensors(teacher: TeacherRows, layout: str) -> list[torch.Tensor]:
    if layout == "model":
        return [teacher.hidden_ND]  # type: ignore[list-item]
    if layout == "full":
        return [teacher.full_logprobs_NV]  # type: ignore[list-item]
    if layout == "topk":
        extra = [] if teacher.token_logprobs_N is None else [teacher.token_logprobs_N]
        return [teacher.topk_ids_NK, teacher.topk_logprobs_NK, *extra]  # type: ignore[list-item]
    return [teacher.token_logprobs_N]  # type: ignore[list-item]


def _teacher_full(teacher: TeacherRows, rows: tuple[torch.Tensor, ...], temperature: float,
                  device: torch.device) -> torch.Tensor | None:
    layout = teacher.layout
    if layout == "model":  # its hidden rows stay on the teacher's device
        with torch.no_grad():
            return log_softmax_at(teacher.model.logits(rows[0]), temperature).to(device)  # type: ignore[union-attr]
    if layout == "full":
        return rows[0].float()
    return None


def _top(t_NV: torch.Tensor, k: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    values, ids = t_NV.topk(int(k or 1), dim=-1)
    return ids, values


def _teacher_token(rows: tuple[torch.Tensor, ...], ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The teacher's log-prob of each sampled token when only token or top-k scores came."""
    if len(rows) == 1:
        return rows[0].float()
    if len(rows) == 3:
        return rows[2].float()
    top_ids, top_lps = rows[0], rows[1].float()
    hit = top_ids == ids[:, None]
    n_rest = max(1, vocab_size - top_ids.shape[-1])
    rest = rest_logprob(top_lps).squeeze(-1) - math.log(n_rest)
    return torch.where(hit.any(-1), top_lps.masked_fill(~hit, 0.0).sum(-1), rest)
