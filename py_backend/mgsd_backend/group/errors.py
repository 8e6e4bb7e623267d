"""The rank group's exceptions (`context` raises the first two, `claim` the third)."""

from __future__ import annotations


class GroupError(RuntimeError):
    """The rank group is misconfigured (environment) or broken."""


class PeerLost(GroupError):
    """A collective failed: another rank died or the network broke (a hung rank: `watch.py`)."""


class RankTaken(GroupError):
    """Another process already claimed this rank at the rendezvous (`mgsd join` started twice)."""
