"""Qwen3-VL's vision patch embedding as one matrix product instead of a strided 3-D convolution.

The stock `Qwen3VLVisionPatchEmbed` reshapes each flattened patch row (C·T·P·P values, the layout
mgsd's codec and the HF processor both produce) into a [C, T, P, P] block and applies a Conv3d
whose kernel equals its stride and the block: one output per block, i.e. a linear map of the
flattened row by the kernel flattened in the same [C, T, P, P] order. On CPU the convolution
path (im2col-free but generic) was measured at about 2x the forward and 3x the forward+backward
time of the same product done by `linear`; the result is the same function (float summation
order aside).

Invariant: installed only on a patch embedding whose convolution is exactly that map (stride =
kernel = the block, no padding, dilation 1, one group); any other layout keeps the stock forward.
"""

from __future__ import annotations

import types

import torch


def use_linear_patch_embed(core) -> bool:
    """Replaces `core`'s vision patch-embedding forward by the equivalent `linear`; returns whether
    it did (False when the convolution is not a plain per-block map, see the module header)."""
    embed = core.model.visual.patch_embed
    conv = embed.proj
    block = (embed.temporal_patch_size, embed.patch_size, embed.patch_size)
    plain = (isinstance(conv, torch.nn.Conv3d) and tuple(conv.kernel_size) == block and tuple(conv.stride) == block
             and tuple(conv.padding) == (0, 0, 0) and tuple(conv.dilation) == (1, 1, 1) and conv.groups == 1
             and conv.in_channels == embed.in_channels)
    if not plain:
        return False
    embed.forward = types.MethodType(_linear_forward, embed)  # bound: a deep copy rebinds to the copy
    return True


def _linear_forward(embed, pixels_NF: torch.Tensor) -> torch.Tensor:
    weight, bias = embed.proj.weight, embed.proj.bias
    width = weight[0].numel()  # C·T·P·P, the flattened block in the kernel's own order
    rows_NF = pixels_NF.reshape(-1, width).to(dtype=weight.dtype)
    return torch.nn.functional.linear(rows_NF, weight.reshape(weight.shape[0], width), bias)
