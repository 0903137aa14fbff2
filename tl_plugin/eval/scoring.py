"""Scores of model outputs on single-turn items, per item and per subset, under one reading at a time.

The official reading (the default) is the benchmark's own scorer; the tolerant one is our parser (see
tl_plugin.core.judge). Results of the two are kept apart: `score_items(..., reading)` scores one reading only.
Per item: {"index", "ts", "pi", "cf"} for the TS/PI/CF kinds, {"index", "valid", "error_type"} for BFCL's AST and
(ir)relevance sets. Aggregates are percentages of the items, as the official scorers print them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tl_plugin.core import bfcl
from tl_plugin.core.judge import Gold, judge
from tl_plugin.core.parsing import Parsed, parse
from tl_plugin.data.sources import bfcl_gold
from tl_plugin.eval.suites import Item


def _gold(item: Item, reading: str) -> Gold:
    mode = {"rotbench": "rotbench", "bfcl": "bfcl"}.get(item.kind, "exact")
    gold = bfcl_gold(item.gold, item.tools) if item.kind == "bfcl" else item.gold
    return Gold(gold, item.tools, mode, reading, item.category)


def score_item(item: Item, prediction: str, reading: str = "official", gold: Gold | None = None) -> dict[str, Any]:
    """The per-item scores of one prediction (without "index"). Never raises on model text."""
    if item.kind in ("irrelevance", "relevance"):  # BFCL's two opposite verdicts on whether a call was made
        no_call = bfcl.irrelevance_ok(prediction) if reading == "official" else not parse(prediction).calls
        valid = no_call if item.kind == "irrelevance" else not no_call
        error = "irrelevance_error:decoder_success" if item.kind == "irrelevance" else "relevance_error:decoder_failed"
        return {"valid": valid, "error_type": None if valid else error}
    if item.gold is None:  # a gold answer the data could not give (see the reader's report)
        return {"ts": False, "pi": False, "cf": False}
    if item.kind == "bfcl" and reading == "official":
        valid, error_type = bfcl.score_text(prediction, item.tools, item.gold, item.category)
        return {"valid": valid, "error_type": error_type}
    gold = gold or _gold(item, reading)
    if item.kind == "bfcl_exec" and reading == "official":  # BFCL's decoder reads, RoTBench's semantics judge
        try:
            prediction = Parsed(bfcl.decode(prediction), "python")
        except bfcl.DecodeError:
            return {"ts": False, "pi": False, "cf": False}
        if not prediction.calls:
            return {"ts": False, "pi": False, "cf": False}
    verdict = judge(prediction, gold)
    if item.kind == "bfcl":  # tolerant BFCL: our reading and rules
        return {"valid": verdict.correct, "error_type": None if verdict.correct else verdict.findings[0]}
    return {"ts": verdict.ts, "pi": verdict.pi, "cf": verdict.cf}


def score_items(items: list[Item], predictions: list[str], reading: str = "official") -> list[dict[str, Any]]:
    """Per-item scores, each with its "index"; predictions align with items one to one."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(items)} items: they must align one to one")
    scores = []
    for index, (item, prediction) in enumerate(zip(items, predictions)):
        if not isinstance(prediction, str):
            raise ValueError(f"prediction {index} is a {type(prediction).__name__}, not the model's text")
        scores.append({"index": index, **score_item(item, prediction, reading)})
    return scores


def aggregate(items: list[Item], scores: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{subset: {"n", "TS", "PI", "CF" | "accuracy", "scenarios": {scenario: {...}}}} in percent.

    Per scenario the share of that scenario's items is given; RoTBench's script divides by N/7 instead, the same
    number on its files, where every scenario has N/7 items."""
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for item, score in zip(items, scores):
        groups[item.subset][""].append(score)
        if item.scenario:
            groups[item.subset][item.scenario].append(score)
    result = {}
    for subset, by_scenario in groups.items():
        overall = _percentages(by_scenario.pop(""))
        if by_scenario:
            overall["scenarios"] = {name: _percentages(s) for name, s in sorted(by_scenario.items())}
        result[subset] = overall
    return result


def _percentages(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Each metric in percent, computed as the official scripts do (count / n * 100: the float, and so its last
    printed digit, depends on the order)."""
    n = len(scores)
    keys = {"accuracy": "valid"} if "valid" in scores[0] else {"TS": "ts", "PI": "pi", "CF": "cf"}
    return {"n": n, **{name: round(sum(bool(s[key]) for s in scores) / n * 100, 2) for name, key in keys.items()}}
