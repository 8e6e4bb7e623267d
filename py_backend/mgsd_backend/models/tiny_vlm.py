"""The `tiny` model kind: a small real VLM (character tokenizer, patch-conv image stem, GPT decoder).

`TinyVLM` implements `PolicyModel` (base.py) over `TinyVLMNet` (tiny_net.py) and the chat template
of tiny_tokenizer.py. Defaults (d 128, 4 layers, 4 heads, 40 px images in 8 px patches → 25 visual
tokens) give ≈0.87 M parameters: the size `reference/tiny-model-feasibility.md` calibrated for a
few minutes of CPU training.

`EncodedPrompts.inputs` holds `ids_BP` (left-padded, IMAGE placeholders where visual tokens go),
`mask_BP`, `visual_BP` and `images_BCHW` (uint8, or None for text-only views).

Invariants: `has_images` is True exactly when the views carry an image part (all of them then:
image row i belongs to view i, and an unused row is an error); every sequence, padding excluded,
fits `max_seq_len` or the call raises ValueError saying which sample and by how much.

On disk (`save`): `config.json` (`{"kind": "tiny", "format": 1, "config": {...}}`) and
`model.safetensors` (the state dict; the tied head stores nothing of its own).

Dimension letters: B batch, P prompt, R response, T total, D width, V vocabulary, N rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from . import tiny_tokenizer as tok
from .base import EncodedPrompts, Generation, PolicyModel, SamplingParams, View
from .sampling import RowUniforms, select_next
from .tiny_net import LayerCache, TinyVLMConfig, TinyVLMNet, causal_mask, positions_from_mask

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


class TinyVLM(PolicyModel):
    """The tiny VLM behind the `PolicyModel` interface."""

    kind = "tiny"

    def __init__(self, net: TinyVLMNet, trainable: bool) -> None:
        self.net = net
        self.config = net.config
        self.is_trainable = trainable
        net.requires_grad_(trainable)
        net.train(False)

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def build(cls, config: dict, *, device: str, dtype: str, seed: int, trainable: bool) -> TinyVLM:
        """A freshly initialised model. Init runs on CPU in float32 under `seed`, so the same seed
        gives the same weights on every device."""
        parsed = TinyVLMConfig.from_dict(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = TinyVLMNet(parsed)
        return cls(net.to(device=torch.device(device), dtype=_torch_dtype(dtype)), trainable)

    @classmethod
    def load(cls, directory: str | Path, *, device: str, dtype: str, trainable: bool) -> TinyVLM:
        """A model written by `save`. Raises ValueError when the directory is not one."""
        directory = Path(directory)
        meta = read_saved_config(directory)
        net = TinyVLMNet(TinyVLMConfig.from_dict(meta["config"]))
        state = load_file(str(directory / WEIGHTS_FILE))
        net.load_state_dict(state, strict=True)
        return cls(net.to(device=torch.device(device), dtype=_torch_dtype(dtype)), trainable)

    # ---- tokenizer side ---------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return tok.VOCAB_SIZE

    @property
    def eos_id(self) -> int:
        return tok.EOS_ID

    @property
    def pad_id(self) -> int:
        return tok.PAD_ID

    @property
    def device(self) -> torch.device:
        return self.net.tok_emb.weight.device

    def encode_prompts(self, views: list[View], images_BHWC: torch.Tensor | None) -> EncodedPrompts:
        _check_images(images_BHWC, len(views), self.config.image_size_px)
        rows: list[list[int]] = []
        for sample, view in enumerate(views):
            ids, has_image = tok.render_view(view, self.config.n_visual, sample)
            if has_image and images_BHWC is None:
                raise ValueError(f"sample {sample}: the view has an image part but the request has no images")
            if not has_image and images_BHWC is not None:
                raise ValueError(f"sample {sample}: images row {sample} is not used (its view has no image part)")
            _check_length(len(ids), self.config.max_seq_len, f"sample {sample}: prompt")
            rows.append(ids)
        ids_BP, mask_BP = _left_pad(rows, self.device)
        images_BCHW = None if images_BHWC is None else images_BHWC.to(self.device).permute(0, 3, 1, 2)
        inputs = {"ids_BP": ids_BP, "mask_BP": mask_BP, "visual_BP": ids_BP == tok.IMAGE_ID,
                  "images_BCHW": images_BCHW}
        return EncodedPrompts(batch_size=len(views), has_images=images_BCHW is not None, inputs=inputs)

    def encode_targets(self, texts: list[str], append_eos: bool) -> tuple[torch.Tensor, torch.Tensor]:
        rows = []
        for sample, text in enumerate(texts):
            ids = tok.encode_text(text, f"sample {sample}: target")
            rows.append(ids + [tok.EOS_ID] if append_eos else ids)
        width = max((len(r) for r in rows), default=0)
        ids_BR = torch.full((len(rows), width), tok.PAD_ID, dtype=torch.long)
        mask_BR = torch.zeros((len(rows), width), dtype=torch.bool)
        for b, row in enumerate(rows):
            ids_BR[b, :len(row)] = torch.tensor(row, dtype=torch.long)
            mask_BR[b, :len(row)] = True
        return ids_BR.to(self.device), mask_BR.to(self.device)

    def decode(self, ids: list[int]) -> str:
        return tok.decode(ids)

    # ---- compute ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompts: EncodedPrompts, params: SamplingParams, *,
                 ignore_eos: bool = False) -> Generation:
        """KV-cache sampling. `ignore_eos` (benchmarks only, like vLLM's) keeps every row going for
        `max_new_tokens` tokens."""
        mask_BP = prompts.inputs["mask_BP"]
        B, P = mask_BP.shape
        lengths_B = mask_BP.sum(-1)
        _check_length(int(lengths_B.max()) + params.max_new_tokens, self.config.max_seq_len,
                      f"prompt + max_new_tokens={params.max_new_tokens}")
        caches = self._new_caches(B, P + params.max_new_tokens)
        # Additive key mask of the whole run: -inf on prompt padding and on not-yet-written slots.
        key_bias_BK = torch.full((B, P + params.max_new_tokens), float("-inf"), device=self.device,
                                 dtype=self.net.tok_emb.weight.dtype)
        key_bias_BK[:, :P].masked_fill_(mask_BP, 0.0)
        logits_BV = self._prefill(prompts, caches)
        uniforms = RowUniforms(params.seed, params.row_offset, B) if params.temperature > 0 else None
        tokens, logprobs, alive = [], [], []
        alive_B = torch.ones(B, dtype=torch.bool, device=self.device)
        for step in range(params.max_new_tokens):
            token_B, logprob_B = select_next(logits_BV, params.temperature, params.top_p, uniforms)
            tokens.append(token_B)
            logprobs.append(logprob_B)
            alive.append(alive_B)
            if not ignore_eos:
                alive_B = alive_B & (token_B != tok.EOS_ID)
                if not bool(alive_B.any()):
                    break
            if step + 1 == params.max_new_tokens:
                break
            key_bias_BK[:, P + step] = 0.0
            x_B1D = self.net.tok_emb(token_B)[:, None] + self.net.pos_emb(lengths_B + step)[:, None]
            # One query at the newest slot: causality is implied, only the key mask matters.
            mask_B11K = key_bias_BK[:, None, None, :P + step + 1]
            logits_BV = self.net.head(self.net.blocks_forward(x_B1D, mask_B11K, caches, P + step)[:, 0])
        return self._finish(tokens, logprobs, alive, B)

    def _prefill(self, prompts: EncodedPrompts, caches: list[LayerCache]) -> torch.Tensor:
        """Runs the prompts into the caches → next-token logits [B, V] (left padding: the last column
        is every row's last real token)."""
        inputs = prompts.inputs
        mask_BP = inputs["mask_BP"]
        x_BPD = self.net.embed(inputs["ids_BP"], positions_from_mask(mask_BP), inputs["visual_BP"],
                               inputs["images_BCHW"])
        mask_B1PP = causal_mask(mask_BP, mask_BP.shape[1], x_BPD.dtype)
        width = mask_BP.shape[1]  # only the last column's output is read (the cache gets every column)
        return self.net.head(self.net.blocks_forward(x_BPD, mask_B1PP, caches, 0, slice(width - 1, width))[:, -1])

    def _finish(self, tokens: list[torch.Tensor], logprobs: list[torch.Tensor],
                alive: list[torch.Tensor], batch: int) -> Generation:
        if not tokens:
            empty = torch.zeros((batch, 0), device=self.device)
            return Generation(empty.long(), empty.bool(), empty.float(), empty.int(), [""] * batch)
        mask_BR = torch.stack(alive, dim=1)
        ids_BR = torch.stack(tokens, dim=1).masked_fill(~mask_BR, tok.PAD_ID)
        logprobs_BR = torch.stack(logprobs, dim=1).masked_fill(~mask_BR, 0.0)
        is_text_BR = (ids_BR >= tok.NEWLINE_ID) & mask_BR
        char_end_BR = is_text_BR.int().cumsum(dim=1).masked_fill(~mask_BR, 0).int()
        texts = [self.decode(row[m].tolist()) for row, m in zip(ids_BR.cpu(), mask_BR.cpu())]
        return Generation(ids_BR, mask_BR, logprobs_BR.float(), char_end_BR, texts)

    def response_hidden(self, prompts: EncodedPrompts, response_ids_BR: torch.Tensor,
                        response_mask_BR: torch.Tensor) -> torch.Tensor:
        inputs = prompts.inputs
        P, R = inputs["mask_BP"].shape[1], response_ids_BR.shape[1]
        if R and (int(response_ids_BR.min()) < 0 or int(response_ids_BR.max()) >= tok.VOCAB_SIZE):
            raise ValueError(f"response_ids: ids must lie in [0, {tok.VOCAB_SIZE}) for the tiny model")
        # The last response token predicts nothing we score, so it is not fed.
        ids_BT = torch.cat([inputs["ids_BP"], response_ids_BR[:, :-1].to(self.device)], dim=1)
        mask_BT = torch.cat([inputs["mask_BP"], response_mask_BR[:, :-1].to(self.device)], dim=1)
        _check_length(int(mask_BT.sum(-1).max()), self.config.max_seq_len, "prompt + response")
        visual_BT = torch.cat([inputs["visual_BP"], torch.zeros_like(mask_BT[:, P:])], dim=1)
        x_BTD = self.net.embed(ids_BT, positions_from_mask(mask_BT), visual_BT, inputs["images_BCHW"])
        # Only the R columns that predict response tokens are read: the last block computes just those.
        return self.net.blocks_forward(x_BTD, causal_mask(mask_BT, ids_BT.shape[1], x_BTD.dtype),
                                       keep=slice(P - 1, P - 1 + R))

    def logits(self, hidden_ND: torch.Tensor) -> torch.Tensor:
        return self.net.head(hidden_ND)

    def _new_caches(self, batch: int, max_len: int) -> list[LayerCache]:
        c = self.config
        like = self.net.tok_emb.weight
        return [LayerCache(batch, c.n_heads, max_len, c.d_model // c.n_heads, like) for _ in range(c.n_layers)]

    # ---- training state ---------------------------------------------------------------------
    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.net.parameters() if p.requires_grad]

    def named_trainable_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        """(name, parameter) pairs, in `trainable_parameters` order."""
        return [(n, p) for n, p in self.net.named_parameters() if p.requires_grad]

    def named_weights(self):
        return self.net.named_parameters()

    def train(self, mode: bool = True) -> None:
        self.net.train(mode)

    def save(self, directory: str) -> None:
        path = Path(directory)
        meta = {"kind": self.kind, "format": FORMAT_VERSION, "config": self.config.to_dict()}
        (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        state = {k: v.detach().contiguous().cpu() for k, v in self.net.state_dict().items()}
        save_file(state, str(path / WEIGHTS_FILE))

    def module(self) -> torch.nn.Module:
        return self.net

    def describe(self) -> dict[str, Any]:
        weight = self.net.tok_emb.weight
        return {
            "kind": self.kind,
            "params": sum(p.numel() for p in self.net.parameters()),
            "trainable_params": sum(p.numel() for p in self.trainable_parameters()),
            "vocab": tok.VOCAB_SIZE,
            "device": str(weight.device),
            "dtype": str(weight.dtype).removeprefix("torch."),
            "config": self.config.to_dict(),
        }


def read_saved_config(directory: Path) -> dict:
    """The `config.json` of a saved tiny model; ValueError naming the file when it is not one."""
    path = directory / CONFIG_FILE
    if not path.is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise ValueError(f"{directory}: not a saved tiny model (expected {CONFIG_FILE} and {WEIGHTS_FILE})")
    meta = json.loads(path.read_text())
    if meta.get("kind") != "tiny" or meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: expected kind 'tiny' format {FORMAT_VERSION}, got "
                         f"kind {meta.get('kind')!r} format {meta.get('format')!r}")
    return meta


def _torch_dtype(name: str) -> torch.dtype:
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in table:
        raise ValueError(f"dtype {name!r} is not supported by the tiny model; use one of {sorted(table)}")
    return table[name]


def _check_images(images_BHWC: torch.Tensor | None, batch: int, size: int) -> None:
    if images_BHWC is None:
        return
    expected = (batch, size, size, 3)
    if images_BHWC.dtype != torch.uint8 or tuple(images_BHWC.shape) != expected:
        raise ValueError(
            f"images: expected uint8 {list(expected)} (one {size}x{size} RGB image per view), got "
            f"{str(images_BHWC.dtype).removeprefix('torch.')} {list(images_BHWC.shape)}. Render images at "
            f"the model's image_size_px ({size})."
        )


def _check_length(length: int, limit: int, what: str) -> None:
    if length > limit:
        raise ValueError(f"{what}: {length} tokens exceed the tiny model's max_seq_len {limit}. Shorten "
                         "the prompt/response or raise model.tiny.maxSeqLen.")


def _left_pad(rows: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max((len(r) for r in rows), default=0)
    ids_BP = torch.full((len(rows), width), tok.PAD_ID, dtype=torch.long)
    mask_BP = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, row in enumerate(rows):
        ids_BP[b, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask_BP[b, width - len(row):] = True
    return ids_BP.to(device), mask_BP.to(device)
