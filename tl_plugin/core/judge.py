"""The one judge of tool calls against gold answers, shared by the IRM reward and by evaluation (TS/PI/CF, BFCL AST).

`judge(prediction, gold, tools, mode, reading)` -> `Verdict`.
- prediction: model text (parsed with `tl_plugin.core.parsing.parse`) or an already `Parsed` output.
- gold: one call `{"name", "arguments"}`; a list of acceptable calls (any one will do: RoTBench); or a list of
  acceptable answers, each a list of calls made together (parallel calls, matched in any order: BFCL). Calls may be
  `ToolCall`s, dicts, or call text in any format `parse` reads. A `Gold` prepares all this once for many predictions.
- tools: the tool list the model saw (OpenAI schemas, `{"type": "function", "function": schema}`, or bare names).
- mode, which decides how values are compared:
  "rotbench": under the official reading, RoTBench's scorer decides (tl_plugin.core.rotbench: Python ==, an empty
    input always fails). Our findings, and the tolerant reading's flags, compare exact values, case- and
    type-sensitive (True is not 1; 1 equals 1.0); a gold value "None" accepts anything; values are unchecked when
    the gold is the last (finish) or second-to-last (ask_to_user) tool of the list or is named finish or
    ask_to_user, and the literal name "finish" counts as the last tool. The tolerant reading scores an empty input
    right where a gold answer is itself `{}` (a tool without parameters), which RoTBench's scorer never does.
  "exact": exact values as above, but no positional rules: values unchecked for finish/ask names (FINISH_NAMES,
    ASK_NAMES) only; for our own data, whose tool lists need not end with finish and ask_to_user.
  "bfcl": gold values are lists of accepted values ("" = the key may be omitted); BFCL AST rules: types from the
    schema (an int may stand for a float), strings compared lower-cased without spaces and ,./-_*^.
Parameter keys: hallucinated = not in the tool's schema (nor the gold); redundant = in the schema but not in the
gold; missing = a gold key (bfcl: one without "", or a schema-required one) the prediction lacks.
reading, how model text is read and who has the last word (only for text predictions in modes rotbench and bfcl):
  "official" (default): the benchmark's own scorer reads the text and decides TS/PI/CF and correctness
    (tl_plugin.core.rotbench, tl_plugin.core.bfcl); a text it cannot read is a format error, and the findings are
    brought in line with its verdict, so the reward never praises what the benchmark fails nor the reverse;
  "tolerant": our parser (any format, Python-style dicts, code fences, trailing text) and the rules above. Scores
    under it are reported in their own column, never mixed with official ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any

from tl_plugin.core import bfcl, rotbench
from tl_plugin.core.parsing import (
    ASK_NAMES,
    FINISH_NAMES,
    MAX_CALLS,
    MAX_DEPTH,
    MAX_TEXT_CHARS,
    Parsed,
    ToolCall,
    parse,
    too_deep,
    too_many_calls,
)
from tl_plugin.core.rewards import IRM_TABLE, pooled_reward
from tl_plugin.core.taxonomy import function_schema

MODES = ("rotbench", "exact", "bfcl")
READINGS = ("official", "tolerant")


@dataclass(frozen=True)
class Verdict:
    """The judgement of one model output. Negative findings are flags, so they can be counted and rewarded."""

    parsed: bool
    error: str | None = None  # the format error, for the model
    tool_hallucinated: bool = False  # a called tool is not in the tool list
    wrong_tool: bool = False  # a listed tool, but not the gold one (or the wrong number of calls)
    hallucinated_keys: tuple[str, ...] = ()
    redundant_keys: tuple[str, ...] = ()
    missing_keys: tuple[str, ...] = ()
    content_mismatch: bool = False
    ts: bool = False  # tool selection right
    pi: bool = False  # ... and parameter keys right
    cf: bool = False  # ... and content right

    @property
    def parameter_error(self) -> bool:
        return bool(self.hallucinated_keys or self.redundant_keys or self.missing_keys)

    @property
    def correct(self) -> bool:
        return not self.findings

    @property
    def findings(self) -> tuple[str, ...]:
        """The negative findings in the IRM table's terms (tl_plugin.core.rewards), empty when correct."""
        if not self.parsed:
            return ("format_error",)
        if not (self.tool_hallucinated or self.wrong_tool or self.parameter_error or self.content_mismatch):
            return ()  # the common case first: the reward asks every verdict
        flags = (
            ("tool_hallucination", self.tool_hallucinated),
            ("wrong_tool", self.wrong_tool),
            ("parameter_hallucination", self.hallucinated_keys),
            ("parameter_redundant", self.redundant_keys),
            ("parameter_missing", self.missing_keys),
            ("content_mismatch", self.content_mismatch),
        )
        return tuple(name for name, on in flags if on)

    @property
    def message(self) -> str:
        """One line saying what is wrong ("" when correct), for logs."""
        if not self.parsed:
            return self.error or "no tool call found"
        found = [
            "tool not in the tool list" if self.tool_hallucinated else "",
            "wrong tool or number of calls" if self.wrong_tool else "",
            f"unknown keys {list(self.hallucinated_keys)}" if self.hallucinated_keys else "",
            f"redundant keys {list(self.redundant_keys)}" if self.redundant_keys else "",
            f"missing keys {list(self.missing_keys)}" if self.missing_keys else "",
            "wrong values" if self.content_mismatch else "",
        ]
        return "; ".join(item for item in found if item)


class Gold:
    """Gold answers and the tool list, prepared once to judge many predictions (the reward caches these)."""

    def __init__(
        self,
        gold: Any,
        tools: Iterable[Any],
        mode: str = "rotbench",
        reading: str = "official",
        category: str | None = None,
    ) -> None:
        """category: the BFCL test category (simple, multiple, parallel, ...); by default read off the gold and the
        tool list: several gold calls are parallel, one call among several tools multiple."""
        if mode not in MODES:
            raise ValueError(f"unknown judge mode {mode!r}; expected one of {MODES}")
        if reading not in READINGS:
            raise ValueError(f"unknown reading {reading!r}; expected one of {READINGS}")
        self.mode, self.reading = mode, reading
        self.alternatives = _alternatives(gold)
        if any(too_deep(call.arguments) for answer in self.alternatives for call in answer):
            raise ValueError(f"gold arguments nest over {MAX_DEPTH} levels deep")  # as parse bounds predictions
        # Only what judging reads is kept: a cached Gold holding its whole label gives the garbage collector the
        # label's every object to walk, which halved the reward's throughput. BFCL's scorer reads full schemas.
        self.names: list = []  # in order, duplicates kept (RoTBench)
        self.params: dict[str, tuple[dict | None, tuple[str, ...]]] = {}  # name -> (properties, required keys)
        self.problems: list[tuple[int, str, str]] = []  # (tool index, field, what is wrong) of unused schema parts
        self.functions = []
        for i, tool in enumerate(tools or ()):
            schema = function_schema(tool) if isinstance(tool, dict) else {"name": tool}
            name = schema.get("name")
            self.names.append(name)
            if mode == "bfcl":
                self.functions.append(schema)
            if isinstance(name, str):  # the last tool of a name wins
                self.params[name] = self._parameters(i, schema.get("parameters"), mode == "bfcl")
        # RoTBench's positional rules: the last tool is finish, the second-to-last ask_to_user
        self.unchecked = (
            {*self.names[-2:], *rotbench.UNCHECKED_NAMES}
            if mode == "rotbench"
            else FINISH_NAMES | ASK_NAMES
            if mode == "exact"
            else set()
        )
        self.finish_alias = self.names[-1] if mode == "rotbench" and self.names else None
        many = len(self.alternatives[0]) > 1
        self.category = category or ("parallel" if many else "multiple" if len(self.names) > 1 else "simple")

    def _parameters(self, i: int, parameters: Any, specs: bool) -> tuple[dict | None, tuple[str, ...]]:
        """(properties, required keys) of tool i's parameter schema; properties maps each key to its schema when
        `specs` (BFCL compares values by type), else to None, and is None when the keys are unknown, so none counts
        as hallucinated. Schemas come from users: only their well-formed parts count; the others are listed in
        `problems`, for callers that want them fixed (tl_plugin.core.labels)."""
        if parameters is None:
            return None, ()
        if not isinstance(parameters, dict):
            self.problems.append((i, "", "expected a JSON schema object"))
            return None, ()
        given, listed = parameters.get("properties", {}), parameters.get("required", [])
        properties, required = None, ()
        if isinstance(given, dict):
            properties = (
                {k: v if isinstance(v, dict) else {} for k, v in given.items()} if specs else dict.fromkeys(given)
            )
        if not isinstance(given, dict) or not all(map(isinstance, given.values(), repeat(dict))):
            self.problems.append((i, ".properties", "expected an object of parameter name -> schema object"))
        if isinstance(listed, list) and all(map(isinstance, listed, repeat(str))):
            required = tuple(listed)
        elif isinstance(listed, list):
            required = tuple(k for k in listed if isinstance(k, str))
            self.problems.append((i, ".required", "expected a list of parameter names"))
        else:
            self.problems.append((i, ".required", "expected a list of parameter names"))
        return properties, required


def _alternatives(gold: Any) -> list[list[ToolCall]]:
    if isinstance(gold, (ToolCall, dict, str)):
        return [[_as_call(gold)]]
    gold = list(gold)
    if not gold:
        raise ValueError("gold is empty: give at least one acceptable call")
    if all(isinstance(answer, (list, tuple)) for answer in gold):
        if not all(gold):
            raise ValueError("an acceptable answer in gold has no calls")
        return [[_as_call(call) for call in answer] for answer in gold]
    return [[_as_call(call)] for call in gold]


def _as_call(call: Any) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, dict) and isinstance(call.get("name"), str) and isinstance(call.get("arguments", {}), dict):
        return ToolCall(call["name"], call.get("arguments", {}))
    if isinstance(call, str):
        parsed = parse(call)
        if len(parsed.calls) == 1:
            return parsed.calls[0]
    raise ValueError(f"a gold call must be {{'name', 'arguments'}} or one call's text, got {call!r:.200}")


def judge(
    prediction: str | Parsed,
    gold: Any,
    tools: Iterable[Any] | None = None,
    mode: str = "rotbench",
    reading: str = "official",
    max_chars: int | None = MAX_TEXT_CHARS,
) -> Verdict:
    """Judge one model output against the gold answer(s); the closest acceptable answer decides the findings.

    gold may be a prepared `Gold` (then tools, mode and reading come from it). A text over `max_chars` characters
    is a format error (tl_plugin.core.parsing.MAX_TEXT_CHARS; None: no limit). Never raises on any prediction."""
    ref = gold if isinstance(gold, Gold) else Gold(gold, tools, mode, reading)
    if isinstance(prediction, str) and max_chars is not None and len(prediction) > max_chars:
        prediction = parse(prediction, max_chars=max_chars)  # the format error that says so
    if isinstance(prediction, str) and ref.reading == "official" and ref.mode in ("rotbench", "bfcl"):
        return _judge_official(prediction, ref)
    parsed = prediction if isinstance(prediction, Parsed) else parse(prediction, max_chars=max_chars)
    if parsed.error is not None or not parsed.calls:
        return Verdict(parsed=False, error=parsed.error or "no tool call found; the task needs a tool call")
    return _judge_calls(parsed.calls, ref)


def _judge_calls(calls: list[ToolCall], ref: Gold) -> Verdict:
    verdicts = [_judge_answer(calls, answer, ref) for answer in ref.alternatives]
    best = max(verdicts, key=lambda v: pooled_reward(v.findings))  # the closest: what the reward scores highest
    # TS/PI/CF: each may be met by a different acceptable answer, as in RoTBench's scorer
    ts, pi, cf = (any(getattr(v, flag) for v in verdicts) for flag in ("ts", "pi", "cf"))
    empty_gold = any(not call.arguments for answer in ref.alternatives for call in answer)
    if ref.mode == "rotbench" and not all(call.arguments for call in calls) and not empty_gold:
        ts = pi = cf = False  # RoTBench fails an Action Input that is not a non-empty dict (see the docstring)
    return best if (ts, pi, cf) == (best.ts, best.pi, best.cf) else replace(best, ts=ts, pi=pi, cf=cf)


def _judge_official(text: str, ref: Gold) -> Verdict:
    """The benchmark's scorer reads the text and gives the verdict; our findings say why, for the reward."""
    if ref.mode == "rotbench":
        action, value = rotbench.read(text)
        answers = [(answer[0].name, answer[0].arguments) for answer in ref.alternatives]
        ts, pi, cf = rotbench.score(action, value, answers, ref.names)
        if not isinstance(value, dict) or not value:
            error = "Action Input is not a non-empty JSON object (the whole rest of the text must be one)"
            return Verdict(parsed=False, error=error, ts=ts)
        calls = [ToolCall(action, value)]
        wrong_name = not ts
    else:
        try:
            calls = bfcl.decode(text)
        except bfcl.DecodeError as e:
            return Verdict(parsed=False, error=f"not a list of Python calls with literal arguments: {e}"[:300])
        if not calls or len(calls) > MAX_CALLS:
            error = too_many_calls(len(calls)) if calls else "no tool call found; the task needs a tool call"
            return Verdict(parsed=False, error=error)
        possible_answer = [{call.name: call.arguments} for call in ref.alternatives[0]]
        cf, error_type = bfcl.check(ref.functions, calls, possible_answer, ref.category)
        wrong_name = "wrong_count" in str(error_type) or "wrong_func_name" in str(error_type)
    verdict = _judge_calls(calls, ref)
    if cf:
        return Verdict(parsed=True, ts=True, pi=True, cf=True)
    if verdict.correct:  # a rule of the scorer's that our findings do not know: name the failed level
        verdict = replace(verdict, wrong_tool=True) if wrong_name else replace(verdict, content_mismatch=True)
    # RoTBench's flags are the scorer's; BFCL's scorer has one verdict (cf), TS/PI stay ours
    return replace(verdict, ts=ts, pi=pi, cf=False) if ref.mode == "rotbench" else replace(verdict, cf=False)


def _judge_answer(predicted: list[ToolCall], answer: list[ToolCall], ref: Gold) -> Verdict:
    """Pair each gold call with the closest unused predicted call (any order, as BFCL does) and pool the findings.

    Gold calls with the fewest fully right candidates pick first, so a gold that accepts several values does not
    take the only call another gold would accept (BFCL's first-come pairing can miss such matches)."""
    checks = [[_check(call, gold_call, ref) for call in predicted] for gold_call in answer]
    order = sorted(range(len(answer)), key=lambda g: sum(check[0] == _PERFECT for check in checks[g]))
    unused = list(range(len(predicted)))
    hallucinated, redundant, missing = [], [], []
    wrong = len(predicted) != len(answer)
    content = False
    for g in order:
        if not unused:
            break
        i = min(unused, key=lambda p: checks[g][p][0])
        _, name_ok, h, r, m, c = checks[g][i]
        unused.remove(i)
        wrong |= not name_ok
        hallucinated += h
        redundant += r
        missing += m
        content |= c
    tool_hallucinated = any(
        call.name not in ref.params and not (call.name == "finish" and ref.finish_alias) for call in predicted
    )
    keys_ok = not (hallucinated or redundant or missing)
    return Verdict(
        parsed=True,
        tool_hallucinated=tool_hallucinated,
        wrong_tool=wrong and not tool_hallucinated,
        hallucinated_keys=tuple(hallucinated),
        redundant_keys=tuple(redundant),
        missing_keys=tuple(missing),
        content_mismatch=content,
        ts=not wrong,
        pi=not wrong and keys_ok,
        cf=not wrong and keys_ok and not content,
    )


_PAIR_FINDINGS = ("parameter_hallucination", "parameter_redundant", "parameter_missing", "content_mismatch")
_PERFECT = (False, -IRM_TABLE["correct"])  # the rank of a right name with right keys and values


def _check(call: ToolCall, gold: ToolCall, ref: Gold) -> tuple:
    """(rank, name ok, hallucinated keys, redundant keys, missing keys, content mismatch) of one pairing."""
    if call.name != gold.name and not (call.name == "finish" and gold.name == ref.finish_alias):
        return (True, 0.0), False, [], [], [], False
    properties, required = ref.params.get(gold.name, (None, ()))
    predicted, expected = call.arguments, gold.arguments
    if ref.mode == "bfcl":
        needed = [k for k, accepted in expected.items() if not (isinstance(accepted, list) and "" in accepted)]
        needed += [k for k in required if k not in expected]
    else:
        needed = expected
    extra = [k for k in predicted if k not in expected]
    hallucinated = [k for k in extra if properties is not None and k not in properties]
    redundant = [k for k in extra if properties is None or k in properties]
    missing = [k for k in needed if k not in predicted]
    content = gold.name not in ref.unchecked and not all(
        _value_ok(predicted[k], v, ref.mode, properties and properties.get(k))
        for k, v in expected.items()
        if k in predicted
    )
    found = [f for f, on in zip(_PAIR_FINDINGS, (hallucinated, redundant, missing, content)) if on]
    rank = (False, -pooled_reward(found))  # a right name first, then what the reward prefers
    return rank, True, hallucinated, redundant, missing, content


def _value_ok(value: Any, gold: Any, mode: str, spec: dict | None) -> bool:
    if mode == "bfcl":
        return _bfcl_ok(value, gold if isinstance(gold, list) else [gold], spec or {})
    return (mode == "rotbench" and gold == "None") or _same(value, gold)


_NUMBERS = (int, float)


def _same(a: Any, b: Any) -> bool:
    """JSON equality, type-sensitive: "1" != 1 and True != 1, while 1 == 1.0 (one JSON number)."""
    if type(a) is not type(b) and not (type(a) in _NUMBERS and type(b) in _NUMBERS):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


# ---- BFCL AST value rules (bfcl/eval_checker/ast_eval/ast_checker.py, Python language) ----

_BFCL_TYPES = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


def _std(value: Any) -> Any:
    """BFCL's string normalisation; other values unchanged."""
    return _BFCL_STRIP.sub("", value).lower().replace("'", '"') if isinstance(value, str) else value


def _bfcl_ok(value: Any, accepted: list, spec: dict) -> bool:
    expected = _python_type(spec)
    nested = _python_type(spec.get("items")) if expected is list else None
    if expected is float and type(value) is int:  # Python would convert an int where a float is expected
        value = float(value)
    answer_type = next((type(a) for a in accepted if a != ""), None)
    # a gold of another type than the schema's is a variable name: then only the exact value will do
    variable = answer_type is not None and answer_type is not expected
    if expected is not None and type(value) is not expected:
        if type(value) is not answer_type:
            return False
        variable = True
    elif nested is not None and not any(
        not isinstance(option, list) or all(type(v) is nested or _first_type(option) is type(v) for v in value)
        for option in accepted
    ):
        return False
    if variable or expected is None:
        return value in accepted
    if expected is dict:
        return any(_bfcl_dict_ok(value, option) for option in accepted if isinstance(option, dict))
    if expected is list and nested is dict:
        return any(
            isinstance(option, list) and len(option) == len(value) and all(map(_bfcl_dict_ok, value, option))
            for option in accepted
        )
    if expected is str:
        return _std(value) in [_std(a) for a in accepted if isinstance(a, str)]
    if expected is list:
        return [_std(v) for v in value] in [
            [_std(a) for a in option] for option in accepted if isinstance(option, list)
        ]
    return value in accepted


def _python_type(spec: Any) -> type | None:
    kind = spec.get("type") if isinstance(spec, dict) else None
    return _BFCL_TYPES.get(kind) if isinstance(kind, str) else None


def _first_type(values: list) -> type | None:
    return next((type(a) for a in values if a != ""), None)


def _bfcl_dict_ok(value: Any, option: Any) -> bool:
    """A dict value against one accepted dict of key -> accepted values, strings normalised."""
    if not isinstance(value, dict) or not isinstance(option, dict):
        return False
    for key, item in value.items():
        if not isinstance(option.get(key), list) or _std(item) not in [_std(a) for a in option[key]]:
            return False
    return all(key in value or (isinstance(accepted, list) and "" in accepted) for key, accepted in option.items())
