"""The worker server as a real subprocess behind a pyzmq ROUTER, like the TypeScript client uses it:
hello, dispatch, error replies that keep the server alive, and every way it exits (stop, client
disconnect, parent death). Plus in-process checks of `Server.handle` dispatch to a worker."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import zmq

from mgsd_backend import wire
from mgsd_backend.errors import UnknownRole
from mgsd_backend.protocol import CONTRACT, PROTOCOL_VERSION
from mgsd_backend.schema_errors import first_error, validator
from mgsd_backend.server import Server, ServerOptions

PY_BACKEND = Path(__file__).resolve().parents[1]
# Generous: a worker imports torch before its hello, which takes tens of seconds on a loaded machine.
TIMEOUT_MS = 90_000


class WorkerProcess:
    """A `python -m mgsd_backend` child plus the ROUTER it connected to."""

    def __init__(self, tmp: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.token = secrets.token_hex(32)
        self.router = zmq.Context.instance().socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.endpoint = f"ipc://{tmp}/w.sock"
        self.router.bind(self.endpoint)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mgsd_backend", "--endpoint", self.endpoint, *extra],
            env={**os.environ, "PYTHONPATH": str(PY_BACKEND), "MGSD_WORKER_TOKEN": self.token, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.identity, hello = self.receive()
        self.hello = json.loads(hello[0])
        self.next_id = 0

    def receive(self) -> tuple[bytes, list[bytes]]:
        if not self.router.poll(TIMEOUT_MS):
            raise AssertionError(f"no message from the worker within {TIMEOUT_MS} ms: {self.stderr()}")
        identity, *frames = self.router.recv_multipart()
        return identity, frames

    def send_raw(self, frames: list[bytes]) -> dict:
        self.router.send_multipart([self.identity, *frames])
        _, reply = self.receive()
        header = json.loads(reply[0])
        header["tensors"] = wire.decode(reply[1:])
        return header

    def request(self, op: str, args: dict | None = None, tensors: dict | None = None) -> dict:
        self.next_id += 1
        header = {"v": PROTOCOL_VERSION, "id": self.next_id, "op": op, "args": args or {}}
        reply = self.send_raw([json.dumps(header).encode(), *[bytes(f) for f in wire.encode(tensors or {})]])
        assert reply["id"] == self.next_id
        return reply

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.router.close(0)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    process = WorkerProcess(tmp_path_factory.mktemp("server"), "--max-message-mib", "1")
    yield process
    process.close()


def test_hello_announces_version_token_and_environment(worker: WorkerProcess) -> None:
    hello = worker.hello
    assert hello["op"] == "hello" and hello["v"] == PROTOCOL_VERSION and hello["token"] == worker.token
    assert hello["pid"] == worker.proc.pid
    assert hello["torch"] == torch.__version__ and hello["python"].count(".") == 2
    assert hello["devices"][0]["id"] == "cpu"
    assert hello["threads"] == 1
    assert first_error(validator(CONTRACT["envelope"]["hello"]), hello, "hello") is None  # what the client parses


def test_ping_and_echo_round_trip(worker: WorkerProcess) -> None:
    pong = worker.request("ping")
    assert pong["ok"] and pong["result"]["pid"] == worker.proc.pid and pong["result"]["uptime_s"] > 0
    tensors = {"x": torch.randn(3, 2, 2), "mask": torch.tensor([True, False, True]), "ids": torch.arange(3)}
    echoed = worker.request("echo", {"note": "héllo", "n": [1, 2]}, tensors)
    assert echoed["ok"] and echoed["result"] == {"note": "héllo", "n": [1, 2]}
    for name, tensor in tensors.items():
        assert torch.equal(echoed["tensors"][name], tensor), name


@pytest.mark.parametrize(
    ("op", "args", "tensors", "needle"),
    [
        ("fly", {}, {}, "unknown op 'fly'"),
        ("ping", {"x": 1}, {}, "op ping: args: unknown key(s) x"),
        ("save", {"role": "student", "dir": "/tmp/x"}, {}, "op save: args.include_optimizer: missing"),
        (
            "score",
            {"role": "s", "views": [[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]], "temperature": 1.0, "mode": "token"},
            {"response_ids": torch.zeros(1, 3, dtype=torch.int32), "response_mask": torch.ones(1, 3, dtype=torch.bool)},
            "tensor response_ids: expected dtype int64, got int32",
        ),
    ],
)
def test_bad_requests_get_error_replies_and_the_server_keeps_serving(worker, op, args, tensors, needle) -> None:
    reply = worker.request(op, args, tensors)
    assert reply["ok"] is False
    error = reply["error"]
    assert error["code"] == "bad_request" and needle in error["message"], error
    assert "Traceback" in error["traceback"] and error["op"] == op
    assert worker.request("ping")["ok"]


def test_malformed_frames_get_error_replies(worker: WorkerProcess) -> None:
    reply = worker.send_raw([b"not json"])
    assert reply["ok"] is False and reply["id"] is None and "frame 0 is not a JSON header" in reply["error"]["message"]
    header = {"v": PROTOCOL_VERSION + 1, "id": 99, "op": "ping", "args": {}}
    reply = worker.send_raw([json.dumps(header).encode()])
    assert reply["id"] == 99 and "protocol version" in reply["error"]["message"]
    header = {"v": PROTOCOL_VERSION, "id": 100, "op": "echo", "args": {}}
    reply = worker.send_raw([json.dumps(header).encode(), b"\x00" * 64])
    assert reply["id"] == 100 and "not a valid Arrow IPC stream" in reply["error"]["message"]
    assert worker.request("ping")["ok"]


def test_oversized_messages_are_refused(worker: WorkerProcess) -> None:
    reply = worker.request("echo", {}, {"x": torch.zeros(1, 300_000)})
    assert reply["ok"] is False and "exceeds the worker's limit" in reply["error"]["message"]
    assert "--max-message-mib" in reply["error"]["hint"]


def test_stop_replies_then_exits(tmp_path: Path) -> None:
    process = WorkerProcess(tmp_path)
    try:
        assert process.request("stop")["ok"]
        assert process.proc.wait(20) == 0
    finally:
        process.close()


def test_exits_when_the_client_socket_closes(tmp_path: Path) -> None:
    process = WorkerProcess(tmp_path)
    try:
        process.router.close(0)
        assert process.proc.wait(20) == 0
        assert "client disconnected" in process.stderr()
    finally:
        process.close()


def test_exits_when_its_parent_dies(tmp_path: Path) -> None:
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path}/p.sock"
    router.bind(endpoint)
    # A parent that starts the worker (watching the parent's pid), reports its pid, then idles.
    parent_code = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'mgsd_backend', '--endpoint', {endpoint!r}, "
        "'--parent-pid', str(os.getpid())], env={**os.environ, 'MGSD_WORKER_TOKEN': 't'})\n"
        "print(p.pid, flush=True)\ntime.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], env={**os.environ, "PYTHONPATH": str(PY_BACKEND)}, stdout=subprocess.PIPE
    )
    try:
        child_pid = int(parent.stdout.readline())
        assert router.poll(TIMEOUT_MS), "the worker never said hello"
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 20
        while _is_running(child_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _is_running(child_pid), "the worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        router.close(0)


def _is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] not in "ZX"
    except FileNotFoundError:
        return False


# ---- in process: dispatch to the worker --------------------------------------------------------
class RecordingWorker:
    """A stand-in for `worker.Worker` that records what reached it (server unit tests only)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, dict]] = []

    def save(self, args: dict, tensors: dict) -> tuple[dict, dict]:
        self.calls.append(("save", args, tensors))
        if args["role"] == "ghost":
            raise UnknownRole("role 'ghost' is not loaded", "Load it first.")
        if args["role"] == "bug":
            raise ZeroDivisionError("division by zero")
        return {"files": ["a"], "op_seconds": torch.tensor(0.5)}, {}


def _handle(server: Server, op: str, args: dict, request_id: int = 1) -> dict:
    header = {"v": PROTOCOL_VERSION, "id": request_id, "op": op, "args": args}
    reply = server.handle([json.dumps(header).encode()])
    return json.loads(bytes(reply[0]))


def test_model_ops_reach_the_worker_and_its_errors_come_back_typed() -> None:
    recording = RecordingWorker()
    server = Server(ServerOptions(endpoint="ipc:///unused", token="t"), worker_factory=lambda: recording)
    ok = _handle(server, "save", {"role": "student", "dir": "/tmp/ckpt", "include_optimizer": False})
    assert ok["ok"] and ok["result"] == {"files": ["a"], "op_seconds": 0.5}
    assert recording.calls[0][:2] == ("save", {"role": "student", "dir": "/tmp/ckpt", "include_optimizer": False})
    typed = _handle(server, "save", {"role": "ghost", "dir": "/d", "include_optimizer": False})["error"]
    assert (typed["code"], typed["hint"], typed["op"]) == ("unknown_role", "Load it first.", "save")
    bug = _handle(server, "save", {"role": "bug", "dir": "/d", "include_optimizer": False})["error"]
    assert bug["code"] == "op_failed" and "ZeroDivisionError" in bug["message"] and "recording" not in bug["message"]
    assert "raise ZeroDivisionError" in bug["traceback"]
    assert len(recording.calls) == 3


def test_non_finite_results_become_error_replies() -> None:
    class NanWorker(RecordingWorker):
        def save(self, args: dict, tensors: dict) -> tuple[dict, dict]:
            return {"loss": float("nan")}, {}

    server = Server(ServerOptions(endpoint="ipc:///unused", token="t"), worker_factory=NanWorker)
    reply = _handle(server, "save", {"role": "s", "dir": "/d", "include_optimizer": False}, request_id=7)
    assert reply["id"] == 7 and reply["ok"] is False and "JSON cannot carry" in reply["error"]["message"]


def test_ctrl_c_is_left_to_the_parent(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group; the worker keeps serving so that the
    parent can checkpoint through it, then stop it."""
    process = WorkerProcess(tmp_path)
    try:
        process.proc.send_signal(signal.SIGINT)
        assert process.request("ping")["ok"]
        assert process.proc.poll() is None
    finally:
        process.close()


def test_set_threads_changes_the_torch_thread_count() -> None:
    server = Server(ServerOptions(endpoint="ipc:///unused", token="t"), worker_factory=RecordingWorker)
    before = torch.get_num_threads()
    try:
        reply = _handle(server, "set_threads", {"threads": 2})
        assert reply["ok"] and reply["result"] == {"threads": 2} and torch.get_num_threads() == 2
        bad = _handle(server, "set_threads", {"threads": 0})
        assert not bad["ok"] and "threads" in bad["error"]["message"]
    finally:
        torch.set_num_threads(before)


def test_the_server_ops_replies_match_their_result_schemas() -> None:
    """ping, set_threads, echo and stop, answered by the server itself, send exactly the keys
    the generated contract lists (what the TypeScript client parses them with)."""
    from mgsd_backend.validate import check_result

    server = Server(ServerOptions(endpoint="ipc:///unused", token="t"), worker_factory=RecordingWorker)
    before = torch.get_num_threads()
    try:
        for op, args in (("ping", {}), ("set_threads", {"threads": 1}), ("echo", {"x": [1]}), ("stop", {})):
            reply = _handle(server, op, args)
            assert reply["ok"], reply
            assert first_error(validator(CONTRACT["envelope"]["reply_header"]), reply, "reply") is None
            check_result(op, reply["result"], {})
        error_reply = _handle(server, "ping", {"x": 1})
        assert not error_reply["ok"]
        assert first_error(validator(CONTRACT["envelope"]["reply_header"]), error_reply, "reply") is None
    finally:
        torch.set_num_threads(before)
