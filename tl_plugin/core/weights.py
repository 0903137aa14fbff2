"""Per-token loss weights for tool-use SFT: MAE and PKT (TL-Training, Sections 3.1 and 3.2), in a registry.

A transform sees one assistant turn of a tokenized trajectory (`Turn`) and multiplies the weights of its tokens in
place; transforms run in the order asked for, and since they multiply, order does not change the result.
- "mae": a turn with a call the feedback marks as the model's error (Category.is_model_error) gets weight 0. It
  stays in the context: the model still reads the mistake and the feedback that follows, it is only never trained
  to write it. A turn of parallel calls is one generation, so one wrong call masks the whole turn: its right calls
  were written in the same decision as the wrong one, and the retry that follows the feedback trains them.
- "pkt": the key tokens of each call (the first token of the tool name, and every token at which the name diverges
  from another tool name in the sample's tool list sharing its prefix) get CLIP(|NK|/|K|, 1, wmax), K and NK
  counted within the call's own part of the turn. Key tokens are found through character offsets, so any
  tokenizer works.
Register your own with `@register("name")`; `weighted_ranges` applies them to a whole trajectory.
"""

from __future__ import annotations

import bisect
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tl_plugin.core.parsing import name_pattern
from tl_plugin.core.taxonomy import Category, tool_names
from tl_plugin.core.tool_calls import plain_call
from tl_plugin.core.trajectory import call_categories


@dataclass
class Turn:
    """One assistant message of a trajectory as it lands in the token sequence.

    weights: the loss weight of each token of the turn (OpenRLHF's range of that message), 1.0 to start with;
    transforms edit it in place. token_of(i): the index into `weights` of the token holding character i of
    `message["content"]` (i may be len(content): the token right after it), or None when that character is not in
    the turn (the template rewrote the content, or truncation cut it)."""

    message: dict
    categories: list[Category]  # one per call of the turn (tl_plugin.core.trajectory.call_categories)
    tool_names: list[str]  # the names in the sample's tool list: PKT's candidates, kept sorted
    weights: list[float]
    token_of: Callable[[int], int | None]

    def __post_init__(self) -> None:
        self.tool_names = sorted(self.tool_names)  # key_offsets bisects them; linear on an already sorted list


Transform = Callable[..., None]  # transform(turn: Turn, **options) -> None
TRANSFORMS: dict[str, Transform] = {}


def register(name: str) -> Callable[[Transform], Transform]:
    """Decorator adding a transform to the registry under `name` (ToolSFTDataset and --tl.transform use it)."""

    def add(fn: Transform) -> Transform:
        TRANSFORMS[name] = fn
        return fn

    return add


@register("mae")
def mae(turn: Turn) -> None:
    """Masking of erroneous calls: weight 0 for a turn with a call its feedback marks as the model's error."""
    if any(category.is_model_error for category in turn.categories):
        turn.weights[:] = [0.0] * len(turn.weights)


@register("pkt")
def pkt(turn: Turn, wmax: float = 9.0) -> None:
    """Prioritised key tokens, per call: the key tokens K of each call get CLIP(|NK|/|K|, 1, wmax), NK being the
    other tokens of that call's part of the turn (from its name to the next call's name; the first call's part
    starts with the turn, the last one ends with it). Other tokens keep weight 1."""
    names = [plain_call(c)["name"] for c in turn.message.get("tool_calls") or []]
    placed = [
        (turn.token_of(start), name, start)
        for name, start in zip(names, name_offsets(turn.message["content"], names))
        if start is not None and turn.token_of(start) is not None
    ]
    for k, (first, name, start) in enumerate(placed):
        begin = 0 if k == 0 else first
        end = placed[k + 1][0] if k + 1 < len(placed) else len(turn.weights)
        keys = {turn.token_of(start + offset) for offset in key_offsets(name, turn.tool_names)} - {None}
        keys = {index for index in keys if begin <= index < end}
        if keys:
            weight = min(max((end - begin - len(keys)) / len(keys), 1.0), wmax)
            for index in keys:
                turn.weights[index] *= weight


def key_offsets(name: str, names: Sequence[str]) -> list[int]:
    """Character offsets in `name` where a key token sits: 0, and where it stops sharing a prefix with each other
    candidate (len(name) when the name is itself a prefix of another one: the token after it decides).

    names: the candidates, sorted (as weighted_ranges gives them). The names sharing a prefix of `name` are one
    run of the sorted list, found by bisection and narrowed prefix by prefix: O(len(name) log len(names)) a call.
    Some other name shares exactly k characters where fewer others share k + 1 than share k."""
    if not name:
        return [0]
    lo, hi = 0, len(names)
    equal = bisect.bisect_right(names, name) - bisect.bisect_left(names, name)  # `name` itself is no other
    offsets, sharing = [0], None  # sharing: how many other names share the prefix before this one
    for k in range(1, len(name) + 1):
        prefix = name[:k]
        lo = bisect.bisect_left(names, prefix, lo, hi)
        if prefix[-1] != _LAST_CHAR:  # the run ends before the first name past every one starting with prefix
            hi = bisect.bisect_left(names, prefix[:-1] + chr(ord(prefix[-1]) + 1), lo, hi)
        others = hi - lo - equal
        if sharing is not None and others < sharing:
            offsets.append(k - 1)
        if others == 0:
            return offsets
        sharing = others
    return offsets + [len(name)]  # longer names start with all of it


_LAST_CHAR = chr(0x10FFFF)


def name_offsets(content: str, names: Sequence[str]) -> list[int | None]:
    """Where each call's tool name starts in the assistant text, matched in order; None when not found.

    The name is anchored the way the call syntaxes write it (tl_plugin.core.parsing.name_pattern), so a thought
    that mentions the tool earlier is not taken for the call; a bare mention is the fallback."""
    found, pos = [], 0
    for name in names:
        match = name_pattern(name).search(content, pos)
        match = match or re.compile(rf"(?<![\w.])({re.escape(name)})(?![\w.])").search(content, pos)
        if match is None:
            found.append(None)
            continue
        group = 1 if match.group(1) is not None else len(match.groups())
        found.append(match.start(group))
        pos = match.end(group)
    return found


def weighted_ranges(
    sample: dict,
    text: str,
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[tuple[int, int]],
    transforms: Sequence[tuple[str, dict]],
) -> list[tuple[int, int, float]]:
    """Token weights of a trajectory as (start, end, weight) runs of token indices, end inclusive, zeros left out.

    sample: the internal trajectory ({"tools", "messages"}); text: its rendered text as tokenized, `offsets` the
    character span of each token; spans: the character span of each assistant message's rendered response (its
    content and end-of-turn marker) in `text`, in order; transforms: (registry name, options) pairs, applied to
    every assistant turn. A turn's tokens are those holding a character of its span."""
    messages = sample["messages"]
    assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    categories: dict[int, list[Category]] = {i: [] for i in assistants}
    for index, _, category in call_categories(sample):
        categories[index].append(category)
    names = sorted(tool_names(sample.get("tools") or []) - {None})
    starts, ends = [start for start, _ in offsets], [end for _, end in offsets]
    runs = []
    for index, (begin, stop) in zip(assistants, spans):
        first, last = bisect.bisect_right(ends, begin), bisect.bisect_left(starts, stop) - 1
        if first > last:  # truncated away
            continue
        content = messages[index]["content"]
        at = text.find(content, begin, stop)
        if at < 0:
            warnings.warn(
                "an assistant message is not verbatim in the chat template's output; PKT cannot place "
                "its key tokens (they keep weight 1)",
                stacklevel=2,
            )

        def token_of(char: int, at: int = at, first: int = first, last: int = last) -> int | None:
            token = bisect.bisect_right(ends, at + char)  # the first token ending after the character
            return token - first if at >= 0 and first <= token <= last else None

        turn = Turn(messages[index], categories[index], names, [1.0] * (last - first + 1), token_of)
        for name, options in transforms:
            TRANSFORMS[name](turn, **options)
        runs.extend(_runs(turn.weights, first))
    return runs


def _runs(weights: list[float], first: int) -> list[tuple[int, int, float]]:
    """Runs of equal nonzero weight as (start, end, weight), token indices offset by `first`."""
    runs = []
    for i, weight in enumerate(weights):
        if weight == 0.0:
            continue
        if runs and runs[-1][2] == weight and runs[-1][1] == first + i - 1:
            runs[-1] = (runs[-1][0], first + i, weight)
        else:
            runs.append((first + i, first + i, weight))
    return runs
