"""The rewards of tool-use actions, all derived from one table: the IRM reward (TL-Training, Section 3.3).

A response is judged into *findings* (the table's keys but "correct"); `pooled_reward` turns a response's findings
into one reward, `step_reward` does the same for the env, where only the tool's feedback categories are known.

Pooling is per response, not per call. The paper sums a reward per call; one correct call plus one call with a
wrong value would then earn 1 - 0.25 = +0.75, so a model could buy back any mistake with extra correct calls. Here
a response is one action and scores as its worst part: -0.25. Parameter findings of different kinds still add up
(-0.8 hallucinated + -0.5 missing = -1.3), as the paper's per-parameter rule does within a call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from tl_plugin.core.taxonomy import Category

# The paper's values (Section 3.3). Ablations override entries: tl_plugin.adapters.reward.load_table.
IRM_TABLE: dict[str, float] = {
    "format_error": -2.0,
    "tool_hallucination": -2.0,
    "wrong_tool": -1.5,
    "parameter_hallucination": -0.8,
    "parameter_redundant": -0.5,
    "parameter_missing": -0.5,
    "content_mismatch": -0.25,
    "correct": 1.0,
}
# The severity order, most severe first: a tool-level finding decides alone; parameter findings add up; a wrong
# value counts only when the keys are right.
TOOL_FINDINGS = ("format_error", "tool_hallucination", "wrong_tool")
PARAMETER_FINDINGS = ("parameter_hallucination", "parameter_redundant", "parameter_missing")
VALUE_FINDING = "content_mismatch"

# What a tool's feedback category says about the call, in the table's terms: exactly the model's errors
# (Category.is_model_error). A value the tool rejects and a request it cannot satisfy both mean wrong content.
CATEGORY_FINDINGS: dict[Category, str] = {
    Category.FORMAT_ERROR: "format_error",
    Category.TOOL_HALLUCINATION: "tool_hallucination",
    Category.PARAMETER_HALLUCINATION: "parameter_hallucination",
    Category.PARAMETER_MISSING: "parameter_missing",
    Category.PARAMETER_INVALID: VALUE_FINDING,
    Category.TOOL_CALL_FAILURE: VALUE_FINDING,
}
assert set(CATEGORY_FINDINGS) == {c for c in Category if c.is_model_error}, "one answer to 'the model's error'"


def pooled_reward(findings: Collection[str], table: dict[str, float] = IRM_TABLE) -> float:
    """The reward of one response from its findings (no findings: correct)."""
    for finding in TOOL_FINDINGS:
        if finding in findings:
            return table[finding]
    if any(finding in findings for finding in PARAMETER_FINDINGS):
        return sum(table[finding] for finding in PARAMETER_FINDINGS if finding in findings)
    return table[VALUE_FINDING] if VALUE_FINDING in findings else table["correct"]


def step_reward(categories: Iterable[Category], table: dict[str, float] = IRM_TABLE) -> float:
    """The env's reward for one step from its calls' feedback categories, pooled as a response is.

    It differs from the IRM reward in one place: a step without errors of the model's gets 0, not "correct".
    Without gold the env cannot tell a right call from a harmless one; the task reward at the end (+1 / -1)
    pays for being right."""
    findings = {CATEGORY_FINDINGS[c] for c in categories if c.is_model_error}
    return pooled_reward(findings, table) if findings else 0.0


def reward_bounds(table: dict[str, float] = IRM_TABLE) -> tuple[float, float]:
    """The lowest and highest reward `pooled_reward` can give under a table (to map rewards onto [0, 1])."""
    parameter_sums = [
        sum(table[f] for f, on in zip(PARAMETER_FINDINGS, (h, r, m)) if on)
        for h in (0, 1)
        for r in (0, 1)
        for m in (0, 1)
        if h or r or m
    ]
    values = [table[f] for f in (*TOOL_FINDINGS, VALUE_FINDING, "correct")] + parameter_sums
    return min(values), max(values)
