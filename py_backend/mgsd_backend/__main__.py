"""Entry point of a worker process: `python -m mgsd_backend --endpoint … --token … [options]`.

Started by `src/backend/launch.ts`, which binds the ROUTER and waits for this process's hello.
Thread settings are applied BEFORE torch is imported (OpenMP and MKL read their environment once):
torch and MKL share one OpenMP pool of `--threads` threads, and numpy's own OpenBLAS pool is kept
at one thread, so two pools never each run `--threads` threads on the same cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from .contract import MAX_MESSAGE_MIB  # torch-free: threads are set before torch loads


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mgsd_backend", description="mgsd model worker (docs/protocol.md)")
    # connection
    parser.add_argument("--endpoint", required=True, help="ZeroMQ endpoint of the client's ROUTER (ipc:// or tcp://127.0.0.1:…)")
    parser.add_argument("--token", required=True, help="the launch token to present in the hello")
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
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what happens (it
    # checkpoints, then stops this worker), so the worker itself must not die of SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    apply_thread_env(args.threads)
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("MGSD_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s mgsd-worker[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    from .server import Server, ServerOptions

    options = ServerOptions(
        endpoint=args.endpoint,
        token=args.token,
        threads=args.threads,
        max_message_bytes=int(args.max_message_mib * (1 << 20)),
        parent_pid=args.parent_pid,
    )
    code = Server(options).run()
    # NOTE: skip interpreter teardown (~0.7 s of torch destructors): the reply is flushed (the
    # socket lingered on close), models persist only through `save`, and the OS frees the rest.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
