"""JSON views from a request (`args.views`) → `base.View` tuples, and what they say about images.

A view is a list of `{"role", "content": [{"type": "text", "text"} | {"type": "image"}]}`
(src/chat.ts). The server has validated the shapes against protocol.py; this module still
raises `RequestError` with the argument path for anything it cannot convert, so a worker used
in-process (tests, benchmarks) fails just as clearly.
"""

from __future__ import annotations

from typing import Any

from .errors import RequestError
from .models.base import ChatMessage, ChatPart, View

ROLES = ("system", "user", "assistant")


def parse_views(views: Any, path: str) -> list[View]:
    """Converts `args.<path>` (a list of views) into `View`s."""
    if not isinstance(views, list):
        raise RequestError(f"{path}: expected an array of views, got {type(views).__name__}")
    return [_parse_view(view, f"{path}[{i}]") for i, view in enumerate(views)]


def has_image(view: View) -> bool:
    """True when some message of the view carries the image part."""
    return any(part.type == "image" for message in view for part in message.content)


def _parse_view(view: Any, path: str) -> View:
    if not isinstance(view, list):
        raise RequestError(f"{path}: expected an array of messages, got {type(view).__name__}")
    messages = []
    for i, message in enumerate(view):
        where = f"{path}[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(content, list):
            raise RequestError(f"{where}: expected {{role: {' | '.join(ROLES)}, content: [...]}}, got {message!r}"[:300])
        messages.append(ChatMessage(role=role, content=tuple(_parse_part(p, f"{where}.content[{j}]")
                                                             for j, p in enumerate(content))))
    return tuple(messages)


def _parse_part(part: Any, path: str) -> ChatPart:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "image":
        return ChatPart(type="image")
    if kind == "text" and isinstance(part.get("text"), str):
        return ChatPart(type="text", text=part["text"])
    raise RequestError(f"{path}: expected {{type: 'text', text}} or {{type: 'image'}}, got {part!r}"[:300])
