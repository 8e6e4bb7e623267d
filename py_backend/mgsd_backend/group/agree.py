"""Decisions every rank takes together, and errors that name the rank they came from.

Inside a training op each rank computes its local loss on its rows (`LocalStep`), then `agree`
exchanges one small status per rank before any further collective: whether the local part
raised (then EVERY rank raises, the failing one its own error, the others `RankFailed` naming
it, so no rank is left waiting in a collective), the local token count, whether the local loss
is finite, and the local token-mean metrics. From that exchange every rank derives the same
global numbers (`GlobalStep`):
- the global token count, and the scale n_local / n_global that turns each rank's token-mean
  loss into its share of the global token-mean (summing the ranks' gradients then gives the
  gradient of the global token-mean, whatever N is);
- the non-finite-loss skip, decided by all ranks together (one rank's NaN skips the step on all);
- every token-mean metric over the global batch (weighted by each rank's tokens).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import RequestError
from .context import Group

RANK_LOG_ENV = "MGSD_RANK_LOG"
"""The log file of this rank (set by the TypeScript launcher), quoted in errors about the rank."""


class RankFailed(RequestError):
    """Another rank of the group failed an op; carries that rank's error."""

    code = "rank_failed"

    def __init__(self, message: str, hint: str | None = None, remote_traceback: str | None = None) -> None:
        super().__init__(message, hint)
        self.remote_traceback = remote_traceback


@dataclass
class LocalStep:
    """One rank's share of a training step: its token-mean loss (None on an empty shard), its
    token count, token-mean metrics over its tokens (None = not measured), and op-specific extras."""

    loss: torch.Tensor | None
    tokens: int
    means: dict[str, float | None] = field(default_factory=dict)
    extra: Any = None


@dataclass
class GlobalStep:
    """What every rank knows after `agree`."""

    local: LocalStep
    tokens: int
    means: dict[str, float | None]
    nonfinite_ranks: list[int]
    gradless_ranks: list[int]

    @property
    def loss_scale(self) -> float:
        """n_local / n_global: this rank's share of the global token-mean."""
        return self.local.tokens / self.tokens if self.tokens else 0.0


def failure_summary(error: BaseException, group: Group) -> dict[str, Any]:
    """A rank's exception as plain data (it travels to rank 0 in a gather)."""
    return {"rank": group.rank, "rows": group.rows, "code": getattr(error, "code", "op_failed"), "type": type(error).__name__,
            "message": getattr(error, "message", None) or str(error), "hint": getattr(error, "hint", None),
            "traceback": "".join(traceback.format_exception(error)), "log": os.environ.get(RANK_LOG_ENV)}


def rank_failed(op: str, failure: Mapping[str, Any]) -> RankFailed:
    """The error rank 0 reports for another rank's failure (its rank, message and log)."""
    log = f" (log: {failure['log']})" if failure.get("log") else ""
    rows = failure.get("rows")
    # Sample numbers in the message count from the rank's first row: say which rows those are.
    where = f" on rows [{rows[0]}, {rows[1]}) of the request" if rows else ""
    return RankFailed(f"{op}: rank {failure['rank']} failed{where}{log}: {failure['type']}: {failure['message']}",
                      hint=failure.get("hint") or "Read that rank's log and the traceback.",
                      remote_traceback=failure.get("traceback"))


def agree(group: Group, op: str, compute: Callable[[], LocalStep]) -> GlobalStep:
    """Runs this rank's local part, then the status exchange (see the module header)."""
    local: LocalStep | None = None
    own_error: BaseException | None = None
    try:
        local = compute()
        info: dict[str, Any] = {"ok": True, "tokens": local.tokens, "means": local.means,
                                "finite": local.loss is None or bool(torch.isfinite(local.loss.detach())),
                                "grad": local.loss is None or local.loss.requires_grad}
    except Exception as error:  # noqa: BLE001 - re-raised below, after the others know
        own_error = error
        info = {"ok": False, "failure": failure_summary(error, group)}
    infos = group.all_gather_object(info, f"{op}: status exchange")
    failed = [i["failure"] for i in infos if not i["ok"]]
    if own_error is not None:
        raise own_error
    if failed:
        raise rank_failed(op, failed[0])
    assert local is not None
    tokens = sum(int(i["tokens"]) for i in infos)
    return GlobalStep(local=local, tokens=tokens, means=_global_means(infos, tokens),
                      nonfinite_ranks=[r for r, i in enumerate(infos) if not i["finite"]],
                      gradless_ranks=[r for r, i in enumerate(infos) if i["tokens"] and not i["grad"]])


def _global_means(infos: list[dict[str, Any]], tokens: int) -> dict[str, float | None]:
    """Token-weighted means over the ranks that measured each metric (in rank order, so every
    rank computes the same float)."""
    names = [name for info in infos for name in info["means"]]
    out: dict[str, float | None] = {}
    for name in dict.fromkeys(names):
        pairs = [(float(i["means"][name]), int(i["tokens"])) for i in infos
                 if i["tokens"] and i["means"].get(name) is not None]
        weight = sum(n for _, n in pairs)
        out[name] = sum(v * n for v, n in pairs) / weight if weight else None
    return out


def check_same(group: Group, value: Any, what: str) -> None:
    """Raises on every rank unless all ranks hold the same `value` (e.g. a weight fingerprint)."""
    values = group.all_gather_object(value, f"comparison of {what}")
    differing = [r for r, v in enumerate(values) if v != values[0]]
    if differing:
        raise RuntimeError(f"{what} differs between rank 0 ({values[0]!r}) and rank(s) {differing} "
                           f"({[values[r] for r in differing]!r}); replicated weights must start identical")
