"""The worker's socket loop: hello, then receive → validate → dispatch → reply, until told to stop.

A DEALER connects to the client's ROUTER (docs/protocol.md), sends `hello` (version, launch token,
pid, versions, devices), then serves one request at a time, in arrival order (the client may
pipeline many). Every request is checked by `protocol.validate_request` before a handler sees it.
`ping`, `echo`, `stop` and `set_threads` are the server's own; model ops go to `worker.Worker`, imported at
start-up — when that import fails the server still serves its own ops and answers model ops
with code `unavailable` and the reason (logged once at start-up).

Any exception in a handler becomes an error reply (`code`, `message`, `op`, `hint`, `traceback`)
and the server keeps serving. The process exits on `stop`, when its client disconnects (the
ROUTER closed), and when its parent process dies (a watchdog thread, which works even while an op
is busy). Logs go to stderr; nothing is printed on stdout.

Rank groups (group/): only rank 0 runs `run()`; model ops and `set_threads` go through a
`group.serve.Dispatcher` (with one rank its collectives return at once), which fans them out to
ranks > 0 — those run `follow()` — and merges their replies. A `PeerLost` (a peer died or hung
in a collective) is not answered: it ends the process, and the orchestrator reports the rank.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import zmq
import zmq.utils.monitor

from . import wire
from .errors import RequestError, explain
from .group import Group, PeerLost, solo
from .group.agree import RankFailed
from .group.serve import Dispatcher
from .protocol import HELLO, MAX_MESSAGE_MIB, MODEL_OPS, PROTOCOL_VERSION, Op
from .validate import validate_request

log = logging.getLogger("mgsd_backend.server")

VERSION_OVERRIDE_ENV = "MGSD_TEST_ANNOUNCE_VERSION"
"""Test hook: the hello announces this protocol version instead (bridge tests of the mismatch)."""

STOP_REPLY_LINGER_MS = 10_000
"""How long a stopping worker waits for its last reply (to `stop`) to be sent."""

Tensors = dict[str, torch.Tensor]
Handler = Callable[[dict[str, Any], Tensors], tuple[dict[str, Any], Tensors]]


@dataclass(frozen=True)
class ServerOptions:
    """The command-line settings of one worker (see `__main__.py`)."""

    endpoint: str
    token: str
    threads: int = 1
    max_message_bytes: int = int(MAX_MESSAGE_MIB * (1 << 20))
    parent_pid: int | None = None


class Server:
    """One worker process's server. `run()` blocks until stop, disconnect or parent death."""

    def __init__(self, options: ServerOptions, worker_factory: Callable[[], Any] | None = None,
                 group: Group | None = None) -> None:
        self.options = options
        self.started = time.monotonic()
        self.group = group or solo()
        self._worker_factory, self._worker_error = _worker_factory(options.threads, worker_factory, self.group)
        self._worker: Any = None
        self._stopping = False
        self._handlers: dict[Op, Handler] = {
            Op.PING: self._ping,
            Op.ECHO: self._echo,
            Op.STOP: self._stop,
            Op.SET_THREADS: self._set_threads,
        }
        for op in MODEL_OPS:
            self._handlers[op] = self._model_handler(op)
        self._dispatcher = Dispatcher(self.group, self._run_local, self._pad_values, self._shards_role)

    # ---- lifecycle -------------------------------------------------------------------------
    def run(self) -> int:
        context = zmq.Context.instance()
        sock = context.socket(zmq.DEALER)
        for option, value in ((zmq.LINGER, 0), (zmq.SNDHWM, 0), (zmq.RCVHWM, 0)):
            sock.setsockopt(option, value)
        monitor = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        sock.connect(self.options.endpoint)
        if self.options.parent_pid is not None:
            start_parent_watchdog(self.options.parent_pid)
        sock.send_multipart([json.dumps(self.hello()).encode()])
        log.info("hello sent to %s (pid %d, threads %d)", self.options.endpoint, os.getpid(), self.options.threads)
        try:
            return self._loop(sock, monitor)
        finally:
            sock.disable_monitor()
            monitor.close(0)
            # NOTE: the stop reply must leave before the process exits; close blocks only until it
            # is flushed, and an overloaded machine can take seconds to schedule the IO thread.
            sock.close(linger=STOP_REPLY_LINGER_MS if self._stopping else 0)

    def follow(self) -> int:
        """Ranks > 0: serve rank 0's fanned-out ops until it stops (no socket of their own)."""
        if self.options.parent_pid is not None:
            start_parent_watchdog(self.options.parent_pid)
        return self._dispatcher.follow()

    def _loop(self, sock: zmq.Socket, monitor: zmq.Socket) -> int:
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        while not self._stopping:
            ready = dict(poller.poll())
            if monitor in ready:
                event = zmq.utils.monitor.recv_monitor_message(monitor)
                if event["event"] == zmq.EVENT_DISCONNECTED:
                    log.info("the client disconnected (its socket closed); exiting")
                    return 0
            if sock in ready:
                frames = sock.recv_multipart(copy=False)
                sock.send_multipart(self.handle(frames), copy=False)
        log.info("stopped on request")
        return 0

    def hello(self) -> dict[str, Any]:
        version = int(os.environ.get(VERSION_OVERRIDE_ENV, PROTOCOL_VERSION))
        return {
            "v": version,
            "op": HELLO,
            "token": self.options.token,
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "devices": list_devices(),
            "threads": torch.get_num_threads(),
            "model_ops": self._worker_error is None,
            "model_ops_error": self._worker_error,
            "ranks": self._ranks(),
        }

    def _ranks(self) -> list[dict[str, int]]:
        return [{"rank": rank, "pid": pid} for rank, pid in enumerate(self.group.pids)]

    # ---- one message -----------------------------------------------------------------------
    def handle(self, frames: list[Any]) -> list[Any]:
        """One request's frames → the reply's frames. Never raises."""
        request_id: Any = None
        op: str | None = None
        try:
            header = parse_header(frames[0].bytes if hasattr(frames[0], "bytes") else bytes(frames[0]))
            request_id = header.get("id") if _is_int(header.get("id")) else None
            size = sum(len(f) for f in frames)
            if size > self.options.max_message_bytes:
                raise RequestError(
                    f"message of {size} bytes exceeds the worker's limit of {self.options.max_message_bytes} bytes",
                    "Send smaller batches, or start the worker with a larger --max-message-mib.",
                )
            check_header(header)
            op = header["op"]
            tensors = wire.decode(frames[1:])
            known = validate_request(op, header["args"], tensors)
            if known in (Op.PING, Op.ECHO, Op.STOP):
                result, out = self._handlers[known](header["args"], tensors)
            else:  # every rank runs it (one rank: the same path, collectives return at once)
                result, out = self._dispatcher.lead(known, header["args"], tensors)
            return [_dump({"v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": result}), *wire.encode(out)]
        except PeerLost:
            raise  # the group is broken: no reply; __main__ exits and the orchestrator names the rank
        except Exception as error:  # noqa: BLE001 - every failure becomes an error reply
            return [_dump({"v": PROTOCOL_VERSION, "id": request_id, "ok": False, "error": error_body(error, op)})]

    # ---- handlers --------------------------------------------------------------------------
    def _ping(self, args: dict[str, Any], tensors: Tensors) -> tuple[dict[str, Any], Tensors]:
        return {"pid": os.getpid(), "uptime_s": time.monotonic() - self.started, "ranks": self._ranks()}, {}

    def _echo(self, args: dict[str, Any], tensors: Tensors) -> tuple[dict[str, Any], Tensors]:
        return args, tensors

    def _set_threads(self, args: dict[str, Any], tensors: Tensors) -> tuple[dict[str, Any], Tensors]:
        # The orchestrator gives a worker both cores while it works alone, one each when two overlap.
        torch.set_num_threads(int(args["threads"]))
        return {"threads": torch.get_num_threads()}, {}

    def _stop(self, args: dict[str, Any], tensors: Tensors) -> tuple[dict[str, Any], Tensors]:
        if self.group.distributed:
            self._dispatcher.stop_followers()
        self._stopping = True
        return {}, {}

    def _run_local(self, op: Op, args: dict[str, Any], tensors: Tensors) -> tuple[dict[str, Any], Tensors]:
        """This rank's share of an op (the dispatcher calls it on every rank)."""
        return self._handlers[op](args, tensors)

    def _shards_role(self, args: Any) -> bool:
        return self._worker is not None and self._worker.shards_role(args.get("role"))

    def _pad_values(self, op: Op, args: Any) -> Any:
        return self._worker.reply_pad_values(args["role"]) if self._worker is not None else {}

    def _model_handler(self, op: Op) -> Handler:
        def handler(args: dict[str, Any], tensors: Tensors) -> tuple[dict[str, Any], Tensors]:
            if self._worker_factory is None:
                raise Unavailable(
                    f"model ops are unavailable in this worker: {self._worker_error}",
                    "Run `npx mgsd doctor`; it checks the Python environment and names what to install.",
                )
            if self._worker is None:
                self._worker = self._worker_factory()
            return getattr(self._worker, op.value)(args, tensors)

        return handler


class Unavailable(RequestError):
    """The worker cannot serve model ops (its model code failed to import)."""

    code = "unavailable"


def parse_header(raw: bytes) -> dict[str, Any]:
    """Frame 0 of a request → a JSON object; RequestError when it is not one."""
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f"frame 0 is not a JSON header ({len(raw)} bytes): {error}") from None
    if not isinstance(header, dict):
        raise RequestError(f"frame 0 must be a JSON object, got {type(header).__name__}")
    return header


def check_header(header: Mapping[str, Any]) -> None:
    """Raises RequestError unless the header has the documented request shape and version."""
    missing = [k for k in ("v", "id", "op", "args") if k not in header]
    if missing:
        raise RequestError(f"request header lacks {', '.join(missing)} (got keys {sorted(header)})")
    if header["v"] != PROTOCOL_VERSION:
        raise RequestError(
            f"request speaks protocol version {header['v']!r}, this worker speaks {PROTOCOL_VERSION}",
            "Update the TypeScript side and py_backend together (they ship in the same checkout).",
        )
    if not _is_int(header["id"]) or not isinstance(header["op"], str):
        raise RequestError(f"request header: id must be an integer and op a string, got {header['id']!r}, {header['op']!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def error_body(error: BaseException, op: str | None) -> dict[str, Any]:
    """An exception → the `error` object of a reply (code, message, op, hint, traceback).

    Known failure kinds (`errors.explain`: typed errors, OSError by errno, out of memory) keep their
    code, message and hint; anything else is `op_failed` with the exception's first line. The
    traceback goes to the log and into the reply (the client shows it only with --verbose)."""
    trace = "".join(traceback.format_exception(error))
    if isinstance(error, RankFailed) and error.remote_traceback:
        trace = f"{error.remote_traceback}\n(re-raised on rank 0)\n{trace}"
    known = explain(error, op)
    if known is not None:
        log.error("op %s failed (%s): %s\n%s", op, known.code, known.message, trace)
        return {"code": known.code, "message": known.message, "op": op, "hint": known.hint, "traceback": trace}
    log.error("op %s failed:\n%s", op, trace)
    first_line = (str(error).splitlines() or [""])[0][:500]
    return {
        "code": "op_failed",
        "message": f"unexpected {type(error).__name__} in op {op}: {first_line}",
        "op": op,
        "hint": "An unexpected failure inside the worker (likely a bug): the traceback is in the worker log and is "
                "shown with --verbose; please report it with that traceback.",
        "traceback": trace,
    }


def list_devices() -> list[dict[str, Any]]:
    """The compute devices this worker can use, for the hello and `mgsd doctor`."""
    devices: list[dict[str, Any]] = [{"id": "cpu", "name": "cpu", "memory_mib": None}]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append({"id": f"cuda:{index}", "name": props.name, "memory_mib": props.total_memory >> 20})
    return devices


def start_parent_watchdog(parent_pid: int, interval_s: float = 0.5) -> threading.Thread:
    """Exits the process (even mid-op) once `parent_pid` is gone, so no worker outlives its client."""
    direct_child = os.getppid() == parent_pid

    def alive() -> bool:
        if direct_child:
            return os.getppid() == parent_pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while alive():
            time.sleep(interval_s)
        log.warning("parent process %d is gone; exiting", parent_pid)
        logging.shutdown()
        os._exit(1)

    thread = threading.Thread(target=watch, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def _worker_factory(threads: int, given: Callable[[], Any] | None,
                    group: Group) -> tuple[Callable[[], Any] | None, str | None]:
    if given is not None:
        return given, None
    try:
        from .worker import Worker
    except Exception as error:  # noqa: BLE001 - reported in the hello, the log and every model op
        if isinstance(error, ModuleNotFoundError) and error.name == f"{__package__}.worker":
            reason = "py_backend/mgsd_backend/worker.py is missing"
            log.warning("%s: model ops will answer 'unavailable'; ping/echo/stop still work", reason)
        else:
            reason = f"importing mgsd_backend.worker failed: {type(error).__name__}: {error}"
            log.warning("%s; ping/echo/stop still work\n%s", reason, "".join(traceback.format_exception(error)))
        return None, reason
    return (lambda: Worker(threads=threads, group=group)), None


def _dump(header: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(header, allow_nan=False, default=_to_json).encode()
    except ValueError as error:
        raise ValueError(f"the reply holds a value JSON cannot carry ({error}); send non-finite numbers as tensors") from error


def _to_json(value: Any) -> Any:
    """numpy/torch scalars in a result → plain Python numbers."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
