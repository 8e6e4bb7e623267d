"""A follower rank's claim on its rank number at the rendezvous, made before it joins the group.

Two processes that both start as RANK r of one group (`mgsd join --node-rank k` run twice, or two
runs given the same `backend.rendezvous.port`) would both enter `init_process_group` with that
rank, and the rendezvous misbehaves: the duplicate hangs inside init (seen in the test without the
claim), and the group may hang until the collective timeout or fail with an obscure gloo error.
So each rank > 0 first claims `mgsd/rank-claim/<r>` in
rank 0's TCPStore with one atomic `compare_set`; the second claimant reads the first one's identity
back and raises `RankTaken` before it touches the group, which therefore carries on unharmed.

Why before `init_process_group`, through a client store of its own: a claim after init would come
too late, since the duplicate has already disturbed (or hung in) the rendezvous by then. A TCPStore
client made before rank 0's server exists retries its connection until `timeout`, exactly like the
client `init_process_group` makes (checked in `tests/test_group_rank_claim.py`), so the claim waits
for rank 0 no longer than init itself would; once connected, the claim is one round trip and never
waits on another rank. The client passes no `world_size`, so it is not counted among the workers
that rank 0's store waits for.

NOTE: a claim lasts as long as rank 0's store (rank 0's process) and is never released. A claimant
killed before the group formed leaves its claim behind, and a new `mgsd join` for that node is then
refused until node 0's run is restarted. The window is short: the claim is made just before
`init_process_group`, and a rank killed inside init may already have disturbed that rendezvous.
Likewise, two joins of one node started at the same moment, with several ranks each, may split the
claims between them: both are then refused, and node 0's run must be restarted.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid

import torch.distributed as dist

from .errors import RankTaken


CLAIM_KEY = "mgsd/rank-claim/{rank}"


def claimant_id() -> str:
    """This process as the refusal message names it; the random tag keeps two claimants distinct
    even where hostname and pid coincide (containers)."""
    return f"pid {os.getpid()} on host {socket.gethostname()}, claim {uuid.uuid4().hex[:8]}"


def claim_rank(store: dist.Store, rank: int, world: int, where: str, claimant: str | None = None) -> None:
    """Claims `rank` in `store` for `claimant` (this process by default); raises `RankTaken`, naming
    the holder, when another process claimed it first. `where` is the rendezvous, for the message."""
    me = claimant if claimant is not None else claimant_id()
    # compare_set is atomic on the server: it sets the key only while it is absent, and returns the
    # value that is stored after the call, ours or the first claimant's.
    holder = store.compare_set(CLAIM_KEY.format(rank=rank), "", me).decode()
    if holder != me:
        raise RankTaken(
            f"rank {rank} of {world} is already held by another process in this group ({holder}; rendezvous "
            f"{where}): is `mgsd join` for this node running twice, or do two runs share backend.rendezvous.port? "
            "Stop the extra one; the group that holds the rank is not affected")


def claim_rank_at(address: str, port: int, rank: int, world: int, timeout: datetime.timedelta) -> None:
    """Connects to rank 0's rendezvous store at `address:port` (waiting up to `timeout` for it to
    start, as `init_process_group` would) and claims `rank` there (`claim_rank`)."""
    store = dist.TCPStore(address, port, world_size=None, is_master=False, timeout=timeout)
    claim_rank(store, rank, world, f"{address}:{port}")
