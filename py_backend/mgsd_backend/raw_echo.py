"""A bare ZeroMQ echo peer — no JSON header, no Arrow, no validation — the baseline that
`npm run bench:bridge` compares the full bridge with (`arrow_vs_raw_1mib`).

`python -m mgsd_backend.raw_echo <endpoint>`: connects a DEALER like the worker does, sends
`ready`, then returns every message unchanged (zero-copy) until it receives `stop`.
"""

from __future__ import annotations

import sys

import zmq


def main(endpoint: str) -> int:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send(b"ready")
    while True:
        frames = sock.recv_multipart(copy=False)
        if len(frames) == 1 and frames[0].bytes == b"stop":
            return 0
        sock.send_multipart(frames, copy=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mgsd_backend.raw_echo <endpoint>")
    sys.exit(main(sys.argv[1]))
