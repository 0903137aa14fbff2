"""The IRM reward (TL-Training, Section 3.3) as OpenRLHF's `reward_func`: `--reward.remote_url $(tl-reward-path)`.

OpenRLHF loads this file by path (spec_from_file_location, no package context), so it imports `tl_plugin` by
absolute name only, and calls `reward_func(queries, prompts, labels)`; the response is the query minus its prompt.

Label schema: one JSON string per prompt (`tl-prompts` writes them):
    {
      "tools": [{"name": "get_weather", "description": "...",
                 "parameters": {"type": "object", "properties": {...}, "required": [...]}}, ...],
      "gold":  [{"name": "get_weather", "arguments": {"city": "Paris"}}, ...],
      "mode":  "exact"
    }
- tools: the tool list the model saw, in order (OpenAI function schemas; `{"type": "function", "function": ...}`
  wrappers are accepted).
- gold: the acceptable answers. A list of calls means any one of them is right (RoTBench's alternatives); a list
  of lists means any one of those call sets is right, each set made together in any order (parallel calls);
  a single call object is one acceptable call.
- mode: how values are compared, "exact" (default), "rotbench" or "bfcl" (argument values are lists of accepted
  values, "" = may be omitted); see `tl_plugin.judge`.

Reward of one response, first rule that applies: unparseable -2; a tool not in the list -2; a listed but wrong tool
(or the wrong number of parallel calls) -1.5; parameter issues summed: hallucinated key -0.8, redundant key -0.5,
missing key -0.5; wrong value -0.25; correct +1. Ablations change the table: `load_table(path_or_dict)` and
`reward_func(..., table=...)`, or, when OpenRLHF loads the file by path, `TL_IRM_TABLE=/path/table.json`
(read once, when the module loads). A table file holds any subset of `DEFAULT_TABLE`'s keys.
"""

from __future__ import annotations

import json
import os
import re
import sys
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

try:
    from tl_plugin.judge import IRM_TABLE, Gold, Verdict, judge
except ModuleNotFoundError:  # loaded by path from a source checkout where the package is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tl_plugin.judge import IRM_TABLE, Gold, Verdict, judge

DEFAULT_TABLE = IRM_TABLE  # the paper's values; ablations override them with load_table
_PARAMETER_KEYS = ("parameter_hallucination", "parameter_redundant", "parameter_missing")


def load_table(source: str | Path | dict | None = None) -> dict[str, float]:
    """The reward table: DEFAULT_TABLE overridden by a JSON file's or a dict's entries. Unknown keys are an error."""
    if source is None or source == "":
        return dict(DEFAULT_TABLE)
    overrides = source if isinstance(source, dict) else json.loads(Path(source).read_text())
    unknown = set(overrides) - set(DEFAULT_TABLE)
    if unknown:
        raise ValueError(f"unknown IRM table keys {sorted(unknown)}; known: {list(DEFAULT_TABLE)}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in overrides.values()):
        raise ValueError(f"IRM table values must be numbers, got {overrides}")
    return {**DEFAULT_TABLE, **{k: float(v) for k, v in overrides.items()}}


TABLE = load_table(os.environ.get("TL_IRM_TABLE"))


def irm_reward(verdict: Verdict, table: dict[str, float] = TABLE) -> float:
    """The reward of one verdict under a table."""
    if not verdict.parsed:
        return table["format_error"]
    if verdict.tool_hallucinated:
        return table["tool_hallucination"]
    if verdict.wrong_tool:
        return table["wrong_tool"]
    if verdict.parameter_error:
        found = (verdict.hallucinated_keys, verdict.redundant_keys, verdict.missing_keys)
        return sum(table[key] for key, keys in zip(_PARAMETER_KEYS, found) if keys)
    return table["content_mismatch"] if verdict.content_mismatch else table["correct"]


@lru_cache(maxsize=64)
def _bounds(items: tuple[tuple[str, float], ...]) -> tuple[float, float]:
    """Lowest and highest reward a table (as its items) can give, to map rewards onto scores in [0, 1]."""
    table = dict(items)
    sums = [
        sum(table[k] for k, on in zip(_PARAMETER_KEYS, (h, r, m)) if on)
        for h in (0, 1)
        for r in (0, 1)
        for m in (0, 1)
        if h or r or m
    ]
    values = [table[k] for k in DEFAULT_TABLE if k not in _PARAMETER_KEYS] + sums
    return min(values), max(values)


@lru_cache(maxsize=8192)
def label_gold(label: str) -> Gold:
    """The prepared gold of a label string (schema above); ValueError names what is wrong with a bad label.
    Cached: a label repeats across the samples of its prompt."""
    spec = json.loads(label)
    if not isinstance(spec, dict) or "gold" not in spec or not isinstance(spec.get("tools", []), list):
        raise ValueError('a label is a JSON object {"tools": [...], "gold": [...], "mode": ...}')
    try:
        return Gold(spec["gold"], spec.get("tools", []), spec.get("mode", "exact"))
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"malformed tools or gold in the label ({type(e).__name__}: {e})") from e


# End-of-sequence text that a decode with skip_special_tokens=False leaves behind the response.
_SPECIAL_AT_END = re.compile(r"(?:<\|[^|<>]{1,40}\|>|</s>|<eos>|<end_of_turn>)$")


def _response(query: str, prompt: str) -> str:
    """The query minus its prompt, and minus end-of-sequence tokens. A prompt OpenRLHF truncated from the left no
    longer prefixes the query: cut after its last 256 characters instead."""
    if query.startswith(prompt):
        response = query[len(prompt) :]
    else:
        tail = prompt[-256:]
        at = query.rfind(tail) if tail else -1
        response = query[at + len(tail) :] if at >= 0 else query
    response = response.rstrip()
    while response.endswith(">"):
        special = _SPECIAL_AT_END.search(response, max(0, len(response) - 48))
        if special is None:
            break
        response = response[: special.start()].rstrip()
    return response


_LOGGED = (  # extra_logs: "irm_<name>" = share of the batch with that finding
    "format_error",
    "tool_hallucination",
    "wrong_tool",
    "parameter_hallucination",
    "parameter_redundant",
    "parameter_missing",
    "content_mismatch",
    "correct",
    "ts",
    "pi",
    "cf",
)


def _findings(v: Verdict) -> tuple[bool, ...]:
    """The flags of one verdict, in _LOGGED's order."""
    return (
        not v.parsed,
        v.tool_hallucinated,
        v.wrong_tool,
        bool(v.hallucinated_keys),
        bool(v.redundant_keys),
        bool(v.missing_keys),
        v.parsed and v.content_mismatch,
        v.correct,
        v.ts,
        v.pi,
        v.cf,
    )


def _tensor(values: list[float]) -> torch.Tensor:
    """A float32 tensor; through a buffer, about 4x cheaper than torch.tensor(list) for the one-sample batches
    OpenRLHF sends."""
    return torch.frombuffer(array("f", values), dtype=torch.float32) if values else torch.zeros(0)


def reward_func(
    queries: list[str], prompts: list[str], labels: list[str], table: dict[str, float] | None = None, **kwargs: Any
) -> dict:
    """IRM rewards for a batch. queries: prompt + response texts; prompts: the prompts; labels: label JSON strings;
    table: entries overriding the default table (None: the module's TABLE).

    Returns {"rewards": float tensor [N], "scores": the rewards mapped onto [0, 1] by the table's bounds,
    "extra_logs": {"irm_<finding>": share of the batch showing it}} for the findings in `_LOGGED`."""
    table = TABLE if table is None else load_table(table)
    verdicts = [judge(_response(q, p), label_gold(label)) for q, p, label in zip(queries, prompts, labels, strict=True)]
    rewards = [irm_reward(v, table) for v in verdicts]
    low, high = _bounds(tuple(table.items()))
    scores = [min(1.0, max(0.0, (r - low) / (high - low))) if high > low else 1.0 for r in rewards]
    n = max(len(verdicts), 1)
    totals = [sum(column) for column in zip(*map(_findings, verdicts))] or [0] * len(_LOGGED)
    extra_logs = {f"irm_{name}": total / n for name, total in zip(_LOGGED, totals)}
    return {"rewards": _tensor(rewards), "scores": _tensor(scores), "extra_logs": extra_logs}


def main() -> None:
    """`tl-reward-path`: print this file's absolute path, for `--reward.remote_url $(tl-reward-path)`."""
    print(Path(__file__).resolve())


if __name__ == "__main__":
    main()
