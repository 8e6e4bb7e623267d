"""Losses: reverse-KL estimators against closed forms and each other, PPO clipping, SFT, chunking."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mgsd_backend.losses.distill import TeacherRows, distill_loss
from mgsd_backend.losses.kl import full_reverse_kl, sampled_surrogate, topk_reverse_kl
from mgsd_backend.losses.logprobs import map_row_chunks, token_logprobs
from mgsd_backend.losses.pg import ClipParams, clipped_surrogate, pg_loss
from mgsd_backend.losses.sft import sft_loss

torch.set_num_threads(1)
OFFICIAL = ClipParams(low=0.2, high=0.3, dual=3.0)


def logits_strategy(rows: int = 3, vocab: int = 6):
    values = st.floats(min_value=-8, max_value=8, allow_nan=False, width=32)
    return st.lists(values, min_size=rows * vocab, max_size=rows * vocab).map(
        lambda xs: torch.tensor(xs, dtype=torch.float32).view(rows, vocab))


@settings(max_examples=40, deadline=None)
@given(logits_strategy())
def test_kl_of_identical_distributions_is_zero(logits):
    lp = torch.log_softmax(logits, -1)
    torch.testing.assert_close(full_reverse_kl(lp, lp), torch.zeros(3), atol=1e-6, rtol=0)
    ids = lp.topk(3, -1).indices
    torch.testing.assert_close(topk_reverse_kl(lp, ids, lp.gather(-1, ids)), torch.zeros(3), atol=1e-5, rtol=0)


def test_full_kl_matches_closed_form():
    p = torch.tensor([[0.5, 0.5], [0.9, 0.1]])
    q = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    expected = (p * (p / q).log()).sum(-1)
    assert math.isclose(expected[0].item(), 0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel_tol=1e-6)
    torch.testing.assert_close(full_reverse_kl(p.log(), q.log()), expected)


def test_full_kl_is_infinite_where_the_teacher_rules_out_a_student_token_and_ignores_zero_mass():
    student = torch.tensor([[0.0, -math.inf]])  # all mass on token 0
    teacher = torch.tensor([[-math.inf, 0.0]])
    assert torch.isinf(full_reverse_kl(student, teacher)).all()
    assert full_reverse_kl(student, torch.tensor([[0.0, -math.inf]])).item() == 0.0


@settings(max_examples=40, deadline=None)
@given(logits_strategy(), logits_strategy())
def test_topk_with_k_equal_vocab_equals_full_and_smaller_k_is_a_lower_bound(s_logits, t_logits):
    s, t = torch.log_softmax(s_logits, -1), torch.log_softmax(t_logits, -1)
    full = full_reverse_kl(s, t)
    all_ids = t.argsort(-1, descending=True)
    torch.testing.assert_close(topk_reverse_kl(s, all_ids, t.gather(-1, all_ids)), full, atol=2e-5, rtol=1e-4)
    ids = t.topk(2, -1).indices
    assert bool((topk_reverse_kl(s, ids, t.gather(-1, ids)) <= full + 1e-4).all())


def enumerated_surrogate_gradient(theta: torch.Tensor, teacher_lp: torch.Tensor) -> torch.Tensor:
    """E_{y ~ π_θ}[∇ sampled-surrogate(y)] for one position, by enumerating every token y."""
    probs = torch.softmax(theta.detach(), -1)
    total = torch.zeros_like(theta)
    for y in range(theta.shape[-1]):
        th = theta.detach().clone().requires_grad_(True)
        lp = torch.log_softmax(th, -1)[y:y + 1]
        terms, _ = sampled_surrogate(lp, teacher_lp[y:y + 1], None, OFFICIAL)
        (grad,) = torch.autograd.grad(terms.mean(), th)
        total += probs[y] * grad
    return total


@settings(max_examples=25, deadline=None)
@given(logits_strategy(rows=1, vocab=5), logits_strategy(rows=1, vocab=5))
def test_full_kl_gradient_equals_expected_sampled_surrogate_gradient(s_logits, t_logits):
    theta = s_logits[0].clone().requires_grad_(True)
    teacher_lp = torch.log_softmax(t_logits[0], -1)
    kl = full_reverse_kl(torch.log_softmax(theta, -1)[None], teacher_lp[None]).sum()
    (full_grad,) = torch.autograd.grad(kl, theta)
    torch.testing.assert_close(enumerated_surrogate_gradient(theta, teacher_lp), full_grad, atol=1e-4, rtol=1e-3)


def test_monte_carlo_sampled_gradient_converges_to_full_gradient():
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(6, generator=g).requires_grad_(True)
    teacher_lp = torch.log_softmax(torch.randn(6, generator=g), -1)
    (full_grad,) = torch.autograd.grad(full_reverse_kl(torch.log_softmax(theta, -1)[None], teacher_lp[None]).sum(), theta)
    samples = torch.multinomial(torch.softmax(theta.detach(), -1), 20000, replacement=True, generator=g)
    lp = torch.log_softmax(theta, -1)[samples]
    terms, _ = sampled_surrogate(lp, teacher_lp[samples], None, OFFICIAL)
    (mc_grad,) = torch.autograd.grad(terms.mean(), theta)
    assert (mc_grad - full_grad).abs().max() < 0.05 * max(1.0, full_grad.abs().max().item())


def test_ppo_clip_stops_gradient_outside_the_trust_region_and_dual_clip_caps_negative_advantages():
    old = torch.zeros(4)
    new = torch.tensor([0.5, -0.5, 0.0, 2.0], requires_grad=True)  # ratios e^.5, e^-.5, 1, e^2
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    terms, bound = clipped_surrogate(new, old, adv, OFFICIAL)
    # A>0 and ratio above 1.3 → clipped to -1.3; A<0 and ratio below 0.8 → clipped to 0.8;
    # A<0 and ratio e^2 ≈ 7.4 → dual clip caps the term at 3.
    torch.testing.assert_close(terms.detach(), torch.tensor([-1.3, 0.8, -1.0, 3.0]))
    assert bound.tolist() == [True, True, False, True]
    terms.sum().backward()
    assert new.grad is not None and new.grad[[0, 1, 3]].abs().max() == 0 and new.grad[2] == -1.0
    loss, fraction = pg_loss(new.detach(), old, adv, OFFICIAL)
    assert math.isclose(loss.item(), (-1.3 + 0.8 - 1.0 + 3.0) / 4, rel_tol=1e-6) and fraction.item() == 0.75


def test_sampled_surrogate_uses_teacher_minus_old_as_advantage():
    student = torch.tensor([-1.0, -2.0], requires_grad=True)
    terms, adv = sampled_surrogate(student, torch.tensor([-0.5, -3.0]), torch.tensor([-1.0, -2.0]), OFFICIAL)
    torch.testing.assert_close(adv, torch.tensor([0.5, -1.0]))
    torch.testing.assert_close(terms.detach(), torch.tensor([-0.5, 1.0]))  # ρ = 1: ℓ = −A


def test_sft_loss_is_token_mean_negative_log_likelihood():
    assert math.isclose(sft_loss(torch.tensor([-1.0, -2.0, -3.0])).item(), 2.0)


class TableModel:
    """A stand-in output head: logits = hidden @ W (PolicyModel's `logits` + `vocab_size`)."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight
        self.vocab_size = weight.shape[1]

    def logits(self, hidden_ND: torch.Tensor) -> torch.Tensor:
        return hidden_ND @ self.weight


def test_chunked_logprobs_with_checkpointing_match_one_chunk_values_and_gradients():
    g = torch.Generator().manual_seed(1)
    model = TableModel(torch.randn(8, 11, generator=g))
    hidden = torch.randn(10, 8, generator=g, requires_grad=True)
    ids = torch.randint(0, 11, (10,), generator=g)
    one, _ = token_logprobs(model, hidden, ids, 0.7, chunk_rows=100)  # type: ignore[arg-type]
    (g_one,) = torch.autograd.grad(one.sum(), hidden)
    many, _ = token_logprobs(model, hidden, ids, 0.7, chunk_rows=3)  # type: ignore[arg-type]
    (g_many,) = torch.autograd.grad(many.sum(), hidden)
    torch.testing.assert_close(one, many)
    torch.testing.assert_close(g_one, g_many)
    assert map_row_chunks(lambda h: (h * 2,), (hidden[:0],), 3)[0].shape == (0, 8)


def test_wire_teacher_estimators_agree_with_an_in_process_teacher():
    g = torch.Generator().manual_seed(2)
    student, teacher = TableModel(torch.randn(8, 7, generator=g)), TableModel(torch.randn(8, 7, generator=g))
    hidden_s, hidden_t = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    ids = torch.randint(0, 7, (5,), generator=g)
    t_lp = torch.log_softmax(teacher.logits(hidden_t) / 0.8, -1)
    in_process = TeacherRows(model=teacher, hidden_ND=hidden_t, k=7)  # type: ignore[arg-type]
    wires = {"sampled": TeacherRows(token_logprobs_N=t_lp.gather(-1, ids[:, None]).squeeze(-1)),
             "full": TeacherRows(full_logprobs_NV=t_lp),
             "topk": TeacherRows(topk_ids_NK=t_lp.topk(7, -1).indices, topk_logprobs_NK=t_lp.topk(7, -1).values)}
    for estimator, wire in wires.items():
        a = distill_loss(student, hidden_s, ids, in_process, estimator, 0.8, OFFICIAL)  # type: ignore[arg-type]
        b = distill_loss(student, hidden_s, ids, wire, estimator, 0.8, OFFICIAL)  # type: ignore[arg-type]
        torch.testing.assert_close(a.loss, b.loss, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.log_ratio_N, b.log_ratio_N, atol=1e-5, rtol=1e-5)
    exact = distill_loss(student, hidden_s, ids, in_process, "full", 0.8, OFFICIAL)  # type: ignore[arg-type]
    assert exact.kl_kind == "exact" and math.isclose(exact.kl, exact.loss.item(), rel_tol=1e-5)


def test_wire_topk_teacher_without_token_scores_fills_in_the_log_ratio_from_its_buckets():
    g = torch.Generator().manual_seed(3)
    student = TableModel(torch.randn(4, 6, generator=g))
    hidden = torch.randn(2, 4, generator=g)
    t_lp = torch.log_softmax(torch.randn(2, 6, generator=g), -1)
    top = t_lp.topk(2, -1)
    inside, outside = int(top.indices[0, 0]), int(t_lp[1].argmin())
    ids = torch.tensor([inside, outside])
    rows = TeacherRows(topk_ids_NK=top.indices, topk_logprobs_NK=top.values)
    result = distill_loss(student, hidden, ids, rows, "topk", 1.0, OFFICIAL)  # type: ignore[arg-type]
    s_tok = torch.log_softmax(student.logits(hidden), -1).gather(-1, ids[:, None]).squeeze(-1)
    rest_mean = torch.log((1 - top.values[1].exp().sum()) / 4)
    torch.testing.assert_close(result.log_ratio_N, torch.stack([t_lp[0, inside], rest_mean]) - s_tok)
    assert result.kl_kind == "topk_buckets" and result.teacher_entropy is None


def test_forward_kl_matches_its_closed_form_and_is_zero_for_identical_distributions():
    from mgsd_backend.losses.kl import full_forward_kl

    student = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]]), dim=-1)
    teacher = torch.log_softmax(torch.tensor([[0.0, 1.0, 0.0], [1.0, -1.0, 0.0]]), dim=-1)
    expected = (teacher.exp() * (teacher - student)).sum(dim=-1)
    assert torch.allclose(full_forward_kl(student, teacher), expected)
    assert torch.allclose(full_forward_kl(student, student), torch.zeros(2), atol=1e-7)


def test_forward_kl_pulls_up_a_token_the_student_all_but_excludes_faster_than_reverse_kl():
    from mgsd_backend.losses.kl import full_forward_kl, full_reverse_kl

    logits = torch.tensor([[8.0, 0.0, -8.0]], requires_grad=True)
    teacher = torch.log_softmax(torch.tensor([[-8.0, 0.0, 8.0]]), dim=-1)
    grads = []
    for loss_fn in (full_forward_kl, full_reverse_kl):
        logits.grad = None
        loss_fn(torch.log_softmax(logits, dim=-1), teacher).sum().backward()
        grads.append(-logits.grad[0, 2].item())  # how hard the loss pushes the teacher's favourite up
    assert grads[0] > 100 * grads[1] > 0
