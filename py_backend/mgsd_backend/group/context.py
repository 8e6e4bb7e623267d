"""The rank group of this process, built from the launch environment, and its collectives.

Environment (set by `src/backend/rank-group.ts`, or by torchrun for a multi-node launch):
`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`, and optionally
`MGSD_COLLECTIVE_TIMEOUT_S` (default 300). Without `WORLD_SIZE`, or with 1, the group is `solo()`:
no process group exists and every collective returns its own input (the N = 1 path).

Two groups over the same ranks:
- the *work* group (the default group; gloo, plus NCCL for CUDA tensors on a GPU machine:
  `work_backend`) carries every collective inside an op. The collectives `Group` runs are watched
  in time awake (`watch.py`), so a peer that hangs in an op fails the others after the collective
  timeout, and a run suspended with Ctrl-Z does not; the group's own timeout is a week's backstop;
- the *control* group (gloo, timeout of a week) only carries rank 0's broadcast of the next request:
  ranks > 0 wait there while the orchestrator does other work, which may take any time.
A peer that dies closes its gloo connections, so the others fail at once in either group.

`MGSD_COLLECTIVE_TIMEOUT_S` bounds the group's forming too (the rank claim, the rendezvous), in
wall time: nothing is suspended then.

Before joining, a rank > 0 claims its rank number at the rendezvous (`claim.py`): a second process
started as the same rank is refused with `RankTaken` instead of disturbing the group. Ranks started
by torchrun skip the claim (see `init_from_env`).

Any failure inside a collective raises `PeerLost`: the group is broken for good (gloo cannot
recover a group), so the caller ends the process (`serve.py`) and the orchestrator, which sees
every rank's exit, reports the first rank that died.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from .claim import claim_rank_at
from .errors import GroupError, PeerLost
from .watch import CollectiveWatch

__all__ = ["Group", "GroupError", "PeerLost", "init_from_env", "solo", "work_backend"]

log = logging.getLogger("mgsd_backend.group")

T = TypeVar("T")

DEFAULT_COLLECTIVE_TIMEOUT_S = 300.0
BACKSTOP_TIMEOUT = datetime.timedelta(days=7)


@dataclass
class Group:
    """This process's place in its rank group. `world_size == 1` is the solo group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    pids: list[int] = field(default_factory=lambda: [os.getpid()])
    rows: tuple[int, int] | None = None
    """Rows [a, b) of the request this rank is serving (row ops), for error messages."""
    _control: Any = None
    _watch: CollectiveWatch | None = None

    @property
    def is_leader(self) -> bool:
        """Rank 0: the ZeroMQ peer, which fans requests out and replies."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    # ---- collectives (each returns its input unchanged when solo) --------------------------
    def broadcast_request(self, request: Any) -> Any:
        """Rank 0's `request` on every rank (control group: waits as long as needed)."""
        if not self.distributed:
            return request
        box = [request if self.is_leader else None]
        self._guard("broadcast of the next request", lambda: dist.broadcast_object_list(box, src=0, group=self._control),
                    watched=False)
        return box[0]

    def all_gather_object(self, value: T, what: str) -> list[T]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        out: list[Any] = [None] * self.world_size
        self._guard(what, lambda: dist.all_gather_object(out, value))
        return out

    def gather_object(self, value: T, what: str) -> list[T] | None:
        """Every rank's `value` in rank order on rank 0; None on the other ranks."""
        if not self.distributed:
            return [value]
        out: list[Any] | None = [None] * self.world_size if self.is_leader else None
        self._guard(what, lambda: dist.gather_object(value, out, dst=0))
        return out

    def all_reduce_sum_(self, tensor: torch.Tensor, what: str) -> torch.Tensor:
        """Sums `tensor` over the ranks, in place (CPU tensors: gloo)."""
        if self.distributed:
            self._guard(what, lambda: dist.all_reduce(tensor, op=dist.ReduceOp.SUM))
        return tensor

    def broadcast_(self, tensor: torch.Tensor, what: str) -> torch.Tensor:
        """Rank 0's values of `tensor` on every rank, in place."""
        if self.distributed:
            self._guard(what, lambda: dist.broadcast(tensor, src=0))
        return tensor

    def _guard(self, what: str, collective: Callable[[], Any], watched: bool = True) -> None:
        label = f"rank {self.rank}/{self.world_size}: {what}"
        try:
            if watched and self._watch is not None:
                with self._watch.watching(label):
                    collective()
            else:
                collective()
        except Exception as error:  # noqa: BLE001 - gloo raises RuntimeError subclasses of many kinds
            raise PeerLost(f"{label} failed ({type(error).__name__}: "
                           f"{str(error).strip()[:300]}); another rank died or the network between ranks broke") from error


def solo() -> Group:
    """The group of a single-process worker (no process group)."""
    return Group()


def init_from_env(environ: dict[str, str] | None = None) -> Group:
    """The group described by the environment; creates the gloo groups when WORLD_SIZE > 1. A rank > 0
    first claims its rank at the rendezvous (`claim.py`) and raises `RankTaken` if another process
    holds it."""
    env = os.environ if environ is None else environ
    world = _int_env(env, "WORLD_SIZE", 1)
    if world == 1:
        return solo()
    rank, local = _int_env(env, "RANK", None), _int_env(env, "LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise GroupError(f"RANK={rank} is outside [0, WORLD_SIZE={world}); the launcher set inconsistent variables")
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not env.get(k)]
    if missing:
        raise GroupError(f"WORLD_SIZE={world} but {', '.join(missing)} is not set; a rank group needs the rendezvous "
                         "address of rank 0 (set by the TypeScript launcher or by torchrun)")
    timeout_s = float(env.get("MGSD_COLLECTIVE_TIMEOUT_S", DEFAULT_COLLECTIVE_TIMEOUT_S))
    timeout = datetime.timedelta(seconds=timeout_s)
    # NOTE: torchrun's agent numbers its ranks itself (no duplicate is possible), and its store
    # outlives a restart of the workers, where a claim from the previous attempt would refuse them.
    if rank > 0 and "TORCHELASTIC_RUN_ID" not in env:
        address, port = env["MASTER_ADDR"], _int_env(env, "MASTER_PORT", None)
        claim_rank_at(address, port, rank, world, timeout)
        log.info("rank %d/%d: claimed its rank at the rendezvous %s:%d", rank, world, address, port)
    dist.init_process_group(work_backend(), init_method="env://", rank=rank, world_size=world, timeout=timeout)
    dist.set_timeout(BACKSTOP_TIMEOUT)  # the collective timeout proper is the watch's, in time awake
    control = dist.new_group(backend="gloo", timeout=BACKSTOP_TIMEOUT)
    group = Group(rank=rank, world_size=world, local_rank=local, _control=control, _watch=CollectiveWatch(timeout_s))
    group.pids = group.all_gather_object(os.getpid(), "exchange of process ids at start-up")
    return group


def work_backend() -> str:
    """The work group's backend: gloo for CPU tensors, and NCCL for CUDA tensors (FSDP2's
    all-gathers and reduce-scatters) where CUDA exists; NCCL starts on the first CUDA collective, on
    the device `models.registry.rank_device` made current. NOTE: the CUDA branch follows PyTorch's
    documented pattern but has not run here (no GPU)."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def _int_env(env: Any, name: str, default: int | None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        if default is None:
            raise GroupError(f"{name} is not set; every rank of a group needs RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT")
        return default
    try:
        return int(raw)
    except ValueError:
        raise GroupError(f"{name}={raw!r} is not an integer") from None
