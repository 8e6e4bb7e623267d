"""The teacher's side of a `distill_step`, one entry per response token of the student's rows
(`TeacherRows`, losses/distill.py): either what a separate teacher worker's `score` sent over the
wire (the estimator names the tensors it needs, protocol.WIRE_TEACHER_TENSORS), or the hidden
states of a teacher role in this process, run on the same response tokens under no_grad.
"""

from __future__ import annotations

import torch

from .errors import RequestError
from .losses.distill import TeacherRows
from .models.base import EncodedPrompts, PolicyModel
from .op_tensors import device_of
from .protocol import WIRE_TEACHER_TENSORS

Tensors = dict[str, torch.Tensor]
WIRE_NAMES = ("teacher_logprobs", "teacher_topk_ids", "teacher_topk_logprobs", "teacher_full_logprobs")


def wire_teacher_rows(tensors: Tensors, estimator: str, k: int | None, student: PolicyModel,
                      mask_BR: torch.Tensor) -> TeacherRows:
    """The scored teacher tensors of the request, at the student's response tokens."""
    device = mask_BR.device
    rows = {name: tensors[name].to(device)[mask_BR] for name in WIRE_NAMES if name in tensors}
    missing = [name for name in WIRE_TEACHER_TENSORS[estimator] if name not in rows]
    if missing:
        raise RequestError(f"distill_step: estimator {estimator!r} with a wire teacher needs tensor(s) {missing}",
                           hint="Score the teacher with the matching `score` mode and send its outputs.")
    full = rows.get("teacher_full_logprobs")
    if full is not None and full.shape[-1] != student.vocab_size:
        raise RequestError(f"distill_step: teacher_full_logprobs has vocabulary {full.shape[-1]}, the "
                           f"student has {student.vocab_size}; teacher and student must share a tokenizer")
    return TeacherRows(token_logprobs_N=rows.get("teacher_logprobs"), topk_ids_NK=rows.get("teacher_topk_ids"),
                       topk_logprobs_NK=rows.get("teacher_topk_logprobs"), full_logprobs_NV=full,
                       k=None if k is None else int(k))


def in_process_teacher_rows(teacher: PolicyModel, role: str, prompts: EncodedPrompts, student: PolicyModel,
                            ids_BR: torch.Tensor, mask_BR: torch.Tensor, k: int | None) -> TeacherRows:
    """The teacher role's hidden states at the student's response tokens, given its own prompts."""
    if teacher.vocab_size != student.vocab_size:
        raise RequestError(f"distill_step: teacher role {role!r} has vocabulary {teacher.vocab_size}, "
                           f"the student {student.vocab_size}; they must share a tokenizer")
    teacher.train(False)
    with torch.no_grad():
        device = device_of(teacher)
        hidden_ND = teacher.response_hidden(prompts, ids_BR.to(device), mask_BR.to(device))[mask_BR.to(device)]
    return TeacherRows(model=teacher, hidden_ND=hidden_ND, k=None if k is None else int(k))
