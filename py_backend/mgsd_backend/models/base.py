"""The interface every model kind of the backend implements (`tiny`, `hf`).

The server (`server.py`) and the losses (`losses/`) only talk to models through `PolicyModel`, so a
new model kind is one new module plus one line in `registry.py`.

Sampling is its own interface, `Sampler` (docs/sampler.md): the worker samples a role through
`sampler.generate` and, after every optimizer step of the role, calls `sampler.update_weights`.
`InProcessSampler` (the `hf` and `tiny` implementation) runs the policy's own `generate` on the
live weights; another engine (e.g. a colocated vLLM) can implement `Sampler` later: it receives
the same encoded prompts and sampling params, and the new weights after each step.

Views. A *view* is one sample's prompt as chat messages (`ChatMessage` below), exactly as the
TypeScript side built them; Python never writes prompt text, it only applies the model's own chat
template. An image part stands for the sample's image, row `i` of the request's `images_BHWC`
(uint8, RGB). A view has at most one image part.

Responses. Response token ids are right-padded to R columns with `response_mask_BR` marking real
tokens (a response ends with the model's EOS token when generation stopped there). They come
back from `generate` and go back unchanged to `response_hidden`, so nothing is re-tokenised.

Dimension letters used in tensor names: B batch, P prompt length, R response length, T total
length, D hidden width, V vocabulary, K top-k, N flattened (masked) token rows, H/W image pixels,
C image channels.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatPart:
    """A text piece, or the sample's image (`text` is None)."""

    type: Literal["text", "image"]
    text: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: tuple[ChatPart, ...]


View = tuple[ChatMessage, ...]


@dataclass
class EncodedPrompts:
    """Prompts turned into model inputs. `inputs` is model-specific and opaque to callers.

    `batch_size` rows; `has_images` tells whether the image reached the model (the guard against
    the silent "blind model" failure: the server checks it against the views).
    """

    batch_size: int
    has_images: bool
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Generation:
    """Sampled responses.

    response_ids_BR: int64, right-padded with the model's pad id.
    response_mask_BR: bool, True on real tokens (EOS included when generated).
    logprobs_BR: float32, log-prob of each sampled token under the sampling distribution at
        temperature 1 of the *unprocessed* logits divided by the temperature (0 where masked).
    token_char_end_BR: int32, length in characters of the decoded text up to and including each
        token (lets TypeScript map text segments to tokens); 0 where masked.
    texts: decoded responses, special tokens removed.
    """

    response_ids_BR: torch.Tensor
    response_mask_BR: torch.Tensor
    logprobs_BR: torch.Tensor
    token_char_end_BR: torch.Tensor
    texts: list[str]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Row b's randomness derives from (`seed`, `row_offset + b`) only (sampling.py),
    so a worker serving rows [a, c) of a larger batch passes `row_offset=a` and samples exactly
    what the whole batch would for those rows."""

    max_new_tokens: int
    temperature: float  # 0 means greedy
    top_p: float
    seed: int
    row_offset: int = 0
    """Global index of the first row of this batch: a rank serving rows [a, b) of a request passes
    a, so per-row seeds can follow the row, not the rank (models derive row i's seed from seed and
    row_offset + i)."""


class PolicyModel(abc.ABC):
    """A causal (vision-)language model the backend can sample from, score with and train."""

    kind: str

    # ---- tokenizer side -------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """Width V of the logits."""

    @property
    @abc.abstractmethod
    def eos_id(self) -> int: ...

    @property
    @abc.abstractmethod
    def pad_id(self) -> int: ...

    @abc.abstractmethod
    def encode_prompts(self, views: list[View], images_BHWC: torch.Tensor | None) -> EncodedPrompts:
        """Applies the chat template (with the generation prompt) and prepares image inputs.

        Raises ValueError naming the sample when a view and `images_BHWC` disagree (an image part
        without an image row, or an image row no view uses)."""

    @abc.abstractmethod
    def encode_targets(self, texts: list[str], append_eos: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenises SFT target responses → (ids_BR int64 right-padded, mask_BR bool)."""

    @abc.abstractmethod
    def decode(self, ids: list[int]) -> str:
        """Token ids → text, special tokens removed."""

    # ---- compute --------------------------------------------------------------------------
    @abc.abstractmethod
    def generate(self, prompts: EncodedPrompts, params: SamplingParams) -> Generation:
        """Samples one response per prompt (KV cache, seeded, batched). Runs without grad."""

    @abc.abstractmethod
    def response_hidden(
        self, prompts: EncodedPrompts, response_ids_BR: torch.Tensor, response_mask_BR: torch.Tensor
    ) -> torch.Tensor:
        """Final hidden states hidden_BRD at the positions that predict each response token
        (position P+j-1 predicts response token j). Differentiable when grad is enabled."""

    @abc.abstractmethod
    def logits(self, hidden_ND: torch.Tensor) -> torch.Tensor:
        """Output head: hidden rows → logits_NV in float32. Callers chunk N to bound memory."""

    # ---- training state -------------------------------------------------------------------
    @abc.abstractmethod
    def trainable_parameters(self) -> list[torch.nn.Parameter]: ...

    @abc.abstractmethod
    def train(self, mode: bool = True) -> None: ...

    @abc.abstractmethod
    def save(self, directory: str) -> None:
        """Writes weights (safetensors) and whatever is needed to load them into `directory`,
        which the caller created and will rename into place (atomicity is the caller's job)."""

    def compute_context(self, sampling: bool = False) -> contextlib.AbstractContextManager:
        """The context every op runs the model under (mixed-precision autocast, gathering a sharded
        root before sampling). Default: nothing to set up."""
        return contextlib.nullcontext()

    @property
    def has_adapter(self) -> bool:
        """True when training goes through an adapter (LoRA) whose weights `save` merges."""
        return False

    @property
    def shards_parameters(self) -> bool:
        """True when the weights are FSDP shards (then `save` is a collective that writes on rank 0)."""
        return False

    def module(self) -> torch.nn.Module | None:
        """The torch module whose state a sharded (DCP) checkpoint saves; None if not supported."""
        return None

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able facts for the run manifest: kind, parameter counts, dtype, device, vocab."""

    def named_weights(self) -> Iterable[tuple[str, torch.Tensor]]:
        """(name, tensor) of every weight as the model's own checkpoint names them: what a sampler
        that holds its own copy of the weights receives after each step."""
        raise NotImplementedError(f"model kind {self.kind!r} does not expose named weights; an external sampler "
                                  f"cannot be fed from it (the in-process sampler does not need them)")


WeightSource = Callable[[], Iterable[tuple[str, torch.Tensor]]]


class Sampler(abc.ABC):
    """Generates responses for one role from prompts its policy encoded (docs/sampler.md).

    Contract: `generate` follows `PolicyModel.generate` exactly (row-seeded sampling, the log-prob
    semantics of `Generation.logprobs_BR`, responses that `response_hidden` accepts unchanged).
    `update_weights` is called after every optimizer step of the role, before the next `generate`;
    after it returns, sampling must see the new weights and nothing derived from the old ones
    (prefix/KV caches, vision-encoder output caches)."""

    @abc.abstractmethod
    def generate(self, prompts: EncodedPrompts, params: SamplingParams) -> Generation: ...

    @abc.abstractmethod
    def update_weights(self, weights: WeightSource, step: int) -> None:
        """The role's weights changed (optimizer step `step`). `weights()` yields them by name,
        lazily: a sampler that shares the live tensors never calls it."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able facts: which engine, the last weight version it saw."""


class InProcessSampler(Sampler):
    """Samples with the policy itself, on its live weights (the `hf` and `tiny` samplers).

    It holds no cache across `generate` calls (the KV cache and the vision features live for one
    call), so a weight update has nothing to reset; it only records the version."""

    def __init__(self, policy: PolicyModel) -> None:
        self.policy = policy
        self.weights_step = 0

    def generate(self, prompts: EncodedPrompts, params: SamplingParams) -> Generation:
        self.policy.train(False)
        return self.policy.generate(prompts, params)

    def update_weights(self, weights: WeightSource, step: int) -> None:
        self.weights_step = step

    def describe(self) -> dict[str, Any]:
        return {"engine": "in-process", "kind": self.policy.kind, "weights_step": self.weights_step}
