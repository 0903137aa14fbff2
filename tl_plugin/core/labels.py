"""The label of a PPO prompt: what the IRM reward judges responses against, read and checked field by field.

One JSON string per prompt (`tl-prompts` writes them, `tl-prompts check FILE` checks a dataset of them):
    {
      "tools": [{"name": "get_weather", "description": "...",
                 "parameters": {"type": "object", "properties": {...}, "required": [...]}}, ...],
      "gold":  [{"name": "get_weather", "arguments": {"city": "Paris"}}, ...],
      "mode":  "exact"
    }
- tools (required, non-empty): the tool list the model saw, in order (OpenAI function schemas;
  `{"type": "function", "function": ...}` wrappers and bare names are accepted).
- gold (required): the acceptable answers. A list of calls means any one of them is right (RoTBench's
  alternatives); a list of lists means any one of those call sets is right, each set made together in any order
  (parallel calls); a single call object is one acceptable call. Every gold tool is in `tools`.
- mode: how values are compared, "exact" (default), "rotbench" or "bfcl" (argument values are lists of accepted
  values, "" = may be omitted); see `tl_plugin.core.judge`.
- reading (optional): "official" (default) reads rotbench and bfcl responses as the benchmark's scorer does;
  "tolerant" uses our parser. category (optional, bfcl): the BFCL test category, e.g. "parallel_multiple".
Other keys are allowed (the agent's labels also carry their task). A label that breaks a rule raises `LabelError`
naming the field: a label without tools, or whose gold tool is not among them, would otherwise score every
correct answer as a hallucinated tool, silently training the model away from it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from tl_plugin.core.judge import MODES, READINGS, Gold
from tl_plugin.core.parsing import MAX_DEPTH, parse, too_deep


class LabelError(ValueError):
    """A label the reward cannot use; `field` is where it is wrong ("" for the whole label), e.g. "gold[0].name"."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"label field {field!r}: {problem}" if field else f"label: {problem}")


def read_label(text: str) -> Gold:
    """The prepared gold of one label string; LabelError naming the first field that breaks the schema above."""
    if not isinstance(text, str):
        raise LabelError("", f"expected a JSON string, got {type(text).__name__}")
    try:  # orjson: twice as fast as json on labels, which every distinct prompt's first sample pays for
        spec = orjson.loads(text)
    except orjson.JSONDecodeError as e:  # also a lone surrogate, NaN, and nesting over 1,024 levels
        raise LabelError("", f"not JSON ({e})") from None
    if not isinstance(spec, dict):
        raise LabelError("", f'expected a JSON object {{"tools", "gold", "mode"}}, got {_kind(spec)}')
    tools = spec.get("tools")
    if tools is None:
        raise LabelError("tools", "missing: give the tool list the model saw (without it every call is hallucinated)")
    if not isinstance(tools, list) or not tools:
        raise LabelError("tools", f"expected a non-empty list of tool schemas, got {_kind(tools)}")
    mode, reading, category = spec.get("mode", "exact"), spec.get("reading", "official"), spec.get("category")
    for field, value, allowed in (("mode", mode, MODES), ("reading", reading, READINGS)):
        if value not in allowed:
            raise LabelError(field, f"expected one of {', '.join(allowed)}, got {value!r:.80}")
    if category is not None and not isinstance(category, str):
        raise LabelError("category", f"expected a string such as 'parallel', got {_kind(category)}")
    calls = [(field, _read_call(field, call)) for field, call in _gold_calls(spec.get("gold"))]
    try:  # Gold reads the tools once, and lists the schema parts it could not use
        gold = Gold(spec["gold"], tools, mode, reading, category)
    except ValueError as e:  # what the checks above cannot see
        raise LabelError("gold", str(e)) from None
    for i, name in enumerate(gold.names):
        if not isinstance(name, str) or not name:
            raise LabelError(f"tools[{i}].name", f"expected a tool name, got {_kind(name)}")
    if gold.problems:
        i, field, problem = gold.problems[0]
        raise LabelError(f"tools[{i}].parameters{field}", problem)
    for field, name in calls:
        if name not in gold.params:
            raise LabelError(
                f"{field}.name", f"{name!r:.80} is not in the label's tools: the right answer would score -2"
            )
    return gold


def _gold_calls(gold: Any) -> list[tuple[str, Any]]:
    """(field, call) of every gold call, in the three shapes the schema allows."""
    if gold is None:
        raise LabelError("gold", "missing: give the acceptable answer(s)")
    if isinstance(gold, (dict, str)):
        return [("gold", gold)]
    if not isinstance(gold, list) or not gold:
        raise LabelError("gold", f"expected a call, a non-empty list of calls or of call lists, got {_kind(gold)}")
    sets = [isinstance(answer, list) for answer in gold]
    if any(sets) and not all(sets):
        raise LabelError("gold", "mixes calls and lists of calls: use one shape")
    if not any(sets):
        return [(f"gold[{i}]", call) for i, call in enumerate(gold)]
    for i, answer in enumerate(gold):
        if not answer:
            raise LabelError(f"gold[{i}]", "an acceptable answer with no calls")
    return [(f"gold[{i}][{j}]", call) for i, answer in enumerate(gold) for j, call in enumerate(answer)]


def _read_call(field: str, call: Any) -> str:
    """The tool name of one gold call; LabelError if the call is not a readable one."""
    if isinstance(call, str):  # one call's text, in any format parse reads
        parsed = parse(call)
        if parsed.error or len(parsed.calls) != 1:
            raise LabelError(field, f"a call's text must hold exactly one readable call ({parsed.error or 'none'})")
        name, arguments = parsed.calls[0].name, parsed.calls[0].arguments
    elif isinstance(call, dict):
        name, arguments = call.get("name"), call.get("arguments", {})
        if not isinstance(name, str) or not name:
            raise LabelError(f"{field}.name", f"expected a tool name, got {_kind(name)}")
        if not isinstance(arguments, dict):
            raise LabelError(f"{field}.arguments", f"expected an object of argument values, got {_kind(arguments)}")
    else:
        raise LabelError(field, f'expected a call {{"name", "arguments"}}, got {_kind(call)}')
    if too_deep(arguments):
        raise LabelError(f"{field}.arguments", f"nested over {MAX_DEPTH} levels deep")
    return name


def _kind(value: Any) -> str:
    """A short description of a wrong value: its JSON type, and itself when short."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    if value is None:
        return "null"
    if value in ([], {}):
        return f"an empty {'list' if value == [] else 'object'}"
    shown = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, (dict, list)) else ""
    kind = kinds.get(type(value), type(value).__name__)
    return f"{kind} {shown}" if shown and len(shown) <= 40 else kind
