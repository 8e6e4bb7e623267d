"""mgsd's own Qwen3-VL input codec: chat views + uint8 images → the tensors the model takes.

Why not `AutoProcessor`: its class checks, video processor (torchvision) and version-dependent
outputs make it fragile offline and across transformers releases. This codec renders the Qwen3-VL
*Instruct* chat template for the message shapes mgsd sends, tokenises with the checkpoint's own
tokenizer, patchifies images exactly like Qwen2-VL's image processor, and builds
`mm_token_type_ids` (0 text, 1 image) as transformers' processors do. Tests check it against the
real image processor and the checkpoint's Jinja template (and the full processor when it loads).

Template (no default system prompt; every message is `<|im_start|>{role}\\n…<|im_end|>\\n`; an image
part is `<|vision_start|>` + N × `<|image_pad|>` + `<|vision_end|>`; then `<|im_start|>assistant\\n`).
N = gh·gw / merge² (one token per 32×32 px at patch 16, merge 2): a 256×256 image gives 64.

Images: uint8 [H, W, 3]. They are resized (bicubic) only when H or W is not a multiple of 32 or
H·W falls outside the checkpoint's [min_pixels, max_pixels]; mgsd renders at multiples of 32.
Pixel rows go (h-block, w-block, row-in-block, col-in-block); features (channel, temporal, py, px),
with the still frame duplicated over the temporal patch.

Dimension letters: B batch, P prompt length, H/W image pixels, C channels, N patch rows, F patch
features (C · temporal · patch · patch).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import ChatMessage, ChatPart, View

log = logging.getLogger("mgsd_backend.models.qwen3_vl_codec")

IMAGE_PAD = "<|image_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"


@dataclass(frozen=True)
class ImageSettings:
    """The image-processor facts of one checkpoint (`preprocessor_config.json`)."""

    patch_size: int = 16
    merge_size: int = 2
    temporal_patch_size: int = 2
    min_pixels: int = 65536
    max_pixels: int = 16777216
    rescale_factor: float = 1 / 255
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    @property
    def factor(self) -> int:
        """Side multiple an image must have: one merged token covers factor × factor pixels."""
        return self.patch_size * self.merge_size

    @classmethod
    def from_directory(cls, directory: str | Path) -> ImageSettings:
        """Reads `preprocessor_config.json`; a directory without one gets Qwen3-VL's defaults."""
        path = Path(directory) / "preprocessor_config.json"
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text())
        size = raw.get("size") or {}
        defaults = cls()
        return cls(
            patch_size=int(raw.get("patch_size", defaults.patch_size)),
            merge_size=int(raw.get("merge_size", defaults.merge_size)),
            temporal_patch_size=int(raw.get("temporal_patch_size", defaults.temporal_patch_size)),
            min_pixels=int(raw.get("min_pixels", size.get("shortest_edge", defaults.min_pixels))),
            max_pixels=int(raw.get("max_pixels", size.get("longest_edge", defaults.max_pixels))),
            rescale_factor=float(raw.get("rescale_factor", defaults.rescale_factor)),
            image_mean=tuple(raw.get("image_mean", defaults.image_mean)),
            image_std=tuple(raw.get("image_std", defaults.image_std)),
        )


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen2-VL's target size: both sides multiples of `factor`, area within [min, max] pixels,
    aspect ratio kept as well as possible. Raises ValueError for aspect ratios over 200."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"image {height}×{width}: aspect ratio over 200 is not supported by Qwen3-VL")
    out_h = max(factor, round(height / factor) * factor)
    out_w = max(factor, round(width / factor) * factor)
    if out_h * out_w > max_pixels:
        shrink = math.sqrt(height * width / max_pixels)
        out_h = max(factor, math.floor(height / shrink / factor) * factor)
        out_w = max(factor, math.floor(width / shrink / factor) * factor)
    elif out_h * out_w < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        out_h = math.ceil(height * grow / factor) * factor
        out_w = math.ceil(width * grow / factor) * factor
    return out_h, out_w


def patchify(image_HWC: np.ndarray, settings: ImageSettings) -> tuple[np.ndarray, tuple[int, int, int]]:
    """uint8 [H, W, 3] → (pixels_NF float32, grid (t, gh, gw)) in the Qwen2-VL layout."""
    if image_HWC.ndim != 3 or image_HWC.shape[2] != 3 or image_HWC.dtype != np.uint8:
        raise ValueError(f"expected a uint8 [H, W, 3] image, got {image_HWC.dtype} {list(image_HWC.shape)}")
    height, width = image_HWC.shape[:2]
    target = smart_resize(height, width, settings.factor, settings.min_pixels, settings.max_pixels)
    if target != (height, width):
        from PIL import Image

        resized = Image.fromarray(image_HWC).resize((target[1], target[0]), resample=Image.Resampling.BICUBIC)
        image_HWC = np.asarray(resized)
    p, m, tp = settings.patch_size, settings.merge_size, settings.temporal_patch_size
    grid_h, grid_w = target[0] // p, target[1] // p
    # Reorder the uint8 pixels into patch order first (a strided copy of 1-byte values), then
    # normalise contiguous float32 rows in place: the same arithmetic, (x * rescale - mean) / std.
    blocks = image_HWC.transpose(2, 0, 1).reshape(3, grid_h // m, m, p, grid_w // m, m, p)
    blocks = blocks.transpose(1, 4, 2, 5, 0, 3, 6)  # (h-block, w-block, row, col, C, py, px)
    frame = blocks.reshape(grid_h * grid_w, 3, p, p).astype(np.float32)
    frame *= np.float32(settings.rescale_factor)
    frame -= np.asarray(settings.image_mean, dtype=np.float32)[None, :, None, None]
    frame /= np.asarray(settings.image_std, dtype=np.float32)[None, :, None, None]
    # A still frame fills the temporal patch.
    out = np.empty((grid_h * grid_w, 3, tp, p, p), dtype=np.float32)
    out[:, :, :] = frame[:, :, None]
    return out.reshape(grid_h * grid_w, 3 * tp * p * p), (1, grid_h, grid_w)


def render_view(view: View, image_tokens: int, add_generation_prompt: bool = True) -> str:
    """One view as Qwen3-VL Instruct text, the image pad already expanded to `image_tokens` copies."""
    parts: list[str] = []
    for message in view:
        parts.append(f"<|im_start|>{message.role}\n")
        parts.extend(_render_content(message, image_tokens))
        parts.append("<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _render_content(message: ChatMessage, image_tokens: int) -> list[str]:
    out = []
    for part in message.content:
        if part.type == "image":
            out.append(VISION_START + IMAGE_PAD * image_tokens + VISION_END)
        else:
            out.append(part.text or "")
    return out


def view_as_template_messages(view: View) -> list[dict]:
    """A view in the `messages` form `tokenizer.apply_chat_template` takes (for cross-checks)."""
    return [
        {"role": m.role, "content": [{"type": "image"} if p.type == "image" else {"type": "text", "text": p.text}
                                     for p in m.content]}
        for m in view
    ]


def count_image_parts(view: View) -> int:
    return sum(1 for message in view for part in message.content if part.type == "image")


@dataclass
class CodecOutput:
    """Left-padded prompt tensors (CPU). Image tensors are None for a text-only batch."""

    input_ids_BP: torch.Tensor
    attention_mask_BP: torch.Tensor
    mm_token_type_ids_BP: torch.Tensor
    pixel_values_NF: torch.Tensor | None
    image_grid_thw: torch.Tensor | None  # [images, 3] int64, in row order


class Qwen3VLCodec:
    """Encodes mgsd views for one checkpoint: its tokenizer, image settings and special ids."""

    def __init__(self, tokenizer, settings: ImageSettings, *, image_token_id: int, pad_id: int) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.image_token_id = image_token_id
        self.pad_id = pad_id
        found = tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        if found != image_token_id:
            raise ValueError(f"tokenizer maps {IMAGE_PAD} to {found} but the model config says {image_token_id}")

    def encode(self, views: list[View], images_BHWC: torch.Tensor | None) -> CodecOutput:
        """Renders, tokenises and left-pads `views`; patchifies row i of `images_BHWC` for view i."""
        _check_images_match_views(views, images_BHWC)
        pixels: list[np.ndarray] = []
        grids: list[tuple[int, int, int]] = []
        texts: list[str] = []
        wanted: list[int] = []
        images_np = None if images_BHWC is None else images_BHWC.cpu().numpy()
        for view_i, view in enumerate(views):
            image_tokens = 0
            if count_image_parts(view):
                assert images_np is not None
                pixels_NF, grid = patchify(images_np[view_i], self.settings)
                pixels.append(pixels_NF)
                grids.append(grid)
                image_tokens = grid[1] * grid[2] // self.settings.merge_size**2
            texts.append(render_view(view, image_tokens))
            wanted.append(image_tokens)
        # One batched call: the fast tokenizer encodes the rows together (no per-row Python overhead).
        rows: list[list[int]] = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        for i, (ids, image_tokens) in enumerate(zip(rows, wanted)):
            pads = ids.count(self.image_token_id)
            if pads != image_tokens:
                raise ValueError(
                    f"sample {i}: the prompt has {pads} {IMAGE_PAD} tokens but its image needs {image_tokens}; "
                    f"prompt text must not contain Qwen special tokens"
                )
        return self._pad(rows, pixels, grids)

    def _pad(self, rows: list[list[int]], pixels: list[np.ndarray], grids: list) -> CodecOutput:
        width = max(len(r) for r in rows)
        # Left padding built in one go (per-row tensor assignment cost more than the tokenizer).
        ids_BP = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], dtype=torch.long)
        mask_BP = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
        types_BP = (ids_BP == self.image_token_id).long() * mask_BP
        if not pixels:
            return CodecOutput(ids_BP, mask_BP, types_BP, None, None)
        return CodecOutput(ids_BP, mask_BP, types_BP, torch.from_numpy(np.concatenate(pixels)),
                           torch.tensor(grids, dtype=torch.long))

    def encode_targets(self, texts: list[str], append_eos: bool, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenises SFT targets (no template) → (ids_BR right-padded with pad, mask_BR bool)."""
        rows = [self.tokenizer(t, add_special_tokens=False)["input_ids"] + ([eos_id] if append_eos else [])
                for t in texts]
        width = max(1, max(len(r) for r in rows))
        ids_BR = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask_BR = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, row in enumerate(rows):
            ids_BR[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask_BR[i, : len(row)] = True
        return ids_BR, mask_BR


def _check_images_match_views(views: list[View], images_BHWC: torch.Tensor | None) -> None:
    if images_BHWC is not None and images_BHWC.shape[0] != len(views):
        raise ValueError(f"images has {images_BHWC.shape[0]} rows but there are {len(views)} views; send one per view")
    for i, view in enumerate(views):
        n = count_image_parts(view)
        if n > 1:
            raise ValueError(f"sample {i}: a view holds at most one image part, got {n}")
        if n == 1 and images_BHWC is None:
            raise ValueError(f"sample {i}: the view has an image part but the request sent no images tensor")
        if n == 0 and images_BHWC is not None:
            raise ValueError(f"sample {i}: images row {i} was sent but the view has no image part to place it")


PROBE_VIEWS: tuple[View, ...] = (
    (ChatMessage("user", (ChatPart("text", "Where is the goal?"), ChatPart("image"))),),
    (ChatMessage("system", (ChatPart("text", "You plan moves."),)),
     ChatMessage("user", (ChatPart("text", "Grid:\nS.G"),))),
)


def check_chat_template(tokenizer) -> str:
    """Whether the checkpoint's own chat template renders mgsd's views as the codec does."""
    if not getattr(tokenizer, "chat_template", None):
        return "absent"
    for view in PROBE_VIEWS:
        theirs = tokenizer.apply_chat_template(view_as_template_messages(view), tokenize=False,
                                               add_generation_prompt=True)
        ours = render_view(view, image_tokens=1)
        if theirs != ours:
            log.warning("the checkpoint's chat template renders %r; mgsd's Qwen3-VL Instruct codec renders %r. "
                        "mgsd uses its codec.", theirs, ours)
            return "differs"
    return "match"
