"""DCP checkpoints: saved at 2 FSDP2 ranks, resumed at 1 and at 2 ranks to the same next step;
a tampered `.metadata` (a pickle) is refused before DCP reads it; the hub export loads in transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dist_helpers import run_ranks
from mgsd_backend.chat_views import parse_views
from mgsd_backend.errors import ModelLoadError
from mgsd_backend.sharding import fsdp
from mgsd_backend.worker import Worker
from qwen_fixtures import random_images, spec

VIEWS = [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}] for i in range(2)]
# Every rank sends the same rows with its local token-mean and FSDP2 sums the gradients, so a
# 2-rank gradient is twice the 1-rank one; a tiny clip (always active) makes the updates equal.
STEP = {"role": "student", "views": VIEWS, "targets": ["LDRU", "RRDD go"], "append_eos": True, "lr": 1e-2,
        "grad_clip": 1e-3}
OPTIMIZER = {"betas": [0.9, 0.999], "weight_decay": 0.0, "eps": 1e-8}


def load_args(tiny_dir: str, checkpoint: str | None) -> dict:
    return {"role": "student", "model": spec(Path(tiny_dir)), "checkpoint": checkpoint, "trainable": True,
            "optimizer": OPTIMIZER, "device": "cpu", "dtype": "float32", "seed": 0, "restore_optimizer": True}


def weights(worker: Worker) -> dict:
    module = worker.roles["student"].model.module()
    state = fsdp.full_state_dict(module) if fsdp.is_distributed() else module.state_dict()
    return {k: v.detach().clone() for k, v in state.items()}


def train_save_train(rank: int, world: int, tiny_dir: str, ckpt: str) -> dict:
    worker = Worker(threads=1)
    worker.load(load_args(tiny_dir, None), {})
    images = {"images": random_images(2, 4)}
    worker.sft_step(STEP, images)
    saved, _ = worker.save({"role": "student", "dir": ckpt, "include_optimizer": True}, {})
    after, _ = worker.sft_step(STEP, images)
    return {"saved": saved, "loss": after["loss"], "weights": weights(worker)}


def resume_and_step(rank: int, world: int, tiny_dir: str, ckpt: str) -> dict:
    worker = Worker(threads=1)
    loaded, _ = worker.load(load_args(tiny_dir, ckpt), {})
    after, _ = worker.sft_step(STEP, {"images": random_images(2, 4)})
    return {"loaded": loaded, "loss": after["loss"], "weights": weights(worker)}


def test_dcp_saved_at_two_ranks_resumes_at_one_and_two_ranks_to_the_same_next_step(tiny_dir, tmp_path):
    ckpt = str(tmp_path / "step-000001")
    origin = run_ranks(train_save_train, 2, str(tiny_dir), ckpt)[0]
    assert origin["saved"]["layout"] == "dcp" and len(origin["saved"]["metadata_sha256"]) == 64
    manifest = json.loads((Path(ckpt) / "mgsd-checkpoint.json").read_text())
    assert (manifest["layout"], manifest["world_size"], manifest["step"]) == ("dcp", 2, 1)
    assert not list(tmp_path.glob(".*tmp*"))  # renamed into place, nothing left behind
    alone = resume_and_step(0, 1, str(tiny_dir), ckpt)
    pair = run_ranks(resume_and_step, 2, str(tiny_dir), ckpt)[0]
    for resumed in (alone, pair):
        assert resumed["loaded"]["optimizer_restored"] and resumed["loaded"]["step"] == 1
        assert abs(resumed["loss"] - origin["loss"]) < 1e-5, (resumed["loss"], origin["loss"])
        assert set(resumed["weights"]) == set(origin["weights"])
        for key, value in origin["weights"].items():
            torch.testing.assert_close(torch.as_tensor(resumed["weights"][key]), torch.as_tensor(value),
                                       atol=1e-5, rtol=1e-4, msg=key)


def test_a_dcp_checkpoint_whose_pickled_metadata_changed_is_refused_before_loading(tiny_dir, tmp_path):
    worker = Worker(threads=1)
    worker.load(load_args(str(tiny_dir), None), {})
    ckpt = tmp_path / "c"
    worker.save({"role": "student", "dir": str(ckpt), "include_optimizer": True, "layout": "dcp"}, {})
    metadata = ckpt / "dcp" / ".metadata"
    metadata.write_bytes(metadata.read_bytes() + b"\x00")
    with pytest.raises(ModelLoadError, match="sha256 .* it was changed after this run wrote it"):
        Worker(threads=1).load(load_args(str(tiny_dir), str(ckpt)), {})


def test_the_hub_export_loads_in_transformers_and_scores_like_the_worker(tiny_dir, tmp_path):
    from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration

    worker = Worker(threads=1)
    worker.load(load_args(str(tiny_dir), None), {})
    worker.sft_step(STEP, {"images": random_images(2, 4)})
    out = tmp_path / "export"
    saved, _ = worker.save({"role": "student", "dir": str(out), "include_optimizer": False, "layout": "hub"}, {})
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"} <= set(saved["files"])
    model = Qwen3VLForConditionalGeneration.from_pretrained(str(out), dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    ids = torch.tensor([tokenizer.encode("Plan the route: LDRU")])
    with torch.no_grad():
        theirs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1).gather(1, ids[0, 1:, None])[:, 0]
    text_view = [[{"role": "user", "content": [{"type": "text", "text": "x"}]}]]
    policy = worker.roles["student"].model
    prompts = policy.encode_prompts(parse_views(text_view, "views"), None)
    prompts.inputs["input_ids"] = ids[:, :1]  # prompt = the first id, response = the rest
    prompts.inputs["attention_mask"] = torch.ones_like(ids[:, :1])
    prompts.inputs["mm_token_type_ids"] = torch.zeros_like(ids[:, :1])
    ours = policy.token_logprobs(prompts, ids[:, 1:], torch.ones_like(ids[:, 1:], dtype=torch.bool), 1.0)[0]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_a_lora_dcp_checkpoint_resumes_its_stage_and_feeds_the_next_stage_merged(tiny_dir, tmp_path):
    lora = {"rank": 4, "alpha": 8.0, "dropout": 0.0}
    with_lora = {**load_args(str(tiny_dir), None), "model": {**spec(Path(tiny_dir)), "lora": lora}}
    worker = Worker(threads=1)
    worker.load(with_lora, {})
    worker.sft_step(STEP, {"images": random_images(2, 4)})
    ckpt = str(tmp_path / "sft")
    worker.save({"role": "student", "dir": ckpt, "include_optimizer": True, "layout": "dcp"}, {})
    score = {"role": "student", "views": VIEWS, "temperature": 1.0, "mode": "token"}
    ids = torch.tensor([[5, 6, 7], [8, 9, 10]])
    batch = {"images": random_images(2, 4), "response_ids": ids, "response_mask": torch.ones_like(ids, dtype=torch.bool)}
    expected = worker.score(score, batch)[1]["logprobs"]
    resumed = Worker(threads=1)
    loaded, _ = resumed.load({**with_lora, "checkpoint": ckpt}, {})
    assert loaded["optimizer_restored"]
    torch.testing.assert_close(resumed.score(score, batch)[1]["logprobs"], expected, atol=1e-5, rtol=0)
    next_stage = Worker(threads=1)
    loaded, _ = next_stage.load({**load_args(str(tiny_dir), ckpt), "restore_optimizer": False}, {})
    assert not loaded["optimizer_restored"] and loaded["describe"]["lora"] is None
    torch.testing.assert_close(next_stage.score(score, batch)[1]["logprobs"], expected, atol=1e-5, rtol=0)


def export_at(rank: int, world: int, tiny_dir: str, out: str) -> list:
    worker = Worker(threads=1)
    worker.load(load_args(tiny_dir, None), {})
    worker.sft_step(STEP, {"images": random_images(2, 4)})
    saved, _ = worker.save({"role": "student", "dir": out, "include_optimizer": False, "layout": "hub"}, {})
    return saved["files"]


def test_a_sharded_model_exports_from_two_ranks_what_one_process_exports(tiny_dir, tmp_path):
    from safetensors.torch import load_file

    files = run_ranks(export_at, 2, str(tiny_dir), str(tmp_path / "two"))
    assert "model.safetensors" in files[0] and files[1] == []  # rank 0 writes, rank 1 only gathers
    export_at(0, 1, str(tiny_dir), str(tmp_path / "one"))
    two, one = load_file(tmp_path / "two" / "model.safetensors"), load_file(tmp_path / "one" / "model.safetensors")
    assert set(two) == set(one)
    for key, value in one.items():
        torch.testing.assert_close(two[key], value, atol=2e-5, rtol=1e-4, msg=key)
