"""The Qwen3-VL codec on a tiny random model: the chat template, image patches, image tokens.

Checks the codec against transformers' own image processor and the checkpoint's chat template, and
that the image reaches the student view and never the text-only teacher view.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from mgsd_backend.models.base import ChatMessage, ChatPart
from mgsd_backend.models.qwen3_vl_codec import (
    ImageSettings,
    patchify,
    render_view,
    smart_resize,
    view_as_template_messages,
)
from qwen_fixtures import random_images, student_view, teacher_view

# ---- config and codec ---------------------------------------------------------------------------


def test_mrope_section_is_what_the_tiny_config_intends(frozen):
    rotary = frozen._core.model.language_model.rotary_emb
    assert list(rotary.mrope_section) == [4, 2, 2]
    assert sum(rotary.mrope_section) == frozen._core.config.text_config.head_dim // 2


def test_describe_reports_a_frozen_model(frozen):
    facts = frozen.describe()
    assert facts["kind"] == "hf" and facts["trainable_params"] == 0 and facts["params"] > 100_000
    assert facts["vocab"] == facts["tokenizer_size"] == 512
    assert facts["chat_template"] == "match" and facts["dtype"] == "float32"


def test_patchify_matches_the_qwen2_vl_image_processor():
    # transformers and pillow are pinned requirements: a failed import here is a real failure.
    from transformers import Qwen2VLImageProcessorPil

    settings = ImageSettings(min_pixels=65536)
    processor = Qwen2VLImageProcessorPil(
        patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
        size={"shortest_edge": 65536, "longest_edge": 16777216},
    )
    rng = np.random.default_rng(1)
    for shape in [(256, 256, 3), (256, 320, 3), (100, 130, 3)]:  # the last one is resized
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        theirs = processor(images=[image], return_tensors="np")
        ours, grid = patchify(image, settings)
        assert list(theirs["image_grid_thw"][0]) == list(grid)
        np.testing.assert_allclose(ours, theirs["pixel_values"], atol=1e-6)


def test_smart_resize_keeps_multiples_of_32_untouched_and_fixes_others():
    assert smart_resize(256, 256, 32, 65536, 16777216) == (256, 256)
    assert smart_resize(64, 64, 32, 65536, 16777216) == (256, 256)  # upscaled to min_pixels
    assert smart_resize(100, 130, 32, 1024, 16777216) == (96, 128)
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(1, 300, 32, 1024, 16777216)


def test_codec_renders_exactly_what_the_checkpoint_template_renders(frozen):
    tokenizer = frozen._tokenizer
    for view in (student_view(), teacher_view()):
        theirs = tokenizer.apply_chat_template(view_as_template_messages(view), tokenize=False,
                                               add_generation_prompt=True)
        assert render_view(view, image_tokens=1) == theirs
    assert render_view(teacher_view(), 0).startswith("<|im_start|>system\nYou are a planner.<|im_end|>\n")
    assert render_view(student_view("Go. "), 2) == (
        "<|im_start|>user\nGo. <|vision_start|><|image_pad|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_student_view_carries_image_tokens_and_teacher_view_none(frozen):
    image_id = frozen._core.config.image_token_id
    student = frozen.encode_prompts([student_view(), student_view("Longer instruction here. ")], random_images(2, 0))
    ids, mask, types = (student.inputs[k] for k in ("input_ids", "attention_mask", "mm_token_type_ids"))
    assert student.has_images and (ids == image_id).sum(1).tolist() == [4, 4]
    assert torch.equal(types.bool(), ids == image_id)
    assert mask[0, 0] == 0 and mask[:, -1].all()  # left padding: row 0 is the shorter prompt
    assert student.inputs["pixel_values"].shape == (2 * 16, 3 * 2 * 16 * 16)
    assert student.inputs["image_grid_thw"].tolist() == [[1, 4, 4], [1, 4, 4]]
    teacher = frozen.encode_prompts([teacher_view()], None)
    assert not teacher.has_images and "pixel_values" not in teacher.inputs
    assert not (teacher.inputs["input_ids"] == image_id).any()


def test_codec_rejects_views_and_images_that_disagree(frozen):
    with pytest.raises(ValueError, match="sample 0: the view has an image part but the request sent no images"):
        frozen.encode_prompts([student_view()], None)
    with pytest.raises(ValueError, match="sample 0: images row 0 was sent but the view has no image part"):
        frozen.encode_prompts([teacher_view()], random_images(1, 0))
    two = (ChatMessage("user", (ChatPart("image"), ChatPart("image"))),)
    with pytest.raises(ValueError, match="at most one image part"):
        frozen.encode_prompts([two], random_images(1, 0))
    sneaky = (ChatMessage("user", (ChatPart("text", "<|image_pad|>"), ChatPart("image"))),)
    with pytest.raises(ValueError, match="prompt text must not contain Qwen special tokens"):
        frozen.encode_prompts([sneaky], random_images(1, 0))


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None,
                    reason="transformers' full Qwen3-VL processor needs torchvision for its video part; "
                           "`.venv/bin/pip install torchvision` (matching torch) to run this comparison")
def test_codec_matches_the_full_processor(tiny_dir, frozen):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(tiny_dir), local_files_only=True)
    messages = [{"role": "user", "content": [{"type": "text", "text": "Find the goal. "},
                                             {"type": "image", "image": random_images(1, 3)[0].numpy()}]}]
    theirs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    ours = frozen.encode_prompts([student_view()], random_images(1, 3)).inputs
    assert torch.equal(theirs["input_ids"], ours["input_ids"])
    torch.testing.assert_close(theirs["pixel_values"].float(), ours["pixel_values"])
