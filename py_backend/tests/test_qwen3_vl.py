"""The `hf` model kind on a tiny *random* Qwen3-VL built offline into a temporary directory.

Everything goes through the production loading path (`build_hf_model` on a saved directory), on CPU
in float32. Checks (the codec has its own file, test_qwen3_vl_codec.py): seeded and left-padded generation, log-probs against a manual full forward, M-RoPE
consistency between cached decoding and the teacher-forced forward, mgsd's decode loop against
transformers' greedy `generate`, the image reaching the
student and never the teacher, LoRA training, merge-on-save and exact reloads, load errors.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from mgsd_backend.errors import ModelLoadError
from mgsd_backend.models.base import SamplingParams
from mgsd_backend.models.qwen3_vl import build_hf_model
from mgsd_backend.models.qwen3_vl_sampler import (check_sampled_ids, decode_with_char_ends, response_mask,
                                                  texts_and_char_ends)
from mgsd_backend.worker import Worker
from qwen_fixtures import load, random_images, spec, student_view, teacher_view

torch.set_num_threads(1)


# ---- sampling and scoring -----------------------------------------------------------------------


def sample(policy, prompts, seed: int, temperature: float = 1.0, max_new_tokens: int = 12):
    return policy.generate(prompts, SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature,
                                                   top_p=1.0, seed=seed))


def test_generate_is_seeded_and_reproducible(frozen):
    prompts = frozen.encode_prompts([student_view(), student_view("Another, longer prompt. ")], random_images(2, 0))
    first, again, other = sample(frozen, prompts, 7), sample(frozen, prompts, 7), sample(frozen, prompts, 8)
    assert torch.equal(first.response_ids_BR, again.response_ids_BR) and first.texts == again.texts
    assert not torch.equal(first.response_ids_BR, other.response_ids_BR)
    assert first.response_ids_BR.dtype == torch.int64 and first.response_mask_BR.dtype == torch.bool
    assert first.logprobs_BR.dtype == torch.float32 and first.token_char_end_BR.dtype == torch.int32
    assert (first.logprobs_BR[first.response_mask_BR] < 0).all()


def test_left_padded_batch_generates_what_each_prompt_generates_alone(frozen):
    views = [teacher_view("S"), teacher_view("S.H.H.H\n.......\n......G")]
    batch = sample(frozen, frozen.encode_prompts(views, None), 0, temperature=0)
    for i, view in enumerate(views):
        alone = sample(frozen, frozen.encode_prompts([view], None), 0, temperature=0)
        assert torch.equal(alone.response_ids_BR[0], batch.response_ids_BR[i])
        torch.testing.assert_close(alone.logprobs_BR[0], batch.logprobs_BR[i], atol=1e-5, rtol=0)


@pytest.mark.parametrize("with_image", [True, False])
def test_cached_decoding_and_the_teacher_forced_forward_agree(frozen, with_image):
    # generate() picks its own (M-RoPE) positions while decoding with a KV cache; our full forward must
    # reproduce the very logits it sampled from, so both see the same positions.
    from transformers import GenerationConfig

    views = [student_view(), student_view("A longer one. ")] if with_image else [teacher_view("S"), teacher_view()]
    prompts = frozen.encode_prompts(views, random_images(2, 1) if with_image else None)
    inputs = frozen._model_inputs(prompts, prompts.inputs["input_ids"], prompts.inputs["attention_mask"])
    config = GenerationConfig(max_new_tokens=10, do_sample=False, eos_token_id=[], pad_token_id=frozen.pad_id,
                              return_dict_in_generate=True, output_logits=True)
    with torch.no_grad():
        frozen._core.model.rope_deltas = None
        out = frozen._core.generate(**inputs, generation_config=config)
        frozen._core.model.rope_deltas = None
        ids = out.sequences[:, prompts.inputs["input_ids"].shape[1]:]
        decoded = torch.log_softmax(torch.stack(out.logits, 1).float(), -1).gather(2, ids[..., None])[..., 0]
        ours = frozen.token_logprobs(prompts, ids, torch.ones_like(ids, dtype=torch.bool), 1.0)
    torch.testing.assert_close(ours, decoded, atol=1e-4, rtol=0)


def test_scored_logprobs_match_a_manual_full_forward(frozen):
    for with_image in (True, False):
        views = ([student_view(), student_view("Much longer text. ")] if with_image
                 else [teacher_view("S"), teacher_view()])
        prompts = frozen.encode_prompts(views, random_images(2, 2) if with_image else None)
        out = sample(frozen, prompts, 3)
        temperature = 0.7
        with torch.no_grad():
            ours = frozen.token_logprobs(prompts, out.response_ids_BR, out.response_mask_BR, temperature)
            manual = manual_logprobs(frozen, prompts, out.response_ids_BR, out.response_mask_BR, temperature)
        mask = out.response_mask_BR
        torch.testing.assert_close(ours[mask], manual[mask], atol=1e-4, rtol=0)
        assert (ours[~mask] == 0).all()


def manual_logprobs(policy, prompts, ids_BR, mask_BR, temperature):
    """Plain `Qwen3VLForConditionalGeneration.forward` (the model picks every position itself)."""
    inputs = dict(prompts.inputs)
    width_P = inputs["input_ids"].shape[1]
    inputs["input_ids"] = torch.cat([inputs["input_ids"], ids_BR], 1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], mask_BR.long()], 1)
    inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(ids_BR)], 1)
    if not prompts.has_images:
        inputs.pop("mm_token_type_ids")
    policy._core.model.rope_deltas = None
    logits = policy._core(**inputs, use_cache=False).logits[:, width_P - 1: -1].float() / temperature
    policy._core.model.rope_deltas = None
    return torch.log_softmax(logits, -1).gather(2, ids_BR[..., None])[..., 0]


def test_changing_the_image_changes_the_student_logits(frozen):
    views = [student_view()]
    first = frozen.encode_prompts(views, random_images(1, 10))
    out = sample(frozen, first, 0)
    second = frozen.encode_prompts(views, random_images(1, 11))
    with torch.no_grad():
        a = frozen.token_logprobs(first, out.response_ids_BR, out.response_mask_BR, 1.0)
        b = frozen.token_logprobs(second, out.response_ids_BR, out.response_mask_BR, 1.0)
    assert (a - b).abs().max() > 1e-4


def test_generation_ignores_the_checkpoints_sampling_defaults(tiny_dir, tmp_path):
    # A checkpoint whose generation_config says top_k=1 (greedy) must still sample at temperature 1.
    copy = Path(shutil.copytree(tiny_dir, tmp_path / "topk1"))
    (copy / "generation_config.json").write_text(json.dumps({"do_sample": True, "top_k": 1, "temperature": 0.1}))
    policy = load(copy)
    prompts = policy.encode_prompts([teacher_view()], None)
    samples = {tuple(sample(policy, prompts, seed).response_ids_BR[0].tolist()) for seed in range(3)}
    assert len(samples) == 3


def test_sampling_never_emits_vision_placeholders(frozen):
    # Random weights give each of the 5 vision ids ~1/512 of the mass: 512 draws would hit some ~5 times.
    prompts = frozen.encode_prompts([teacher_view(str(i)) for i in range(4)], None)
    out = sample(frozen, prompts, 0, temperature=2.0, max_new_tokens=128)
    assert not torch.isin(out.response_ids_BR, torch.tensor(frozen._vision_ids)).any()


def test_response_mask_ends_at_the_first_stop_token():
    ids = torch.tensor([[5, 9, 7, 9, 9], [5, 6, 7, 8, 4], [9, 1, 1, 1, 1]])
    assert response_mask(ids, [9, 1]).tolist() == [
        [True, True, False, False, False], [True] * 5, [True, False, False, False, False]]


def test_a_sampled_id_past_the_tokenizer_is_a_broken_inference_error():
    ids = torch.tensor([[3, 600, 2]])
    with pytest.raises(RuntimeError, match="sampled token id 600 .*past the tokenizer's 512 tokens"):
        check_sampled_ids(ids, torch.ones_like(ids, dtype=torch.bool), 512, "tiny")
    check_sampled_ids(ids, torch.tensor([[True, False, True]]), 512, "tiny")  # masked-out ids are pads


def test_token_char_end_counts_characters_finished_by_each_token(frozen):
    ids, mask = frozen.encode_targets(["héllo 中文 ok"], append_eos=True)
    texts, ends = texts_and_char_ends(frozen.tokenizer, ids, mask)
    assert texts == ["héllo 中文 ok"]
    ends_list = ends[0, : int(mask.sum())].tolist()
    assert ends_list == sorted(ends_list) and ends_list[-1] == len(texts[0]) == ends_list[-2]  # EOS adds none
    for j, end in enumerate(ends_list):
        assert frozen.decode(ids[0, : j + 1].tolist()).startswith(texts[0][:end])


def prefix_char_ends(decode, ids: list[int]) -> list[int]:
    """The definition, in quadratic time: how much of the final text each prefix already shows."""
    text = decode(ids)
    return [len(os.path.commonprefix([decode(ids[: j + 1]), text])) for j in range(len(ids))]


def test_incremental_char_ends_equal_the_prefix_definition(frozen):
    tokenizer = frozen._tokenizer
    ids = tokenizer("Plan: 中文 é → <answer>R D</answer>", add_special_tokens=False)["input_ids"]
    ids = [tokenizer.convert_tokens_to_ids("<|im_start|>")] + ids + [frozen.eos_id]
    text, ends = decode_with_char_ends(tokenizer, ids)
    assert text == "Plan: 中文 é → <answer>R D</answer>"
    assert ends == prefix_char_ends(frozen.decode, ids)


def test_char_ends_stay_exact_for_a_decoder_with_global_clean_up():
    class MergingTokenizer:  # decode() rewrites "ab" as "X": window pieces no longer add up to the text
        def decode(self, ids, skip_special_tokens=True):
            return "".join(" ab"[i] for i in ids).replace("ab", "X")

        def batch_decode(self, rows, skip_special_tokens=True):
            return [self.decode(r) for r in rows]

    ids = [1, 2, 0, 2, 1, 2]
    text, ends = decode_with_char_ends(MergingTokenizer(), ids)
    assert text == "X bX" and ends == prefix_char_ends(MergingTokenizer().decode, ids)


def test_responses_with_vision_placeholders_are_refused(frozen):
    prompts = frozen.encode_prompts([student_view()], random_images(1, 0))
    ids = torch.tensor([[frozen._core.config.image_token_id, frozen.eos_id]])
    with pytest.raises(ValueError, match="vision placeholder"):
        frozen.response_hidden(prompts, ids, torch.ones_like(ids, dtype=torch.bool))


# ---- training, saving, loading ------------------------------------------------------------------

LORA = {"rank": 4, "alpha": 8, "dropout": 0.0}


def sft_loss(policy, prompts, targets):
    ids, mask = policy.encode_targets(targets, append_eos=True)
    hidden = policy.response_hidden(prompts, ids, mask)
    logits = policy.logits(hidden[mask])
    return torch.nn.functional.cross_entropy(logits, ids[mask])


def test_sft_step_with_lora_trains_only_lora_and_lowers_the_loss(tiny_dir):
    policy = load(tiny_dir, trainable=True, lora=LORA, checkpointing=True)
    names = {n for n, p in policy._core.named_parameters() if p.requires_grad}
    assert names and all(".lora_" in n and "language_model" in n for n in names)
    assert not any("visual" in n for n in names)
    assert policy.describe()["trainable_params"] == sum(p.numel() for p in policy.trainable_parameters())
    before = {n: p.detach().clone() for n, p in policy._core.named_parameters()}
    prompts = policy.encode_prompts([student_view(), student_view("Say the plan. ")], random_images(2, 5))
    targets = ["The goal is at (2, 1). <answer>R D</answer>", "<answer>L</answer>"]
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-2)
    policy.train(True)
    losses = []
    for _ in range(6):
        loss = sft_loss(policy, prompts, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses
    changed = {n for n, p in policy._core.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= names


def test_distill_step_with_a_text_only_teacher_moves_the_student_towards_it(tiny_dir, frozen):
    student = load(tiny_dir, trainable=True, lora=LORA)
    student_prompts = student.encode_prompts([student_view(), student_view("Plan it. ")], random_images(2, 6))
    teacher_prompts = frozen.encode_prompts([teacher_view(), teacher_view("S..\n.HG")], None)
    rollout = sample(student, student_prompts, 11, max_new_tokens=8)
    ids, mask = rollout.response_ids_BR, rollout.response_mask_BR
    with torch.no_grad():
        teacher_lp = frozen.token_logprobs(teacher_prompts, ids, mask, 1.0)
    optimizer = torch.optim.AdamW(student.trainable_parameters(), lr=5e-3)
    student.train(True)
    gaps = []
    for _ in range(4):
        student_lp = student.token_logprobs(student_prompts, ids, mask, 1.0)
        log_ratio = (teacher_lp - student_lp)[mask]
        gaps.append(float((log_ratio.detach() ** 2).mean()))
        loss = -(log_ratio.detach() * student_lp[mask]).mean()  # sampled-token reverse KL as an advantage
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in student.trainable_parameters())
        optimizer.step()
    assert gaps[-1] < gaps[0], gaps


def test_save_merges_lora_and_the_directory_reloads_identically(tiny_dir, tmp_path):
    from safetensors import safe_open

    policy = load(tiny_dir, trainable=True, lora=LORA)
    prompts = policy.encode_prompts([student_view()], random_images(1, 7))
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-2)
    for _ in range(2):  # so the LoRA update is non-zero
        loss = sft_loss(policy, prompts, ["<answer>U U</answer>"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.save(str(tmp_path / "merged"))
    files = {p.name for p in (tmp_path / "merged").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
            "preprocessor_config.json", "generation_config.json"} <= files
    with safe_open(str(tmp_path / "merged" / "model.safetensors"), "pt") as weights:
        assert not [k for k in weights.keys() if "lora" in k or "base_layer" in k]
    out = sample(policy, prompts, 0)
    reloaded = load(tiny_dir, checkpoint=str(tmp_path / "merged"))
    policy.train(False)
    with torch.no_grad():
        live = policy.token_logprobs(prompts, out.response_ids_BR, out.response_mask_BR, 1.0)
        merged = reloaded.token_logprobs(prompts, out.response_ids_BR, out.response_mask_BR, 1.0)
        untouched = load(tiny_dir).token_logprobs(prompts, out.response_ids_BR, out.response_mask_BR, 1.0)
    torch.testing.assert_close(merged, live, atol=1e-5, rtol=0)
    assert (merged - untouched).abs().max() > 1e-4  # the update really is in the saved weights
    reloaded.save(str(tmp_path / "again"))
    with torch.no_grad():
        again = load(tmp_path / "again").token_logprobs(prompts, out.response_ids_BR, out.response_mask_BR, 1.0)
    assert torch.equal(again, merged)


def test_a_frozen_teacher_has_no_trainable_weights_and_stays_in_eval_mode(frozen):
    frozen.train(True)
    assert not frozen._core.training and frozen.trainable_parameters() == []


def test_asking_for_cuda_without_cuda_is_a_load_error(tiny_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    with pytest.raises(ModelLoadError, match="'cuda' was requested but torch .* sees no CUDA device"):
        build_hf_model(spec(tiny_dir), device="cuda", dtype="bfloat16", seed=0, trainable=False, checkpoint=None)


def test_an_uncached_hub_id_offline_is_a_load_error_that_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE=1") as caught:
        build_hf_model(spec(Path("Qwen/Qwen3-VL-2B-Instruct")), device="cpu", dtype="float32", seed=0,
                       trainable=False, checkpoint=None)
    assert "hf download Qwen/Qwen3-VL-2B-Instruct" in caught.value.hint


def test_a_directory_that_is_not_qwen3_vl_is_a_load_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelLoadError, match="model_type is 'llama'"):
        load(tmp_path)
    with pytest.raises(ModelLoadError, match="is not a directory"):
        load(tmp_path / "missing" / "dir")


# ---- GPU ----------------------------------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("MGSD_GPU") != "1", reason="GPU test: set MGSD_GPU=1 on a machine with CUDA")
def test_tiny_model_samples_scores_and_trains_on_cuda_in_bfloat16(tiny_dir):
    assert torch.cuda.is_available(), "MGSD_GPU=1 but torch sees no CUDA device"
    policy = build_hf_model(spec(tiny_dir, LORA, True), device="cuda", dtype="bfloat16", seed=0, trainable=True,
                            checkpoint=None)
    prompts = policy.encode_prompts([student_view(), student_view("Two. ")], random_images(2, 0))
    first, again = sample(policy, prompts, 4), sample(policy, prompts, 4)
    assert torch.equal(first.response_ids_BR, again.response_ids_BR)
    loss = sft_loss(policy, prompts, ["<answer>R</answer>", "<answer>D</answer>"])
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in policy.trainable_parameters())


# ---- through the worker (the ops the TypeScript side sends) -------------------------------------


def worker_load_args(tiny_dir: Path, role: str, trainable: bool, checkpoint: str | None = None) -> dict:
    optimizer = {"betas": [0.9, 0.95], "weight_decay": 0.0, "eps": 1e-8} if trainable else None
    return {"role": role, "model": spec(tiny_dir, LORA if trainable else None), "checkpoint": checkpoint,
            "trainable": trainable, "optimizer": optimizer, "device": "cpu", "dtype": "float32", "seed": 0}


def test_worker_samples_scores_distils_and_saves_an_hf_student(tiny_dir, tmp_path):
    worker = Worker(threads=1)
    worker.load(worker_load_args(tiny_dir, "student", True), {})
    worker.load(worker_load_args(tiny_dir, "teacher", False), {})
    students = [[{"role": "user", "content": [{"type": "text", "text": f"Plan {i}. "}, {"type": "image"}]}]
                for i in range(2)]
    teachers = [[{"role": "system", "content": [{"type": "text", "text": "Plan."}]},
                 {"role": "user", "content": [{"type": "text", "text": f"S.{i}\n.HG"}]}] for i in range(2)]
    images = random_images(2, 9)
    sampling = {"max_new_tokens": 8, "temperature": 1.0, "top_p": 1.0, "seed": 5}
    _, rollout = worker.generate({"role": "student", "views": students, "sampling": sampling}, {"images": images})
    tensors = {"images": images, "response_ids": rollout["response_ids"], "response_mask": rollout["response_mask"]}
    _, scored = worker.score({"role": "student", "views": students, "temperature": 1.0, "mode": "token", "k": 4},
                             tensors)
    torch.testing.assert_close(scored["logprobs"], rollout["logprobs"], atol=1e-5, rtol=0)
    args = {"role": "student", "views": students, "estimator": "full", "temperature": 1.0, "lr": 1e-2,
            "grad_clip": 1.0, "clip": {"low": 0.2, "high": 0.3, "dual": 3.0}, "k": 4,
            "teacher": {"source": "role", "role": "teacher", "views": teachers}}
    first, out = worker.distill_step(args, tensors)
    for _ in range(3):
        last, _ = worker.distill_step(args, tensors)
    assert first["kl_kind"] == "exact" and last["kl"] < first["kl"], (first, last)
    assert out["log_ratio"].shape == rollout["response_ids"].shape
    worker.save({"role": "student", "dir": str(tmp_path / "ckpt"), "include_optimizer": False}, {})
    worker.load(worker_load_args(tiny_dir, "restored", False, checkpoint=str(tmp_path / "ckpt")), {})
    _, again = worker.score({"role": "restored", "views": students, "temperature": 1.0, "mode": "token", "k": 4},
                            tensors)
    _, now = worker.score({"role": "student", "views": students, "temperature": 1.0, "mode": "token", "k": 4},
                          tensors)
    torch.testing.assert_close(again["logprobs"], now["logprobs"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("with_image", [True, False])
def test_own_decode_loop_matches_transformers_generate_greedy(frozen, with_image):
    # mgsd's KV-cache loop replaced `generate`: greedy ids and their log-probs must be what
    # transformers' own greedy generate produces from the same inputs (stop ids included).
    from transformers import GenerationConfig

    views = [student_view(), student_view("A longer one. ")] if with_image else [teacher_view("S"), teacher_view()]
    prompts = frozen.encode_prompts(views, random_images(2, 4) if with_image else None)
    inputs = frozen._model_inputs(prompts, prompts.inputs["input_ids"], prompts.inputs["attention_mask"])
    config = GenerationConfig(max_new_tokens=16, do_sample=False, eos_token_id=frozen.stop_ids,
                              pad_token_id=frozen.pad_id, return_dict_in_generate=True, output_logits=True)
    with torch.no_grad():
        frozen._core.model.rope_deltas = None
        out = frozen._core.generate(**inputs, generation_config=config)
        frozen._core.model.rope_deltas = None
    ids = out.sequences[:, prompts.inputs["input_ids"].shape[1]:]
    reference = torch.log_softmax(torch.stack(out.logits, 1).float(), -1).gather(2, ids[..., None])[..., 0]
    ours = sample(frozen, prompts, 0, temperature=0, max_new_tokens=16)
    mask = ours.response_mask_BR
    # transformers does not suppress vision ids: these prompts' greedy paths never reach one.
    assert not torch.isin(ids, torch.tensor(frozen.vision_ids)).any()
    assert ours.response_ids_BR.shape == ids.shape and mask.sum() >= 8
    assert torch.equal(ours.response_ids_BR, ids.masked_fill(~mask, frozen.pad_id))
    torch.testing.assert_close(ours.logprobs_BR[mask], reference[mask], atol=1e-4, rtol=0)
    assert frozen._core.model.rope_deltas is None

