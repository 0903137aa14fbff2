"""The IRM reward (TL-Training, Section 3.3) as OpenRLHF's `reward_func`: `--reward.remote_url $(tl-reward-path)`.

OpenRLHF loads this file by path (spec_from_file_location, no package context), so it imports `tl_plugin` by
absolute name only, and calls `reward_func(queries, prompts, labels)`; the response is the query minus its prompt.

Labels: one JSON string per prompt, in the schema of `tl_plugin.core.labels` (`tl-prompts` writes them and
`tl-prompts check FILE` checks them). A bad label, or a batch of unequal lists, raises `LabelError` (a ValueError)
naming the sample and the field: OpenRLHF only logs a reward function's exception, so a label that cannot be judged
must stop the run at its first sample, not leave it without rewards.

Reward of one response: `tl_plugin.core.rewards.pooled_reward` of the judge's findings under the paper's table
(`IRM_TABLE` there), pooled per response (see that module for why). Ablations change the table:
`load_table(path_or_dict)` and `reward_func(..., table=...)`, or, when OpenRLHF loads the file by path,
`TL_IRM_TABLE=/path/table.json` (read once, when the module loads). A table file holds any subset of
`DEFAULT_TABLE`'s keys. Responses over `MAX_RESPONSE_CHARS` characters (tl_plugin.core.parsing.MAX_TEXT_CHARS,
32 KiB, unless `TL_MAX_RESPONSE_CHARS` says otherwise when the module loads) are format errors, judged unread.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

if importlib.util.find_spec("tl_plugin") is None:  # loaded by path from a checkout where it is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tl_plugin.core.judge import Gold, Verdict, judge
from tl_plugin.core.labels import LabelError, read_label
from tl_plugin.core.parsing import MAX_TEXT_CHARS
from tl_plugin.core.rewards import IRM_TABLE, pooled_reward, reward_bounds

DEFAULT_TABLE = IRM_TABLE  # the paper's values; ablations override them with load_table


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
TABLE_BOUNDS = reward_bounds(TABLE)  # the lowest and highest reward, mapped to scores 0 and 1
MAX_RESPONSE_CHARS = int(os.environ.get("TL_MAX_RESPONSE_CHARS", MAX_TEXT_CHARS))


def irm_reward(verdict: Verdict, table: dict[str, float] = TABLE) -> float:
    """The reward of one verdict under a table (tl_plugin.core.rewards.pooled_reward of its findings)."""
    return pooled_reward(verdict.findings, table)


@lru_cache(maxsize=1024)
def label_gold(label: str) -> Gold:
    """The prepared gold of a label string (tl_plugin.core.labels.read_label): LabelError names what is wrong
    with a bad label. Cached by content: a label repeats across the samples of its prompt, which OpenRLHF sends
    within one rollout batch; 1,024 labels cover a batch, and a larger cache only gives the garbage collector
    more to walk (with every label distinct, 8,192 cached labels halved the throughput)."""
    return read_label(label)


# End-of-sequence text that a decode with skip_special_tokens=False leaves behind the response.
_SPECIAL_AT_END = re.compile(r"(?:<\|[^|<>]{1,40}\|>|</s>|<eos>|<end_of_turn>)$")


def _response(query: str, prompt: str) -> str:
    """The query minus its prompt, and minus end-of-sequence tokens: the response starts where the prompt's last
    256 characters end (comparing those, not the whole prompt, saves a scan of a long system prompt per sample).
    A prompt OpenRLHF truncated from the left sits elsewhere in the query: its tail is looked for."""
    tail = prompt[-256:]
    if query.startswith(tail, len(prompt) - len(tail)):
        response = query[len(prompt) :]
    else:
        at = query.rfind(tail) if tail else -1
        response = query[at + len(tail) :] if at >= 0 else query
    response = response.rstrip()
    while response.endswith(">"):
        special = _SPECIAL_AT_END.search(response, max(0, len(response) - 48))
        if special is None:
            break
        response = response[: special.start()].rstrip()
    return response


_LOGGED = (*IRM_TABLE, "ts", "pi", "cf")  # extra_logs: "irm_<name>" = share of the batch with that finding


_LOG_KEYS = [f"irm_{name}" for name in _LOGGED]


@lru_cache(maxsize=64)
def _bounds(table: tuple[tuple[str, float], ...]) -> tuple[float, float]:
    return reward_bounds(dict(table))


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
    if not len(queries) == len(prompts) == len(labels):
        raise ValueError(f"got {len(queries)} queries, {len(prompts)} prompts and {len(labels)} labels")
    verdicts = []
    for i, (query, prompt, label) in enumerate(zip(queries, prompts, labels)):
        if not isinstance(query, str) or not isinstance(prompt, str):
            kinds = f"{type(query).__name__} and {type(prompt).__name__}"
            raise ValueError(f"sample {i}: the query and the prompt must be text, got {kinds}")
        try:
            gold = label_gold(label) if isinstance(label, str) else read_label(label)  # read_label says what it is
        except LabelError as e:
            where = f"sample {i} of the batch; the label starts {_head(label)}"
            raise LabelError(e.field, f"{e.problem} ({where})") from None
        verdicts.append(judge(_response(query, prompt), gold, max_chars=MAX_RESPONSE_CHARS))
    low, high = TABLE_BOUNDS if table is TABLE else _bounds(tuple(table.items()))
    rewards, scores, counts = [], [], dict.fromkeys(_LOGGED, 0)
    for verdict in verdicts:
        findings = verdict.findings
        reward = pooled_reward(findings, table)
        rewards.append(reward)
        scores.append(min(1.0, max(0.0, (reward - low) / (high - low))) if high > low else 1.0)
        for name in findings:
            counts[name] += 1
        counts["correct"] += not findings
        counts["ts"] += verdict.ts
        counts["pi"] += verdict.pi
        counts["cf"] += verdict.cf
    n = max(len(verdicts), 1)
    extra_logs = {key: count / n for key, count in zip(_LOG_KEYS, counts.values())}
    return {"rewards": _tensor(rewards), "scores": _tensor(scores), "extra_logs": extra_logs}


def _head(label: Any) -> str:
    """The start of a label, to find it in the dataset."""
    text = label if isinstance(label, str) else repr(label)
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def main() -> None:
    """`tl-reward-path`: print this file's absolute path, for `--reward.remote_url $(tl-reward-path)`."""
    print(Path(__file__).resolve())


if __name__ == "__main__":
    main()
