"""The multi-node launch path on one machine: `torchrun --nproc-per-node 2 -m mgsd_backend` (ranks
started by torchrun, which sets the standard RANK/WORLD_SIZE/MASTER_* variables, not by the
TypeScript launcher) gives a group whose rank 0 alone says the hello to a ROUTER, lists both ranks,
serves a model op fanned out to rank 1, and takes the whole group down on `stop`.
docs/scale-out.md says what a real multi-node launch still needs.

Slow (torchrun's own start-up, two torch imports): runs only with MGSD_SLOW_TESTS=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from mgsd_backend.protocol import PROTOCOL_VERSION
from tiny_fixtures import load_args

TORCHRUN = Path(sys.executable).with_name("torchrun")


def _request(sock: zmq.Socket, identity: bytes, op: str, args: dict, request_id: int) -> dict:
    sock.send_multipart([identity, json.dumps({"v": PROTOCOL_VERSION, "id": request_id, "op": op, "args": args}).encode()])
    assert sock.poll(120_000), f"no reply to {op} within 120 s"
    _, header, *_ = sock.recv_multipart()
    return json.loads(header)


@pytest.mark.skipif(os.environ.get("MGSD_SLOW_TESTS") != "1", reason="slow: set MGSD_SLOW_TESTS=1")
def test_torchrun_ranks_serve_through_rank_0(tmp_path):
    context = zmq.Context.instance()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path}/worker.sock"
    sock.bind(endpoint)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "MGSD_COLLECTIVE_TIMEOUT_S": "60",
           "MGSD_WORKER_TOKEN": "t0ken"}  # the launch token travels in the environment, never in argv
    proc = subprocess.Popen([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "mgsd_backend",
                             "--endpoint", endpoint], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert sock.poll(120_000), "no hello from rank 0 within 120 s"
        identity, header = sock.recv_multipart()[:2]
        hello = json.loads(header)
        assert hello["token"] == "t0ken" and [r["rank"] for r in hello["ranks"]] == [0, 1]
        reply = _request(sock, identity, "load", load_args("student", seed=0), 1)
        assert reply["ok"], reply
        assert _request(sock, identity, "stop", {}, 2)["ok"]
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close(0)
