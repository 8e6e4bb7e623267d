"""Entry point of a worker process: `python -m mgsd_backend --endpoint … [options]`.

Started by `src/backend/launch.ts`, which binds the ROUTER and waits for this process's hello.
The launch token comes in the environment (`MGSD_WORKER_TOKEN`), never on the command line (any
local user can read /proc/<pid>/cmdline); it is removed from `os.environ` once read, so processes
this worker starts never inherit it. The heartbeat (`heartbeat.py`) starts before torch is imported.
Thread settings are applied BEFORE torch is imported (OpenMP and MKL read their environment once):
torch and MKL share one OpenMP pool of `--threads` threads, and numpy's own OpenBLAS pool is kept
at one thread, so two pools never each run `--threads` threads on the same cores.

In a rank group (`WORLD_SIZE` > 1 in the environment, docs/scale-out.md) every rank starts here:
the gloo group is created first (all ranks meet), then rank 0 serves the socket and the others
follow it. A rank whose peer died or hung exits with status 70 (`PEER_LOST_EXIT_CODE`); a rank
refused because another process already holds its rank exits with status 71
(`RANK_TAKEN_EXIT_CODE`) before it joins. Both are declared in src/backend/protocol-names.ts and
reach the worker through the generated contract.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

# torch-free: threads are set before torch loads
from .contract import MAX_MESSAGE_MIB, PEER_LOST_EXIT_CODE, RANK_TAKEN_EXIT_CODE


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mgsd_backend", description="mgsd model worker (docs/protocol.md)")
    # connection
    parser.add_argument("--endpoint", required=True, help="ZeroMQ endpoint of the client's ROUTER (ipc:// or tcp://127.0.0.1:…)")
    # resources
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads of this worker (default 1)")
    parser.add_argument("--max-message-mib", type=float, default=MAX_MESSAGE_MIB,
                        help=f"refuse requests larger than this (default {MAX_MESSAGE_MIB:g})")
    # lifecycle
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if not args.endpoint.startswith(("ipc://", "tcp://127.0.0.1:", "tcp://localhost:")):
        parser.error(f"--endpoint must be ipc:// or a loopback tcp:// address, got {args.endpoint!r}")
    return args


TOKEN_ENV = "MGSD_WORKER_TOKEN"


def take_token(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """The launch token from the environment, removed from it; exits with a message when absent."""
    token = environ.pop(TOKEN_ENV, None)
    if not token:
        raise SystemExit(
            f"mgsd worker: no launch token: set {TOKEN_ENV} in the environment "
            "(mgsd's client does; it is never passed on the command line)"
        )
    return token


def ignore_stop_signals() -> None:
    """Leaves stopping to the client: Ctrl-C, `timeout`, systemd, docker and SLURM signal the whole
    process group (or cgroup); the client checkpoints first, then stops this worker (stop op, then
    SIGKILL). A worker whose client is gone exits by itself (parent watchdog, heartbeat pipe)."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)


def apply_thread_env(threads: int) -> None:
    """Sets the thread environment of OpenMP/MKL/OpenBLAS; must run before torch is imported."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    # NOTE: spinning OpenMP threads collapse throughput when workers share few cores (measured
    # 1.6–3x slower at 2 threads on 2 cores); passive waiting yields the core instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    token = take_token()
    ignore_stop_signals()
    apply_thread_env(args.threads)
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("MGSD_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s mgsd-worker[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    from .heartbeat import start_heartbeat_from_env

    start_heartbeat_from_env()
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    from .group import GroupError, PeerLost, RankTaken, init_from_env
    from .server import Server, ServerOptions

    try:
        group = init_from_env()
    except RankTaken as error:
        logging.getLogger("mgsd_backend").error("refused to join the rank group: %s", error)
        return _exit(RANK_TAKEN_EXIT_CODE)
    except (GroupError, RuntimeError, ValueError) as error:
        logging.getLogger("mgsd_backend").error("cannot join the rank group: %s", error)
        return _exit(2)

    options = ServerOptions(
        endpoint=args.endpoint,
        token=token,
        threads=args.threads,
        max_message_bytes=int(args.max_message_mib * (1 << 20)),
        parent_pid=args.parent_pid,
    )
    server = Server(options, group=group)
    try:
        code = server.run() if group.is_leader else server.follow()
    except PeerLost as error:
        logging.getLogger("mgsd_backend").error("%s; exiting (status %d)", error, PEER_LOST_EXIT_CODE)
        code = PEER_LOST_EXIT_CODE
    return _exit(code)


def _exit(code: int) -> int:
    # NOTE: skip interpreter teardown (~0.7 s of torch destructors): the reply is flushed (the
    # socket lingered on close), models persist only through `save`, and the OS frees the rest.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
