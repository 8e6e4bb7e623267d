"""The tiny-model benchmarks' inputs (bench_model.py, bench_group.py): one short image prompt, a
40-character response, and seeded 40×40 images — the default tiny preset's shapes."""

from __future__ import annotations

RESPONSE = "N4 S00 G33 H11,22;RRDDDR then DDRR ok!!"  # 40 characters incl. the EOS appended by callers
PROMPT = "solve it>"


def views(n: int) -> list:
    """`n` copies of the image-then-prompt student view."""
    return [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}] for _ in range(n)]


def images(n: int):
    """`n` seeded uint8 RGB images of 40×40 pixels."""
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 40, 40, 3), dtype=torch.uint8, generator=g)
