"""The IRM reward: the paper's table for every combination of findings, reward_func end to end, the label schema,
table ablations (dict, file, TL_IRM_TABLE), and the prompt-dataset converter that writes the labels."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import PAPER_IRM
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_plugin.adapters import reward
from tl_plugin.adapters.reward import DEFAULT_TABLE, irm_reward, label_gold, load_table, reward_func
from tl_plugin.core.judge import Verdict
from tl_plugin.core.parsing import ToolCall, format_call
from tl_plugin.data.prompts import prompt_rows

TOOLS = [
    {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}, "days": {}, "units": {}}}},
    {"name": "get_time", "parameters": {"type": "object", "properties": {"city": {}}}},
]
LABEL = json.dumps({"tools": TOOLS, "gold": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}]})
PROMPT = "<|im_start|>user\nWeather in Paris for 3 days?<|im_end|>\n<|im_start|>assistant\n"

FLAGS = ("parsed", "tool_hallucinated", "wrong_tool", "hallucinated", "redundant", "missing", "content_mismatch")


def paper_formula(table, parsed, tool_hallucinated, wrong_tool, hallucinated, redundant, missing, content_mismatch):
    """Section 3.3: the first finding in this order decides; parameter issues add up."""
    if not parsed:
        return table["format_error"]
    if tool_hallucinated:
        return table["tool_hallucination"]
    if wrong_tool:
        return table["wrong_tool"]
    if hallucinated or redundant or missing:
        return (
            hallucinated * table["parameter_hallucination"]
            + redundant * table["parameter_redundant"]
            + missing * table["parameter_missing"]
        )
    return table["content_mismatch"] if content_mismatch else table["correct"]


ABLATION = {
    "format_error": -3.0,
    "tool_hallucination": -2.5,
    "wrong_tool": -1.0,
    "parameter_hallucination": -0.7,
    "parameter_redundant": -0.3,
    "parameter_missing": -0.6,
    "content_mismatch": -0.1,
    "correct": 2.0,
}


@pytest.mark.parametrize(
    "table, expected_table", [(DEFAULT_TABLE, PAPER_IRM), (load_table(ABLATION), ABLATION)], ids=["paper", "ablation"]
)
@pytest.mark.parametrize("combo", list(itertools.product([False, True], repeat=len(FLAGS))), ids=str)
def test_reward_equals_the_formula_for_every_combination(table, expected_table, combo):
    flags = dict(zip(FLAGS, combo))
    verdict = Verdict(
        parsed=flags["parsed"],
        tool_hallucinated=flags["tool_hallucinated"],
        wrong_tool=flags["wrong_tool"],
        hallucinated_keys=("x",) if flags["hallucinated"] else (),
        redundant_keys=("y",) if flags["redundant"] else (),
        missing_keys=("z",) if flags["missing"] else (),
        content_mismatch=flags["content_mismatch"],
    )
    assert irm_reward(verdict, table) == pytest.approx(paper_formula(expected_table, *combo))


def test_paper_values_for_combined_parameter_issues():
    def reward_of(h, r, m):
        return irm_reward(Verdict(True, hallucinated_keys=h, redundant_keys=r, missing_keys=m))

    assert reward_of(("a",), ("b",), ("c",)) == pytest.approx(-1.8)
    assert reward_of(("a",), ("b",), ()) == pytest.approx(-1.3) == reward_of(("a",), (), ("c",))
    assert reward_of((), ("b",), ("c",)) == pytest.approx(-1.0)
    assert reward_of(("a", "a2"), (), ()) == pytest.approx(-0.8)  # per kind of issue, not per key


def responses():
    """(response text, expected reward) for each finding, in several call formats."""
    right = ToolCall("get_weather", {"city": "Paris", "days": 3})
    cases = [
        ("I think it will be sunny.", -2.0),
        ("get_weather(city='Paris', days=", -2.0),
        (format_call(ToolCall("get_forecast", {"city": "Paris", "days": 3}), "json"), -2.0),
        (format_call(ToolCall("get_time", {"city": "Paris"}), "tool_call"), -1.5),
        (format_call(ToolCall("get_weather", {"city": "Paris", "days": 3, "hours": 1}), "react"), -0.8),
        (format_call(ToolCall("get_weather", {"city": "Paris", "days": 3, "units": "C"}), "python"), -0.5),
        (format_call(ToolCall("get_weather", {"city": "Paris"}), "json"), -0.5),
        (format_call(ToolCall("get_weather", {"city": "Paris", "hours": 1, "units": "C"}), "python"), -1.8),
        (format_call(ToolCall("get_weather", {"days": 3, "hours": 1}), "python"), -1.3),
        (format_call(ToolCall("get_weather", {"city": "Paris", "units": "C"}), "python"), -1.0),
        (format_call(ToolCall("get_weather", {"city": "paris", "days": 3}), "tool_call"), -0.25),
        (format_call(ToolCall("get_weather", {"city": "Paris", "days": "3"}), "react"), -0.25),
    ]
    cases += [(format_call(right, fmt), 1.0) for fmt in ("python", "react", "json", "tool_call")]
    return cases


def test_reward_func_on_a_batch():
    cases = responses()
    queries = [PROMPT + text + "<|im_end|>" for text, _ in cases]
    out = reward_func(queries, [PROMPT] * len(cases), [LABEL] * len(cases))
    expected = torch.tensor([r for _, r in cases])
    assert torch.allclose(out["rewards"], expected)
    assert torch.allclose(out["scores"], (expected + 2) / 3) and out["scores"].min() >= 0 and out["scores"].max() <= 1
    logs = out["extra_logs"]
    assert logs["irm_correct"] == pytest.approx(4 / len(cases)) and logs["irm_format_error"] == pytest.approx(
        2 / len(cases)
    )
    assert logs["irm_parameter_redundant"] == pytest.approx(3 / len(cases)) and logs["irm_cf"] == logs["irm_correct"]
    assert reward_func([], [], [])["rewards"].shape == (0,)
    assert reward_func(queries, [PROMPT] * len(cases), [LABEL] * len(cases), table=ABLATION)["rewards"][-1] == 2.0
    assert reward_func(queries[:1], [PROMPT], [LABEL], table={"format_error": -5})["rewards"].tolist() == [-5.0]


def test_response_is_the_query_minus_its_prompt():
    right = format_call(ToolCall("get_weather", {"city": "Paris", "days": 3}), "python")
    long_prompt = "x" * 5000 + PROMPT
    truncated = long_prompt[1000:] + right  # OpenRLHF cut the prompt from the left
    out = reward_func(
        [PROMPT + right, truncated, PROMPT + right + "</s>", PROMPT + right + " <|eot_id|>\n"],
        [PROMPT, long_prompt, PROMPT, PROMPT],
        [LABEL] * 4,
    )
    assert out["rewards"].tolist() == [1.0] * 4


def test_bad_labels_are_reported_and_good_ones_cached():
    for bad in (
        "not json",
        "[]",
        '{"tools": []}',
        '{"gold": [], "tools": []}',
        '{"gold": {"name": "f"}, "mode": "x"}',
        '{"gold": [{"arguments": {}}]}',
        '{"gold": {"name": "f"}, "tools": "f"}',
        '{"gold": 5}',
    ):
        with pytest.raises(ValueError):
            label_gold(bad)
    label_gold.cache_clear()
    reward_func([PROMPT + "get_time(city='x')"] * 5, [PROMPT] * 5, [LABEL] * 5)
    assert label_gold.cache_info().misses == 1 and label_gold.cache_info().hits == 4


def test_table_sources(tmp_path):
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"correct": 3, "wrong_tool": -1}))
    assert load_table(path) == {**DEFAULT_TABLE, "correct": 3.0, "wrong_tool": -1.0}
    assert load_table(None) == DEFAULT_TABLE == load_table("")
    with pytest.raises(ValueError, match="unknown IRM table keys"):
        load_table({"corect": 1})
    with pytest.raises(ValueError, match="numbers"):
        load_table({"correct": "1"})


def test_path_command_and_env_table_read_once_at_load(tmp_path):
    printed = subprocess.run(
        [sys.executable, "-m", "tl_plugin.adapters.reward"], capture_output=True, text=True, check=True
    )
    path = Path(printed.stdout.strip())
    assert path == Path(reward.__file__).resolve() and path.is_absolute()
    table, other = tmp_path / "t.json", tmp_path / "other.json"
    table.write_text(json.dumps({"correct": 5}))
    other.write_text(json.dumps({"correct": 7}))
    script = f"""
import importlib.util, json, os
spec = importlib.util.spec_from_file_location("reward_func", {str(path)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
os.environ["TL_IRM_TABLE"] = {str(other)!r}  # too late: the table was read when the file loaded
label = {LABEL!r}
out = module.reward_func([{PROMPT!r} + "get_weather(city='Paris', days=3)"], [{PROMPT!r}], [label])
print(out["rewards"].tolist())
"""
    env = {**os.environ, "TL_IRM_TABLE": str(table)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[5.0]"


# ---- the converter that writes the labels ----


def test_converter_rows_reward_their_own_gold(data_dir):
    """RoTBench rows end to end. Under the official reading (the default) only RoTBench's own ReAct text is read:
    a gold answer in another format is a format error (-2), and in ReAct it earns what the official scorer gives it
    (+1, except an empty `{}` input, which the scorer always fails). The tolerant reading rewards every format."""
    rows = []
    for name in ("first_turn_clean.json", "third_turn_clean.json"):
        kept, report = prompt_rows("rotbench", data_dir / "rotbench" / name)
        assert not report.dropped
        rows += kept
    assert len(rows) == 105 + 70
    queries, prompts, labels, tolerant, expected = [], [], [], [], []
    for row in rows:
        label = json.loads(row["label"])
        assert label["mode"] == "rotbench" and label["tools"][-1]["name"] == "finish"
        assert row["input"][0]["role"] == "system" and row["input"][-1]["role"] in ("user", "tool")
        for answer in label["gold"][:1]:  # the first answer: later ones can fall to a quirk of the scorer's loop
            for fmt in ("python", "json", "tool_call", "react"):
                prompt = json.dumps(row["input"])
                queries.append(prompt + format_call(answer, fmt))
                prompts.append(prompt)
                labels.append(row["label"])
                tolerant.append(json.dumps({**label, "reading": "tolerant"}))
                expected.append(1.0 if fmt == "react" and answer["arguments"] else -2.0)
    rewards = reward_func(queries, prompts, labels)["rewards"]
    assert len(rewards) == 4 * 175 and rewards.tolist() == expected
    assert expected.count(1.0) == 97 + 67  # 8 and 3 first answers are `{}` (92.38% and 95.71% of the items)
    assert reward_func(queries, prompts, tolerant)["rewards"].tolist() == [1.0] * len(queries)


def test_generic_jsonl_reports_drops(tmp_path):
    good = {
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "gold": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}],
    }
    lines = [
        json.dumps(good),
        "{broken",
        json.dumps({"tools": TOOLS}),
        json.dumps({**good, "gold": [{"x": 1}]}),
        json.dumps({**good, "messages": "hi"}),
        json.dumps({**good, "mode": "bfcl", "id": "b1"}),
        "",
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines))
    rows, report = prompt_rows("jsonl", path, "qwen")
    assert [r["id"] for r in rows] == ["data:0", "b1"]
    assert rows[0]["input"][0]["role"] == "system" and '"name": "get_weather"' in rows[0]["input"][0]["content"]
    assert report.dropped == {
        "invalid JSON line": 1,
        "missing tools, messages or gold": 1,
        "bad label field gold[].name": 1,
        "messages are not a list of {role, content}": 1,
    }
    out = tmp_path / "prompts.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "tl_plugin.data.prompts", str(out), "--jsonl", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 2, run.stderr  # rows were written, but a line could not be read: it is named
    assert "kept 2, masked 0 erroneous calls, dropped 4" in run.stdout and "dropped 1: invalid JSON line" in run.stdout
    assert f"{path}:2: not JSON: Expecting property name enclosed in double quotes (column 2)" in run.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["data:0", "b1"]


# ---- fuzz ----

_near_calls = st.builds(
    lambda name, args, fmt: format_call(ToolCall(name, args), fmt),
    st.sampled_from(["get_weather", "get_time", "get_forecast", "finish"]),
    st.dictionaries(
        st.sampled_from(["city", "days", "units", "hours"]), st.none() | st.integers() | st.text(max_size=5)
    ),
    st.sampled_from(["python", "react", "json", "tool_call"]),
)


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(st.text(max_size=200) | _near_calls, min_size=1, max_size=4))
def test_reward_func_never_raises_and_stays_in_range(texts):
    out = reward_func([PROMPT + t for t in texts], [PROMPT] * len(texts), [LABEL] * len(texts))
    assert out["rewards"].shape == (len(texts),)
    assert bool(((out["rewards"] >= -2) & (out["rewards"] <= 1)).all())
    assert bool(((out["scores"] >= 0) & (out["scores"] <= 1)).all())
    assert all(0 <= v <= 1 for v in out["extra_logs"].values())


_leaf = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "a", "None", "string", "dict", "array"])
_json = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_leaf.map(str), inner, max_size=3)
)
_keyed = st.dictionaries(st.sampled_from(["a", "b", "type", "items"]), _json, max_size=3)
_labels = st.fixed_dictionaries(
    {
        "tools": st.builds(
            lambda p, r: [{"name": "f", "parameters": {"properties": p, "required": r}}], _json | _keyed, _json
        ),
        "gold": st.builds(lambda a: [{"name": "f", "arguments": a}], _json | _keyed) | _json,
        "mode": st.sampled_from(["exact", "rotbench", "bfcl"]),
    }
)


@settings(max_examples=300, deadline=None)
@given(label=_labels, response=st.sampled_from(["f(a=1)", "f(a='x', b=[1])", "f(b={'a': 1})", "[f(a=1), g()]", "f()"]))
def test_malformed_labels_are_rejected_or_judged(label, response):
    """A label either fails `label_gold` with ValueError (the server's 400) or is judged without an exception."""
    text = json.dumps(label)
    try:
        label_gold(text)
    except ValueError:
        return
    assert reward_func([response], [""], [text])["rewards"].shape == (1,)


def test_bfcl_exec_rows_reward_their_ground_truth(data_dir):
    """tl-prompts keeps BFCL's exec sets (ground-truth calls, mode exact): each ground truth as the response earns
    +1, another item's -1.5 or worse; the irrelevance set is dropped with its reason (no call to reward)."""
    rows, report = prompt_rows("bfcl", data_dir / "bfcl_v3" / "BFCL_v3_exec_parallel.json")
    assert len(rows) == 50 and not report.dropped
    items = [json.loads(line) for line in (data_dir / "bfcl_v3" / "BFCL_v3_exec_parallel.json").open()]
    truths = ["[" + ", ".join(item["ground_truth"]) + "]" for item in items]
    prompts, labels = [json.dumps(r["input"]) for r in rows], [r["label"] for r in rows]
    assert reward_func([p + t for p, t in zip(prompts, truths)], prompts, labels)["rewards"].tolist() == [1.0] * 50
    shifted = reward_func([p + t for p, t in zip(prompts, truths[1:] + truths[:1])], prompts, labels)["rewards"]
    assert all(r < 1.0 for r in shifted.tolist())
    rows, report = prompt_rows("bfcl", data_dir / "bfcl_v3" / "BFCL_v3_irrelevance.json")
    assert not rows and list(report.dropped) == [
        "no possible answer (the irrelevance set, or possible_answer/ missing)"
    ]


def test_overlong_responses_are_format_errors_and_the_cap_is_configurable():
    """Issue 10, finding 9: nothing capped model text; a response over MAX_RESPONSE_CHARS is judged unread."""
    call = format_call(ToolCall("get_weather", {"city": "Paris", "days": 3}), "react")
    thought = "Thought: " + "let me think. " * 3000 + "\n"  # a right answer after 39,009 characters of thought
    queries = [PROMPT + call, PROMPT + thought + call[len("Thought:\n") :], PROMPT + "<tool_call>" * 100_000]
    assert reward_func(queries, [PROMPT] * 3, [LABEL] * 3)["rewards"].tolist() == [1.0, -2.0, -2.0]
    script = f"""
from tl_plugin.adapters.reward import reward_func
print(reward_func([{queries[1]!r}], [{PROMPT!r}], [{LABEL!r}])["rewards"].tolist())
"""
    env = {**os.environ, "TL_MAX_RESPONSE_CHARS": "100000"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[1.0]"  # read under the raised cap: the right answer
