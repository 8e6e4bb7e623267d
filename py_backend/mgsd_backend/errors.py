"""Errors a worker reports to the client as structured replies (docs/protocol.md).

Raise `RequestError` (or a subclass) for anything the *request* got wrong — it carries a stable
`code` and a `hint` that tells the user what to change. Any other exception escaping an op is a
bug or a runtime failure (CUDA OOM, NaN, …); the server reports it with code `op_failed` and the
traceback, and keeps serving.
"""

from __future__ import annotations


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
