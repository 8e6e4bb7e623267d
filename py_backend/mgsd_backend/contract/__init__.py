"""The generated wire contract (`protocol.schema.json`), loaded without importing torch.

`protocol.schema.json` is written from src/backend/protocol.ts by `npm run gen:contract` and is
never edited by hand. This module only reads it and names its top-level constants, so that
`__main__` can use them before torch is imported (thread settings must come first);
`mgsd_backend.protocol` builds the op table on top of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONTRACT_FILE = Path(__file__).resolve().parent / "protocol.schema.json"
"""Generated from src/backend/protocol.ts by `npm run gen:contract`."""


def _load() -> dict[str, Any]:
    try:
        return json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RuntimeError(
            f"{CONTRACT_FILE}: the wire contract cannot be read ({error}); "
            "regenerate it with `npm run gen:contract` (or restore it from git)"
        ) from None


CONTRACT: Mapping[str, Any] = _load()
"""The whole contract file (ops, vocabularies, tensor specs)."""

PROTOCOL_VERSION: int = CONTRACT["version"]
"""Bumped on any incompatible change of framing, tensors or op schemas (both sides at once)."""
HELLO: str = CONTRACT["hello"]
"""The `op` of a worker's first message (never a request)."""
MAX_MESSAGE_MIB: float = CONTRACT["max_message_mib"]
"""The default limit on one request's size (`--max-message-mib`)."""
ESTIMATORS: tuple[str, ...] = tuple(CONTRACT["vocab"]["estimators"])
"""Distillation estimators (`distill_step`'s `estimator`)."""
MODEL_DTYPES: tuple[str, ...] = tuple(CONTRACT["vocab"]["model_dtypes"])
"""Parameter dtypes a model may be loaded in."""
PEER_LOST_EXIT_CODE: int = CONTRACT["rank_exit_codes"]["peer_lost"]
"""Exit status of a rank that left because a peer died or hung (not itself the cause)."""
RANK_TAKEN_EXIT_CODE: int = CONTRACT["rank_exit_codes"]["rank_taken"]
"""Exit status of a rank refused before joining: another process already holds its rank."""
