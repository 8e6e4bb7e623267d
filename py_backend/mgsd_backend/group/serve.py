"""The fan-out and gather around one op, on every rank, and the loop of the ranks > 0.

Rank 0 (`Dispatcher.lead`, called by the server after it validated the request) broadcasts the
whole request (op, args, tensors) over the control group; every rank then takes its rows
(`rows.shard`; `sampling.row_offset` becomes the global index of its first row, so sampling
seeds follow the row, not the rank), runs the op, and sends rank 0 either its part of the reply
or its failure. Rank 0 merges the parts (`rows.merge`) or raises: its own error if it failed,
else `RankFailed` naming the first rank that did. A failed op leaves the group usable: every
rank finished the op and waits for the next request.

Ranks > 0 run `Dispatcher.follow` until the `stop` op. A `PeerLost` (a collective failed: a
peer died or hung) ends the process with `PEER_LOST_EXIT_CODE` (the contract's) on any rank, rank 0 included,
without a reply: the orchestrator watches every rank's process and reports the rank that died.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import RequestError
from ..micro_batch import row_slices
from ..protocol import Op
from .agree import failure_summary, rank_failed
from .context import Group, PeerLost
from .rows import ROW_OPS, TRAINING_OPS, Part, Tensors, batch_size, merge, row_range, shard

log = logging.getLogger("mgsd_backend.group")

RunLocal = Callable[[Op, dict[str, Any], Tensors], Part]
PadValues = Callable[[Op, Mapping[str, Any]], Mapping[str, float | int]]
ShardsRole = Callable[[Mapping[str, Any]], bool]

STOP = "stop"
HANG_TEST_ENV = "MGSD_TEST_HANG_RANK"
"""Test hook: the rank named here sleeps for an hour inside its next row op (the hang tests)."""


class Dispatcher:
    """Runs ops on every rank of `group` through `run_local` (the server's handler table)."""

    def __init__(self, group: Group, run_local: RunLocal, pad_values: PadValues,
                 shards_role: ShardsRole = lambda args: False) -> None:
        self.group = group
        self._run_local = run_local
        self._pad_values = pad_values
        # Whether the request's role holds parameter shards (FSDP2): its forwards are collectives.
        self._shards_role = shards_role

    def lead(self, op: Op, args: dict[str, Any], tensors: Tensors) -> Part:
        """Rank 0: fans a validated request out, runs its own share, returns the merged reply."""
        self.group.broadcast_request((op.value, args, tensors))
        return self._run(op, args, tensors)

    def stop_followers(self) -> None:
        """Rank 0: tells the other ranks to exit (part of the `stop` op)."""
        self.group.broadcast_request((STOP, {}, {}))

    def follow(self) -> int:
        """Ranks > 0: serve rank 0's requests until `stop`. Returns the exit status."""
        log.info("rank %d/%d following rank 0", self.group.rank, self.group.world_size)
        while True:
            name, args, tensors = self.group.broadcast_request(None)
            if name == STOP:
                log.info("rank %d: stop from rank 0", self.group.rank)
                return 0
            try:
                self._run(Op(name), args, tensors)
            except PeerLost:
                raise
            except Exception as error:  # noqa: BLE001 - rank 0 already has it (gather); keep serving
                log.warning("rank %d: op %s failed (reported to rank 0): %s", self.group.rank, name, error)

    def _run(self, op: Op, args: dict[str, Any], tensors: Tensors) -> Part:
        part: Part | None = None
        status: dict[str, Any]
        try:
            part = self._run_share(op, args, tensors)
            status = {"ok": True}
        except PeerLost:
            raise
        except Exception as error:  # noqa: BLE001 - goes to rank 0 in the gather, re-raised below
            own = error
            status = {"ok": False, "failure": failure_summary(error, self.group)}
        parts = self.group.gather_object((status, part), f"{op.value}: gather of the ranks' replies")
        if status["ok"] is False:
            raise own
        if parts is None:  # ranks > 0
            assert part is not None
            return part
        failed = [s["failure"] for s, _ in parts if not s["ok"]]
        if failed:
            raise rank_failed(op.value, failed[0])
        replies = [p for _, p in parts if p is not None]
        if op == Op.LOAD:
            _check_fingerprints(replies, args)
        return merge(replies, self._pad_values(op, args) if op == Op.GENERATE else {})

    def _run_share(self, op: Op, args: dict[str, Any], tensors: Tensors) -> Part:
        self.group.rows = None
        if op not in ROW_OPS:
            return self._run_local(op, args, tensors)
        start, stop = row_range(batch_size(args), self.group.rank, self.group.world_size)
        self.group.rows = (start, stop)
        local_args, local_tensors = shard(args, tensors, start, stop)
        if op == Op.GENERATE:
            sampling = local_args["sampling"]
            sampling["row_offset"] = int(sampling.get("row_offset", 0)) + start
        if os.environ.get(HANG_TEST_ENV) == str(self.group.rank):
            log.warning("rank %d: %s set, hanging inside %s", self.group.rank, HANG_TEST_ENV, op.value)
            time.sleep(3600)
        sharded = self._shards_role(args)
        if sharded and op in TRAINING_OPS:
            check_sharded_step(op, args, self.group.world_size)
        if start == stop and op not in TRAINING_OPS:
            if sharded:
                # Every forward of a sharded model all-gathers its weights, so a rank without rows
                # still runs one: a stand-in (the batch's first row), whose output it drops.
                self._run_local(op, *shard(args, tensors, 0, 1))
            return ({"texts": []} if op == Op.GENERATE else {}), {}
        return self._run_local(op, local_args, local_tensors)


def check_sharded_step(op: Op, args: Mapping[str, Any], world: int) -> None:
    """A training step of a sharded model needs rows on every rank and the same number of
    micro-batches on each (each runs a forward and backward whose collectives pair across ranks);
    decided from the request alone, so every rank raises the same error instead of hanging."""
    batch, micro = batch_size(args), args.get("micro_batch_size")
    sizes = [stop - start for start, stop in (row_range(batch, rank, world) for rank in range(world))]
    counts = [len(row_slices(size, micro)) for size in sizes]
    if min(sizes) == 0 or len(set(counts)) > 1:
        per_rank = ", ".join(f"{size} row(s) in {count} micro-batch(es)" for size, count in zip(sizes, counts))
        raise RequestError(
            f"{op.value}: {batch} row(s) over {world} ranks of a sharded (FSDP2) model give {per_rank}; every rank "
            "must run the same number of forward/backward passes",
            hint=f"Use a batch size that is a multiple of {world} ranks × micro_batch_size ({micro or 'unset'}), "
                 "or fewer ranks (backend.ranks).")


def _check_fingerprints(replies: list[Part], args: Mapping[str, Any]) -> None:
    """Replicated weights must be identical on every rank after a load (same seed, same files);
    a difference would make the ranks' gradients disagree silently."""
    prints = [reply[0].pop("weights_fingerprint", None) for reply in replies]
    differing = [rank for rank, value in enumerate(prints) if value != prints[0]]
    if differing:
        raise RuntimeError(f"load of role {args['role']!r}: the weights on rank(s) {differing} differ from rank 0's "
                           f"(fingerprints {prints}); every rank must build the same model from the same seed "
                           "and checkpoint")
