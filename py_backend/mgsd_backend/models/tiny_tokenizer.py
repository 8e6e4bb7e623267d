"""The tiny VLM's character-level tokenizer and its own chat template.

Vocabulary (103 ids, fixed; a checkpoint never stores it):
  0 PAD, 1 BOS, 2 EOS, 3 SYSTEM, 4 USER, 5 ASSISTANT (one id per chat role marker),
  6 IMAGE (placeholder of one visual token: the model swaps in a patch embedding there),
  7 '\\n', 8..102 printable ASCII 32..126 (' ' .. '~').

Chat template: BOS, then per message its role id followed by its parts in order (text → one id per
character; the image part → `n_visual` IMAGE ids), then the ASSISTANT id as the generation prompt.
Responses end with EOS. There is no end-of-message id: the next role id separates messages.

Every text id decodes to exactly one character and every special id to none, so the decoded
length up to a token is a count of text ids (`token_char_end` in `Generation`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import View

PAD_ID, BOS_ID, EOS_ID, SYSTEM_ID, USER_ID, ASSISTANT_ID, IMAGE_ID = range(7)
NEWLINE_ID = 7
FIRST_PRINTABLE_ID = 8
FIRST_PRINTABLE, LAST_PRINTABLE = 32, 126
VOCAB_SIZE = FIRST_PRINTABLE_ID + (LAST_PRINTABLE - FIRST_PRINTABLE + 1)
ROLE_IDS = {"system": SYSTEM_ID, "user": USER_ID, "assistant": ASSISTANT_ID}
SPECIAL_NAMES = ("<pad>", "<bos>", "<eos>", "<system>", "<user>", "<assistant>", "<image>")


def encode_text(text: str, where: str) -> list[int]:
    """Characters → ids. `where` names the sample/message for the error message."""
    ids: list[int] = []
    for offset, char in enumerate(text):
        code = ord(char)
        if char == "\n":
            ids.append(NEWLINE_ID)
        elif FIRST_PRINTABLE <= code <= LAST_PRINTABLE:
            ids.append(FIRST_PRINTABLE_ID + code - FIRST_PRINTABLE)
        else:
            raise ValueError(
                f"{where}: character {char!r} (U+{code:04X}) at offset {offset} is not in the tiny "
                "model's vocabulary (printable ASCII 32-126 and newline). Use the `compact` prompt "
                "profile, or replace the character in the prompt/target text."
            )
    return ids


def decode(ids: Sequence[int]) -> str:
    """Ids → text; special ids are dropped. An id outside the vocabulary is a ValueError."""
    chars: list[str] = []
    for token in ids:
        if not 0 <= token < VOCAB_SIZE:
            raise ValueError(f"token id {token} is outside the tiny vocabulary [0, {VOCAB_SIZE})")
        if token == NEWLINE_ID:
            chars.append("\n")
        elif token >= FIRST_PRINTABLE_ID:
            chars.append(chr(FIRST_PRINTABLE + token - FIRST_PRINTABLE_ID))
    return "".join(chars)


def is_text_id(token: int) -> bool:
    """True for ids that decode to one character."""
    return token >= NEWLINE_ID


def render_view(view: View, n_visual: int, sample: int) -> tuple[list[int], bool]:
    """Applies the chat template with the generation prompt → (ids, whether the view has an image).

    Raises ValueError naming the sample when a view holds more than one image part."""
    ids = [BOS_ID]
    n_images = 0
    for index, message in enumerate(view):
        if message.role not in ROLE_IDS:
            raise ValueError(f"sample {sample}, message {index}: unknown role {message.role!r}")
        ids.append(ROLE_IDS[message.role])
        for part in message.content:
            if part.type == "image":
                n_images += 1
                ids.extend([IMAGE_ID] * n_visual)
            else:
                ids.extend(encode_text(part.text or "", f"sample {sample}, message {index} ({message.role})"))
    if n_images > 1:
        raise ValueError(f"sample {sample}: the view has {n_images} image parts; a view holds at most one")
    ids.append(ASSISTANT_ID)
    return ids, n_images == 1
