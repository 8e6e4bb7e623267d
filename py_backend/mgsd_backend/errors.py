"""Errors a worker reports to the client as structured replies (docs/protocol.md).

Raise `RequestError` (or a subclass) for anything the worker can explain — a request it cannot
carry out, or a known failure of the machine or of a file (full disk, no permission, a damaged
checkpoint) — with a stable `code`, a message naming the file or op, and a `hint` that tells the
user what to do. `explain` maps the known kinds of exceptions (OSError by errno, out of memory) to
these. Anything else escaping an op is a bug; the server reports it with code `op_failed`. The
traceback always goes to the worker log and travels in the reply for `--verbose`, never into the
message.
"""

from __future__ import annotations

import errno


class RequestError(Exception):
    """A request the worker cannot carry out as given."""

    code = "bad_request"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UnknownRole(RequestError):
    """An op named a model role that was never loaded."""

    code = "unknown_role"


class ModelLoadError(RequestError):
    """A model spec or checkpoint could not be loaded."""

    code = "model_load_failed"


class NonFiniteLoss(RequestError):
    """A training step produced NaN/inf; the weights were left unchanged."""

    code = "non_finite"


class CheckpointCorrupt(RequestError):
    """A checkpoint file exists but cannot be read: truncated, damaged, or not written by mgsd."""

    code = "checkpoint_corrupt"


class DiskFull(RequestError):
    """A write failed for lack of space (ENOSPC) or quota (EDQUOT)."""

    code = "disk_full"


class PermissionDenied(RequestError):
    """A file or directory could not be written or read for lack of permission (or a read-only fs)."""

    code = "permission_denied"


class IoFailed(RequestError):
    """Any other operating-system error on a file."""

    code = "io_error"


class OutOfMemory(RequestError):
    """The op ran out of host or device memory; nothing was changed."""

    code = "out_of_memory"


_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}


def explain_os_error(error: OSError, action: str, path: str | None = None) -> RequestError:
    """`error` from `action` ("writing checkpoint /x", …) → the typed error naming the file."""
    where = error.filename or path or "?"
    reason = error.strerror or str(error)
    if error.errno in _NO_SPACE:
        return DiskFull(f"{action}: no space left on the device of {where} ({reason})",
                        hint="Free space on that filesystem (or move the run to a larger one); the previous "
                             "checkpoint is intact, so `npx mgsd run --resume <run>` continues from it.")
    if error.errno in _NO_PERMISSION:
        return PermissionDenied(f"{action}: permission denied on {where} ({reason})",
                                hint="Make the directory writable by this user (or choose another --out), then resume.")
    return IoFailed(f"{action}: {reason} on {where}", hint="Check the filesystem and the path, then resume.")


def explain(error: BaseException, op: str | None) -> RequestError | None:
    """A known failure kind raised anywhere in an op → a typed error; None for unknown ones."""
    if isinstance(error, RequestError):
        return error
    if isinstance(error, OSError) and error.errno is not None:
        return explain_os_error(error, f"op {op}")
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        first_line = (str(error).splitlines() or [""])[0]
        return OutOfMemory(f"op {op} ran out of memory ({type(error).__name__}: {first_line})",
                           hint="Lower the batch size of the stage (or rollout.maxNewTokens), or use a larger device.")
    return None
