"""Runs a list of model-op requests through `mgsd_backend.worker.Worker` IN PROCESS (no socket, no
Arrow) and prints the results: the reference that `bridge-model.test.ts` compares the bridge with.

stdin: JSON `[{"op", "args", "tensors": {name: {"dtype", "shape", "values"}}}, ...]`
(int64 values as decimal strings, like the golden envelopes). stdout: JSON
`[{"result", "tensors"} | {"error": {"code", "message"}}, ...]` in the same encoding.
"""

from __future__ import annotations

import json
import sys

import torch

from mgsd_backend.errors import RequestError
from mgsd_backend.protocol import DTYPE_NAMES, DTYPES
from mgsd_backend.worker import Worker


def to_tensor(spec: dict) -> torch.Tensor:
    values = [int(v) for v in spec["values"]] if spec["dtype"] == "int64" else spec["values"]
    return torch.tensor(values, dtype=DTYPES[spec["dtype"]]).reshape(spec["shape"])


def to_json(tensor: torch.Tensor) -> dict:
    values = tensor.reshape(-1).tolist()
    dtype = DTYPE_NAMES[tensor.dtype]
    return {"dtype": dtype, "shape": list(tensor.shape), "values": [str(v) for v in values] if dtype == "int64" else values}


def main() -> None:
    torch.set_num_threads(1)
    worker = Worker(threads=1)
    replies = []
    for request in json.load(sys.stdin):
        tensors = {name: to_tensor(spec) for name, spec in request.get("tensors", {}).items()}
        try:
            result, out = getattr(worker, request["op"])(request["args"], tensors)
        except RequestError as error:
            replies.append({"error": {"code": error.code, "message": error.message}})
            continue
        replies.append({"result": result, "tensors": {name: to_json(t) for name, t in out.items()}})
    json.dump(replies, sys.stdout)


if __name__ == "__main__":
    main()
