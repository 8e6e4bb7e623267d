"""The worker's model ops (docs/protocol.md): one method per op, called by the server.

Each op is `(args, tensors) -> (result, tensors)`: `args` is the request's JSON (already checked
against protocol.py by the server), `tensors` the decoded Arrow columns as CPU torch tensors with
the batch as first dimension. Results are JSON-able; every result carries `op_seconds`, the time
spent inside the op (the client compares it with the round trip to measure bridge overhead).

A role (`student`, `teacher`, …) is a model slot: the model, its AdamW optimizer (trainable roles
only), and its optimizer step count. Each role samples through a `Sampler` (models/base.py,
docs/sampler.md; an alias shares its owner's), told about every optimizer step; encoded prompts are
kept for the latest few (model, views, images), so one step's `generate` and `distill_step` on the
same views encode them once (prompt_cache.py).

Every training step's result carries the update monitor's `update_rel_norm` and
`update_changed_fraction` (sharding/update_monitor.py) besides `grad_norm`. Every model op runs
under the model's `compute_context()` (mixed-precision autocast; a gathered FSDP root to sample).
A training step with `micro_batch_size` below its row count runs as micro-batches with one update
(micro_batch.py): `_update` then only back-propagates the micro-batch's share of the step's global
token sum; in a rank group every rank runs as many micro-batches as the busiest one (the others
empty), and replicated gradients are summed over the ranks once, before the update.

`alias_of` makes a role share another role's model (e.g. the live student as its own teacher); an
alias is never trained through.

Rank groups (group/): every rank holds a replica of each role and runs the op on its own rows;
training ops compute the local loss, agree with the other ranks (`group.agree`: failures, token
counts, non-finite losses, token-mean metrics over the global batch), then backward their share
of the global token-mean and sum the gradients over the ranks, so results do not depend on N
beyond float reduction order. With one rank the same code runs with trivial collectives.

A `distill_step`'s teacher is either scored tensors sent by a teacher worker or a role of this
worker (teacher_rows.py).

Errors: a request the worker cannot carry out raises a `RequestError` subclass (unknown role,
image/view mismatch, a full distribution too large for the wire, …) whose message names the op,
the role and the sample; training ops raise `NonFiniteLoss` without touching the weights.

Tensor names (per row; R response length, K top-k, V vocabulary): images uint8 [H, W, 3];
response_ids int64 [R]; response_mask bool [R]; logprobs / entropy / old_logprobs /
teacher_logprobs / log_ratio float32 [R]; token_char_end int32 [R]; topk_ids int64 [R, K];
topk_logprobs float32 [R, K]; full_logprobs float32 [R, V]; advantages float32 [] or [R].
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from . import checkpoint as ckpt
from .chat_views import has_image, parse_views
from .errors import NonFiniteLoss, RequestError, UnknownRole
from .group import Group, solo
from .group.agree import GlobalStep, LocalStep, agree
from .losses.distill import TeacherRows, distill_loss
from .losses.logprobs import full_logprobs, token_logprobs, topk_logprobs
from .losses.pg import ClipParams, pg_loss
from .losses.sft import sft_loss
from .models.base import EncodedPrompts, InProcessSampler, PolicyModel, Sampler, SamplingParams
from .models.registry import build_model
from .op_tensors import (check_wire_size, device_of, require_tokens, response_tensors, scatter_rows,
                         to_cpu)
from .micro_batch import combine_results, combine_tensors, row_slices, slice_request
from .optim import all_reduce_gradients, apply_update, build_adamw, finish_update, set_hyperparameters
from .prompt_cache import PromptCache
from .sharding.update_monitor import UpdateMonitor
from .teacher_rows import in_process_teacher_rows, wire_teacher_rows

Tensors = dict[str, torch.Tensor]
OpResult = tuple[dict[str, Any], Tensors]


@dataclass
class RoleState:
    model: PolicyModel
    optimizer: torch.optim.Optimizer | None
    alias_of: str | None = None
    step: int = 0
    sampler: Sampler | None = None  # shared with aliases; set in `load`


def timed(method: Callable[..., OpResult]) -> Callable[..., OpResult]:
    """Adds `op_seconds` (wall time inside the op) to an op's result."""

    @functools.wraps(method)
    def wrapper(self: Worker, args: dict[str, Any], tensors: Tensors) -> OpResult:
        start = time.perf_counter()
        result, out = method(self, args, tensors)
        result["op_seconds"] = time.perf_counter() - start
        return result, out

    return wrapper


class Worker:
    """Holds models by role and runs the model ops on them. Each model op of protocol.py's `Op` is
    the method of the same name (the server dispatches with `getattr(worker, op.value)`)."""

    def __init__(self, threads: int, group: Group | None = None) -> None:
        torch.set_num_threads(threads)
        self.group = group or solo()
        self._accumulate_tokens: int | None = None  # the step's global token count, while micro-batched
        self._prompts = PromptCache()  # one encode per (model, views, images) within a step
        self.roles: dict[str, RoleState] = {}

    def reply_pad_values(self, role: str) -> dict[str, int]:
        """Pad values of `generate`'s reply tensors (rank 0 pads the shards to one width)."""
        return {"response_ids": self._role(role, "generate").model.pad_id}

    def shards_role(self, role: Any) -> bool:
        """Whether `role` is loaded with parameter shards (FSDP2): every forward is a collective."""
        return isinstance(role, str) and role in self.roles and _is_sharded(self.roles[role].model)

    # ---- roles ------------------------------------------------------------------------------
    def _role(self, name: str, op: str) -> RoleState:
        if name not in self.roles:
            loaded = ", ".join(sorted(self.roles)) or "none"
            raise UnknownRole(f"{op}: role {name!r} is not loaded (loaded roles: {loaded})",
                              hint="Send a `load` for this role first.")
        return self.roles[name]

    def _trainable(self, name: str, op: str) -> RoleState:
        state = self._role(name, op)
        if state.optimizer is None:
            why = f"an alias of {state.alias_of!r}" if state.alias_of else "loaded with trainable false"
            raise RequestError(f"{op}: role {name!r} cannot be trained ({why})",
                               hint="Train the role that owns the weights, loaded with trainable true.")
        return state

    @timed
    def load(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        name = args["role"]
        self._prompts.clear()  # never keep a replaced model alive, nor serve its encodings
        users = [r for r, s in self.roles.items() if s.alias_of == name and r != name]
        if users:
            raise RequestError(f"load: role {name!r} is aliased by {users}; reloading it would split them",
                               hint="Load the aliases again after this role, or load into a new role name.")
        if args.get("alias_of") is not None:
            owner = self._role(args["alias_of"], "load")
            self.roles[name] = RoleState(owner.model, None, alias_of=args["alias_of"], step=owner.step,
                                         sampler=owner.sampler)
            return {"describe": owner.model.describe(), "step": owner.step, "optimizer_restored": False}, {}
        self.roles.pop(name, None)  # free the old model before building the new one
        state, restored = self._build_role(args)
        state.sampler = InProcessSampler(state.model)
        self.roles[name] = state
        result = {"describe": state.model.describe(), "step": state.step, "optimizer_restored": restored}
        if self.group.distributed and not _is_sharded(state.model):  # compared by group/serve.py, then dropped
            result["weights_fingerprint"] = _fingerprint(state.model)
        return result, {}

    def _build_role(self, args: dict[str, Any]) -> tuple[RoleState, bool]:
        checkpoint, trainable, opt = args.get("checkpoint"), bool(args["trainable"]), args.get("optimizer")
        if trainable and opt is None:
            raise RequestError(f"load: role {args['role']!r} is trainable but `optimizer` is null",
                               hint="Send optimizer {betas, weight_decay, eps}, or trainable false.")
        # A DCP checkpoint has no model/ directory unless its model had an adapter (then model/ holds
        # the merged weights, which a new stage or a frozen role loads instead of the adapter shards).
        weights = ckpt.model_dir(checkpoint) if checkpoint else None

        def build() -> Any:
            return build_model(args["model"], device=args["device"], dtype=args["dtype"], seed=int(args["seed"]),
                               trainable=trainable, checkpoint=weights)

        model = ckpt.reading_model(checkpoint, build) if checkpoint else build()
        is_dcp = bool(checkpoint) and ckpt.is_dcp_checkpoint(checkpoint)
        if not trainable:
            if is_dcp and weights is None:
                ckpt.restore_dcp(checkpoint, model, None)
            return RoleState(model, None), False
        hyper = (tuple(opt["betas"]), float(opt["weight_decay"]), float(opt["eps"]))
        optimizer = build_adamw(model.trainable_parameters(), *hyper)
        # A new stage starts its optimizer afresh from the previous stage's weights; only a resumed
        # stage restores the moments and step count of its own checkpoint.
        restore = checkpoint and args.get("restore_optimizer", True)
        if is_dcp and (restore or weights is None):
            step = ckpt.restore_dcp(checkpoint, model, optimizer if restore else None)
        else:
            step = ckpt.restore_optimizer(checkpoint, optimizer, device_of(model)) if restore else None
        set_hyperparameters(optimizer, *hyper)
        return RoleState(model, optimizer, step=step or 0), step is not None

    @timed
    def save(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        state = self._role(args["role"], "save")
        owner = self.roles[state.alias_of] if state.alias_of else state
        if args["include_optimizer"] and owner.optimizer is None:
            raise RequestError(f"save: role {args['role']!r} has no optimizer (frozen)",
                               hint="Save it with include_optimizer false.")
        optimizer = owner.optimizer if args["include_optimizer"] else None
        layout, files, facts = ckpt.save_any(args["dir"], owner.model, optimizer, owner.step, args.get("layout"))
        return {"files": files, "step": owner.step, "layout": layout, **facts}, {}

    # ---- sampling and scoring ---------------------------------------------------------------
    @timed
    def generate(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        state = self._role(args["role"], "generate")
        model = state.model
        prompts = self._encode(model, args["views"], tensors.get("images"), "generate", "views")
        s = args["sampling"]
        # row_offset: the global index of this shard's first row (seeds follow the row, not the rank)
        params = SamplingParams(int(s["max_new_tokens"]), float(s["temperature"]), float(s["top_p"]), int(s["seed"]),
                                row_offset=int(s.get("row_offset", 0)))
        assert state.sampler is not None, "every loaded role has a sampler"
        model.train(False)
        with model.compute_context(sampling=True):
            gen = state.sampler.generate(prompts, params)
        out = {"response_ids": gen.response_ids_BR.long(), "response_mask": gen.response_mask_BR.bool(),
               "logprobs": gen.logprobs_BR.float(), "token_char_end": gen.token_char_end_BR.int()}
        return {"texts": gen.texts}, to_cpu(out)

    @timed
    def score(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        model = self._role(args["role"], "score").model
        prompts = self._encode(model, args["views"], tensors.get("images"), "score", "views")
        ids_BR, mask_BR = response_tensors(tensors, model)
        mode, temperature = args["mode"], float(args["temperature"])
        if mode == "full":
            check_wire_size(ids_BR.shape, model.vocab_size)
        model.train(False)
        with torch.no_grad(), model.compute_context():
            hidden_ND = model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
            logprobs_N, entropy_N = token_logprobs(model, hidden_ND, ids_BR[mask_BR], temperature)
            out = {"logprobs": scatter_rows(logprobs_N, mask_BR), "entropy": scatter_rows(entropy_N, mask_BR)}
            if mode == "topk":
                ids_NK, values_NK = topk_logprobs(model, hidden_ND, int(args["k"]), temperature)
                out["topk_ids"], out["topk_logprobs"] = scatter_rows(ids_NK, mask_BR), scatter_rows(values_NK, mask_BR)
            elif mode == "full":
                out["full_logprobs"] = scatter_rows(full_logprobs(model, hidden_ND, temperature), mask_BR)
        return {}, to_cpu(out)

    # ---- training ---------------------------------------------------------------------------
    @timed
    def sft_step(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        if self._splits(args):
            return self._micro_batched("sft_step", self.sft_step, args, tensors)
        state = self.roles.get(args["role"])

        def local() -> LocalStep:
            model = self._trainable(args["role"], "sft_step").model
            prompts = self._encode(model, args["views"], tensors.get("images"), "sft_step", "views")
            targets = args["targets"]
            if len(targets) != prompts.batch_size:
                raise RequestError(f"sft_step: {len(targets)} targets for {prompts.batch_size} views; send one per view")
            try:
                ids_BR, mask_BR = model.encode_targets(targets, bool(args["append_eos"]))
            except ValueError as err:
                raise RequestError(f"sft_step: args.targets: {err}") from err
            model.train(True)
            with model.compute_context():
                hidden_ND = model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
                logprobs_N, _ = token_logprobs(model, hidden_ND, ids_BR[mask_BR], 1.0)
                loss = sft_loss(logprobs_N)
            return LocalStep(loss, int(mask_BR.sum()), {"loss": float(loss.detach())})

        step = self._agree_step("sft_step", args, local)
        assert state is not None, "agree checked the role on every rank"
        update = self._update(state, step, args, "sft_step")
        return {"loss": step.means["loss"], "tokens": step.tokens, **update, "lr": float(args["lr"])}, {}

    @timed
    def distill_step(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        if self._splits(args):
            return self._micro_batched("distill_step", self.distill_step, args, tensors)
        state = self.roles.get(args["role"])

        def local() -> LocalStep:
            model = self._trainable(args["role"], "distill_step").model
            prompts = self._encode(model, args["views"], tensors.get("images"), "distill_step", "views")
            ids_BR, mask_BR = response_tensors(tensors, model)
            teacher = self._teacher_rows(args, tensors, model, ids_BR, mask_BR)
            old_N = tensors["old_logprobs"].to(ids_BR.device)[mask_BR] if "old_logprobs" in tensors else None
            model.train(True)
            with model.compute_context():
                hidden_ND = model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
                try:
                    out = distill_loss(model, hidden_ND, ids_BR[mask_BR], teacher, args["estimator"],
                                       float(args["temperature"]), ClipParams.from_args(args["clip"]), old_N)
                except ValueError as err:
                    raise RequestError(f"distill_step: {err}") from err
            means = {"loss": float(out.loss.detach()), "log_ratio_mean": float(out.log_ratio_N.mean()),
                     "kl": out.kl, "student_entropy": out.student_entropy, "teacher_entropy": out.teacher_entropy}
            log_ratio = to_cpu({"log_ratio": scatter_rows(out.log_ratio_N.float(), mask_BR)})
            return LocalStep(out.loss, out.tokens, means, extra=(out.kl_kind, log_ratio))

        step = self._agree_step("distill_step", args, local)
        assert state is not None, "agree checked the role on every rank"
        update = self._update(state, step, args, "distill_step")
        kl_kind, log_ratio = step.local.extra if step.local.extra else (None, {})
        kinds = self.group.all_gather_object(kl_kind, "distill_step: kl_kind")
        result = {**step.means, "kl_kind": next(k for k in kinds if k is not None), **update,
                  "lr": float(args["lr"]), "tokens": step.tokens}
        return result, log_ratio

    @timed
    def pg_step(self, args: dict[str, Any], tensors: Tensors) -> OpResult:
        if self._splits(args):
            return self._micro_batched("pg_step", self.pg_step, args, tensors)
        state = self.roles.get(args["role"])

        def local() -> LocalStep:
            model = self._trainable(args["role"], "pg_step").model
            prompts = self._encode(model, args["views"], tensors.get("images"), "pg_step", "views")
            ids_BR, mask_BR = response_tensors(tensors, model)
            advantages = tensors["advantages"].to(ids_BR.device).float()
            advantages_BR = advantages[:, None].expand_as(ids_BR) if advantages.ndim == 1 else advantages
            if advantages_BR.shape != ids_BR.shape:
                raise RequestError(f"pg_step: advantages has shape {list(advantages.shape)}; expected "
                                   f"[{ids_BR.shape[0]}] (per sequence) or {list(ids_BR.shape)} (per token)")
            old_N = tensors["old_logprobs"].to(ids_BR.device).float()[mask_BR]
            model.train(True)
            with model.compute_context():
                hidden_ND = model.response_hidden(prompts, ids_BR, mask_BR)[mask_BR]
                logprobs_N, _ = token_logprobs(model, hidden_ND, ids_BR[mask_BR], 1.0)
            loss, clip_fraction = pg_loss(logprobs_N, old_N, advantages_BR[mask_BR],
                                          ClipParams.from_args(args["clip"]))
            return LocalStep(loss, int(mask_BR.sum()), {"loss": float(loss.detach()),
                                                         "clip_fraction": float(clip_fraction)})

        step = self._agree_step("pg_step", args, local)
        assert state is not None, "agree checked the role on every rank"
        update = self._update(state, step, args, "pg_step")
        return {"loss": step.means["loss"], **update, "lr": float(args["lr"]),
                "clip_fraction": step.means["clip_fraction"], "tokens": step.tokens}, {}

    # ---- helpers ----------------------------------------------------------------------------
    def _agree_step(self, op: str, args: dict[str, Any], local: Callable[[], LocalStep]) -> GlobalStep:
        """This rank's local part (none on an empty shard), then the decisions of all ranks."""
        def empty_shard() -> LocalStep:  # no rows here: still check the role, then join the collectives
            self._trainable(args["role"], op)
            return LocalStep(None, 0)

        step = agree(self.group, op, local if len(args["views"]) > 0 else empty_shard)
        if step.tokens == 0:
            require_tokens(torch.zeros(1, dtype=torch.bool), op)  # raises the usual no-tokens error
        where = f"{op} on role {args['role']!r}"
        if step.gradless_ranks:
            raise RequestError(f"{where}: the loss does not depend on any trainable parameter (rank(s) "
                               f"{step.gradless_ranks})", hint="Check that the role was loaded with trainable true.")
        if step.nonfinite_ranks:
            ranks = f"; non-finite on rank(s) {step.nonfinite_ranks}" if self.group.distributed else ""
            raise NonFiniteLoss(f"{where}: the loss is {float(step.means.get('loss') or 'nan'):g}; no update was made "
                                f"(weights unchanged{ranks})",
                                hint="Lower the learning rate, or check the inputs (empty targets, inf log-probs).")
        return step

    def _update(self, state: RoleState, step: GlobalStep, args: dict[str, Any], op: str) -> dict[str, float]:
        """Backward of this rank's share of the global token-mean, gradients summed over ranks (a
        sharded model's FSDP sums its own), one update → {grad_norm, update_rel_norm,
        update_changed_fraction}; inside a micro-batched step only the weighted backward (→ {})."""
        assert state.optimizer is not None, "trainable roles carry an optimizer"
        where = f"{op} on role {args['role']!r}"
        loss = step.local.loss
        share = None if loss is None or step.local.tokens == 0 else loss * step.loss_scale
        if self._accumulate_tokens is not None:
            if share is not None:  # this micro-batch's share of the step's global token sum
                (share * (step.tokens / self._accumulate_tokens)).backward()
            return {}
        reduce = self._gradient_reducer(state, where)
        params = state.model.trainable_parameters()
        monitor = UpdateMonitor(params)
        grad_norm = apply_update(params, state.optimizer, share, float(args["lr"]), float(args["grad_clip"]), where,
                                 reduce)
        state.step += 1
        self._tell_sampler(state)
        return {"grad_norm": grad_norm, **monitor.measure()}

    def _gradient_reducer(self, state: RoleState, where: str) -> Callable[[list[torch.nn.Parameter]], None] | None:
        """Sums a replicated model's gradients over the group's ranks; None alone, or for a sharded
        model (FSDP2 reduces its own)."""
        if not self.group.distributed or _is_sharded(state.model):
            return None
        group = self.group
        return lambda params: all_reduce_gradients(params, lambda t: group.all_reduce_sum_(t, f"{where}: gradients"))

    def _splits(self, args: dict[str, Any]) -> bool:
        """Whether a training step runs as micro-batches. In a group every rank must decide alike
        (their collectives pair), so any `micro_batch_size` does: a rank with few rows runs empty ones."""
        size = args.get("micro_batch_size")
        return size is not None and (self.group.distributed or len(row_slices(len(args["views"]), size)) > 1)

    def _micro_batched(self, op: str, run_op: Callable[..., OpResult], args: dict[str, Any],
                       tensors: Tensors) -> OpResult:
        """Runs `op` on consecutive micro-batches of rows, then makes one update (micro_batch.py)."""
        state = self._trainable(args["role"], op)
        rows = len(args["views"])
        slices = row_slices(rows, args["micro_batch_size"]) if rows else []
        tokens = [self._row_tokens(op, state.model, args, tensors, part) for part in slices]
        plans = self.group.all_gather_object((len(slices), sum(tokens)), f"{op}: micro-batch counts")
        slices += [slice(rows, rows)] * (max(count for count, _ in plans) - len(slices))
        params = state.model.trainable_parameters()
        monitor = UpdateMonitor(params)
        state.optimizer.zero_grad(set_to_none=True)
        results, outs = [], []
        try:
            self._accumulate_tokens = max(1, sum(total for _, total in plans))
            for part in slices:
                result, out = run_op(*slice_request(args, tensors, part))
                results.append(result)
                outs.append(out)
        except BaseException:
            state.optimizer.zero_grad(set_to_none=True)
            raise
        finally:
            self._accumulate_tokens = None
        where = f"{op} on role {args['role']!r}"
        reduce = self._gradient_reducer(state, where)
        if reduce is not None:
            reduce(params)
        grad_norm = finish_update(params, state.optimizer, float(args["lr"]), float(args["grad_clip"]), where)
        state.step += 1
        self._tell_sampler(state)
        combined = combine_results(results, [int(result["tokens"]) for result in results])
        combined.update(grad_norm=grad_norm, micro_batches=len(slices), **monitor.measure())
        return combined, combine_tensors([out for out in outs if out])

    @staticmethod
    def _row_tokens(op: str, model: PolicyModel, args: dict[str, Any], tensors: Tensors, rows: slice) -> int:
        if op == "sft_step":
            return int(model.encode_targets(args["targets"][rows], bool(args["append_eos"]))[1].sum())
        return int(tensors["response_mask"][rows].sum())

    @staticmethod
    def _tell_sampler(state: RoleState) -> None:
        """Hands the updated weights to the role's sampler, before its next generate."""
        assert state.sampler is not None, "every loaded role has a sampler"
        state.sampler.update_weights(state.model.named_weights, state.step)

    def _encode(self, model: PolicyModel, views_json: Any, images: torch.Tensor | None, op: str,
                path: str) -> EncodedPrompts:
        views = parse_views(views_json, f"args.{path}")
        try:
            prompts = self._prompts.get_or_encode(model, views_json, images, lambda: model.encode_prompts(views, images))
        except ValueError as err:
            raise RequestError(f"{op}: args.{path}: {err}",
                               hint="Send one image row per view that has an image part, and none otherwise.") from err
        expected = any(has_image(v) for v in views)
        if prompts.has_images != expected:
            # The blind-model guard: a model that drops (or invents) the image must never train silently.
            raise RuntimeError(f"{op}: {model.kind} model encoded has_images={prompts.has_images} for views "
                               f"whose image parts say {expected}; this is a bug in the model's encode_prompts")
        return prompts

    def _teacher_rows(self, args: dict[str, Any], tensors: Tensors, student: PolicyModel, ids_BR: torch.Tensor,
                      mask_BR: torch.Tensor) -> TeacherRows:
        source, k = args["teacher"], args.get("k")
        if source["source"] != "role":
            return wire_teacher_rows(tensors, args["estimator"], k, student, mask_BR)
        teacher = self._role(source["role"], "distill_step (teacher)").model
        views = parse_views(source["views"], "args.teacher.views")
        images = tensors.get("images") if any(has_image(v) for v in views) else None
        prompts = self._encode(teacher, source["views"], images, "distill_step", "teacher.views")
        return in_process_teacher_rows(teacher, source["role"], prompts, student, ids_BR, mask_BR, k)


def _fingerprint(model: PolicyModel) -> float:
    """A float64 sum over the trainable weights: equal on replicas built identically."""
    with torch.no_grad():
        return float(sum(p.detach().double().sum() for p in model.trainable_parameters()))


def _is_sharded(model: PolicyModel) -> bool:
    """A model sharded across the ranks (FSDP2) reduces its own gradients and holds different
    parameter shards per rank; replicated models (`tiny`) are reduced here and compared at load."""
    return bool(getattr(model, "shards_parameters", False))
