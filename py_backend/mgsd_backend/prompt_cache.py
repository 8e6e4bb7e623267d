"""A small cache of encoded prompts, so one OPSD step encodes each (model, views, images) once.

An OPSD step sends the same student views and images to `generate` and then to `distill_step`
(and a teacher reading the student's view sends them again): without a cache, the chat template
and image patching run once per op (~35 ms each on 4 paper prompts with 256 px images). Entries
are keyed by the model object (identity), the views' JSON and a digest of the image bytes, so a
hit returns exactly what encoding again would. `EncodedPrompts` are read-only to every consumer
(forwards concatenate into new tensors), which is what makes sharing them safe.

Bounded to a few entries (the latest step's); the worker clears it whenever a role is (re)loaded,
so a replaced model is never kept alive by the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from .models.base import EncodedPrompts, PolicyModel

MAX_ENTRIES = 4


class PromptCache:
    """LRU of `EncodedPrompts` keyed by (model identity, views JSON, images digest)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple, tuple[PolicyModel, EncodedPrompts]] = OrderedDict()
        self._max = max_entries

    def get_or_encode(self, model: PolicyModel, views_json: Any, images: torch.Tensor | None,
                      encode: Callable[[], EncodedPrompts]) -> EncodedPrompts:
        key = (id(model), json.dumps(views_json, sort_keys=True, separators=(",", ":")), _digest(images))
        hit = self._entries.get(key)
        if hit is not None and hit[0] is model:
            self._entries.move_to_end(key)
            return hit[1]
        prompts = encode()
        self._entries[key] = (model, prompts)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return prompts

    def clear(self) -> None:
        self._entries.clear()


def _digest(images: torch.Tensor | None) -> str | None:
    if images is None:
        return None
    data = images.detach().cpu().contiguous()
    header = f"{data.dtype}{tuple(data.shape)}".encode()
    return hashlib.blake2b(header + data.numpy().tobytes(), digest_size=16).hexdigest()
