"""A worker as a group of N rank processes (DESIGN.md §4 "Scale-out"; docs/scale-out.md).

Rank 0 is the only ZeroMQ peer: it receives a request, validates it, and fans it out to the other
ranks over a gloo CPU process group; every rank runs every op in the same order on its own rows of
the batch; rank 0 gathers the row results back in order and replies. N = 1 is the same code path
with collectives that return at once (no process group is created).

Modules: `context` (the group from the environment, its collectives), `claim` (a rank > 0 claims
its rank at the rendezvous before it joins, so a second process started as that rank is refused),
`errors` (the group's exceptions), `rows` (row shards of a request and the merge of the replies),
`agree` (the per-op status exchange and global token-mean metrics), `serve` (the fan-out/gather
around one op, and the follower loop of ranks > 0).
"""

from .context import Group, init_from_env, solo
from .errors import GroupError, PeerLost, RankTaken

__all__ = ["Group", "GroupError", "PeerLost", "RankTaken", "init_from_env", "solo"]
