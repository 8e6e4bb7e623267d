"""A random Qwen3-VL built entirely offline: config, weights, tokenizer, chat template, image config.

Tests, `mgsd doctor` and the GPU benchmark need a real `Qwen3VLForConditionalGeneration` without
downloading anything. This module makes one from a config alone and, for `write_random_qwen3_vl`,
saves it as a directory laid out like a hub checkpoint (config.json, model.safetensors,
tokenizer.json + tokenizer_config.json + chat_template.jinja, preprocessor_config.json,
video_preprocessor_config.json, generation_config.json), so the production loading path in
`qwen3_vl.py` is what gets tested.

Shapes:
- `tiny`: ≈0.25 M parameters, milliseconds per step on CPU (text 64 wide, 2 layers, head_dim 16,
  mrope [4, 2, 2]; vision depth 2, 32 wide). Vocabulary 512.
- `2b` / `4b`: the released Qwen3-VL-2B/4B-Instruct shapes (text 28×2048 / 36×2560, vision
  24×1024, vocabulary 151936), for timing and memory only: the weights are random.

The tokenizer is a byte-level BPE (lossless for any UTF-8 text, like Qwen's) whose vocabulary is
filled with deterministic merges of printable-ASCII pairs and triples until it has exactly
`vocab_size - 8` regular tokens; the 8 Qwen special tokens take the last ids. So
`len(tokenizer) == text_config.vocab_size`, and the model's special-token ids come from the
tokenizer, never from Qwen's real numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

# The special tokens mgsd's codec needs, in Qwen's order. Pad = <|endoftext|>, EOS = <|im_end|>.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen3-VL Instruct's chat template for the message shapes mgsd sends (string content or a list
# of text/image parts; no default system prompt; generation prompt on request). Our own Jinja.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


@dataclass(frozen=True)
class Shape:
    """Sizes of one random Qwen3-VL (text decoder + vision tower)."""

    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    mrope_section: tuple[int, int, int]
    max_positions: int
    vision_depth: int
    vision_hidden: int
    vision_heads: int
    vision_ffn: int
    vision_positions: int
    deepstack: tuple[int, ...]
    min_pixels: int  # smallest image the checkpoint's image processor accepts without upscaling


SHAPES: dict[str, Shape] = {
    "tiny": Shape(512, 64, 2, 4, 2, 16, 128, (4, 2, 2), 4096, 2, 32, 4, 64, 16, (0, 1), 32 * 32),
    "2b": Shape(151936, 2048, 28, 16, 8, 128, 6144, (24, 20, 20), 262144, 24, 1024, 16, 4096, 2304, (5, 11, 17), 65536),
    "4b": Shape(151936, 2560, 36, 32, 8, 128, 9728, (24, 20, 20), 262144, 24, 1024, 16, 4096, 2304, (5, 11, 17), 65536),
}


def _shape(name: str) -> Shape:
    if name not in SHAPES:
        raise ValueError(f"unknown random Qwen3-VL shape {name!r}; expected one of {sorted(SHAPES)}")
    return SHAPES[name]


def _merge_candidates(alphabet: dict[int, str]) -> list[tuple[str, str]]:
    """Deterministic merges: printable-ASCII pairs first (letters and space leading), then triples."""
    order = " etaoinsrhldcumfpgwybvkxjqzETAOINSRHLDCUMFPGWYBVKXJQZ0123456789"
    order += "".join(chr(b) for b in range(32, 127) if chr(b) not in order)
    symbols = [alphabet[ord(ch)] for ch in order]
    pairs = [(a, b) for a in symbols for b in symbols]
    triples = [(a + b, c) for a, b in pairs for c in symbols]
    return pairs + triples


def build_tokenizer(vocab_size: int):
    """A byte-level BPE tokenizer with exactly `vocab_size` tokens, the Qwen specials last."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    bytes_to_chars = _byte_level_alphabet()
    regular = vocab_size - len(SPECIAL_TOKENS)
    if regular < 256:
        raise ValueError(f"vocab_size={vocab_size} leaves no room for 256 byte tokens + 8 specials")
    vocab = {bytes_to_chars[b]: b for b in range(256)}
    merges: list[tuple[str, str]] = []
    for left, right in _merge_candidates(bytes_to_chars):
        if len(vocab) >= regular:
            break
        vocab[left + right] = len(vocab)
        merges.append((left, right))
    if len(vocab) != regular:
        raise ValueError(f"vocab_size={vocab_size} is larger than this builder can fill")
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        clean_up_tokenization_spaces=False,
        model_max_length=1 << 20,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    assert len(tokenizer) == vocab_size, f"tokenizer has {len(tokenizer)} tokens, wanted {vocab_size}"
    return tokenizer


def _byte_level_alphabet() -> dict[int, str]:
    """GPT-2's reversible byte → printable-character map (the ByteLevel pre-tokenizer's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def build_config(shape_name: str, tokenizer):
    """The `Qwen3VLConfig` of a shape, with special-token ids taken from `tokenizer`."""
    from transformers import Qwen3VLConfig

    s = _shape(shape_name)
    assert sum(s.mrope_section) == s.head_dim // 2, f"mrope_section {s.mrope_section} must sum to head_dim/2"
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = dict(
        vocab_size=s.vocab_size, hidden_size=s.hidden, intermediate_size=s.ffn, num_hidden_layers=s.layers,
        num_attention_heads=s.heads, num_key_value_heads=s.kv_heads, head_dim=s.head_dim,
        max_position_embeddings=s.max_positions, rms_norm_eps=1e-6, tie_word_embeddings=True,
        # Legacy rope kwargs: both 4.57 and 5.x read them (5.x converts them to rope_parameters).
        rope_theta=5_000_000.0,
        rope_scaling={"rope_type": "default", "mrope_section": list(s.mrope_section), "mrope_interleaved": True},
        pad_token_id=ids["<|endoftext|>"], bos_token_id=None, eos_token_id=ids["<|im_end|>"],
    )
    vision = dict(
        depth=s.vision_depth, hidden_size=s.vision_hidden, num_heads=s.vision_heads, intermediate_size=s.vision_ffn,
        out_hidden_size=s.hidden, patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
        num_position_embeddings=s.vision_positions, deepstack_visual_indexes=list(s.deepstack),
    )
    return Qwen3VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )


def build_random_qwen3_vl(shape_name: str = "tiny", *, seed: int = 0, device: str = "cpu",
                          dtype: torch.dtype = torch.float32):
    """Random model + tokenizer in memory (no files). Returns (model, tokenizer)."""
    from transformers import Qwen3VLForConditionalGeneration

    tokenizer = build_tokenizer(_shape(shape_name).vocab_size)
    config = build_config(shape_name, tokenizer)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    return model.eval(), tokenizer


def preprocessor_config(shape_name: str) -> dict:
    """The image-processor settings of a Qwen3-VL checkpoint (Qwen2-VL's processor, patch 16)."""
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "do_resize": True, "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "do_convert_rgb": True, "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
        "size": {"shortest_edge": _shape(shape_name).min_pixels, "longest_edge": 16777216},
    }


def video_preprocessor_config(shape_name: str) -> dict:
    """The video-processor settings a Qwen3-VL checkpoint ships (mgsd sends no video)."""
    image = preprocessor_config(shape_name)
    keys = ("do_resize", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std",
            "do_convert_rgb", "patch_size", "temporal_patch_size", "merge_size", "size")
    return {"video_processor_type": "Qwen3VLVideoProcessor", **{k: image[k] for k in keys}}


def write_side_files(directory: Path, tokenizer, shape_name: str) -> None:
    """Writes the tokenizer, chat template and image/video-processor configs a checkpoint needs."""
    tokenizer.save_pretrained(str(directory))
    (directory / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(shape_name), indent=2))
    (directory / "video_preprocessor_config.json").write_text(
        json.dumps(video_preprocessor_config(shape_name), indent=2))


def write_random_qwen3_vl(directory: str | Path, *, shape: str = "tiny", seed: int = 0) -> Path:
    """Builds a random Qwen3-VL of `shape` (float32, CPU) and saves it like a hub checkpoint."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = build_random_qwen3_vl(shape, seed=seed)
    model.save_pretrained(str(out))
    write_side_files(out, tokenizer, shape)
    return out


def main(argv: list[str] | None = None) -> None:
    """`python -m mgsd_backend.models.tiny_qwen3_vl DIR [--shape tiny] [--seed 0]`: writes a random
    Qwen3-VL checkpoint directory (e.g. for `model.kind: hf` runs and `mgsd doctor` without weights)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mgsd_backend.models.tiny_qwen3_vl", description=main.__doc__)
    parser.add_argument("directory", help="where to write the checkpoint (created if missing)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny", help="model sizes (2b/4b: large files)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    print(write_random_qwen3_vl(args.directory, shape=args.shape, seed=args.seed))


if __name__ == "__main__":
    main()
