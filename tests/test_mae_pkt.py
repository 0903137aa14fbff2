"""MAE and PKT: key tokens, the worked example of docs/pkt.md, MAE on synthetic and RoTBench data."""

import json
import re
from pathlib import Path

import datasets
import pytest
from helpers import key_offsets_by_scan, sft_strategy, train_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_plugin.adapters.sft_dataset import ToolSFTDataset
from tl_plugin.core.taxonomy import Category
from tl_plugin.core.trajectory import call_categories
from tl_plugin.core.weights import Turn, key_offsets, name_offsets, pkt
from tl_plugin.data.converters import CONVERTERS
from tl_plugin.data.sources import convert, read_records
from tl_plugin.data.synth import synth

DOC = Path(__file__).resolve().parents[1] / "docs" / "pkt.md"
NAMES = ["get_weather_current", "get_weather_forecast", "get_exchange_rate"]


def dataset(samples, transforms, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    data = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    return ToolSFTDataset(
        data, train_tokenizer("bpe"), 4096, sft_strategy(), multiturn=True, num_processors=1, transforms=transforms
    )


def test_key_offsets():
    others = sorted(NAMES + ["search_web"])
    assert key_offsets("get_weather_forecast", others) == [0, 4, 12]
    assert key_offsets("get_exchange_rate", others) == [0, 4]
    assert key_offsets("search_web", others) == [0]
    assert key_offsets("search", ["search_news"]) == [0, 6]  # a prefix of another name: the token after it
    assert key_offsets("get_x", others) == [0, 4]  # a name not in the list: its neighbours still decide
    assert key_offsets("", others) == [0] and key_offsets("a", []) == [0]


_names = st.text(alphabet="ab_\U0010ffff\x00", max_size=6)


@settings(max_examples=2000, deadline=None)
@given(name=_names, candidates=st.lists(_names, max_size=12))
def test_key_offsets_by_bisection_equal_the_scan(name, candidates):
    """Issue 14: bisecting the sorted names gives exactly what scanning every candidate gave (duplicates,
    prefixes, the name itself listed or not, the last code point)."""
    assert key_offsets(name, sorted(candidates)) == key_offsets_by_scan(name, candidates)
    assert key_offsets(name, sorted([*candidates, name, name])) == key_offsets_by_scan(name, candidates)


def test_name_offsets_anchor_on_the_call():
    react = "Thought: get_weather_current is wrong here.\nAction: get_weather_forecast\nAction Input: {}"
    assert name_offsets(react, ["get_weather_forecast"]) == [react.index("get_weather_forecast")]
    python = 'I will call get_weather_forecast.\n[get_weather_forecast(city="Paris"), get_exchange_rate(a="EUR")]'
    assert name_offsets(python, ["get_weather_forecast", "get_exchange_rate"]) == [
        python.index("get_weather_forecast("),
        python.index("get_exchange_rate("),
    ]
    tagged = '<tool_call>\n{"name": "get_exchange_rate", "arguments": {}}\n</tool_call>'
    assert name_offsets(tagged, ["get_exchange_rate", "missing"]) == [tagged.index("get_exchange_rate"), None]


@pytest.mark.parametrize(("turn_tokens", "expected"), [(4, 1.0), (12, 3.0), (100, 9.0)])
def test_pkt_weight_is_clipped(turn_tokens, expected):
    """Name tokens at character offsets 0, 4 and 12 (three key tokens): w = CLIP((n - 3) / 3, 1, 9)."""
    content = 'get_weather_forecast(city="Paris")'
    turn = Turn(
        {"content": content, "tool_calls": [{"name": "get_weather_forecast"}]},
        [Category.OK],
        NAMES,
        [1.0] * turn_tokens,
        lambda char: {0: 0, 4: 1, 12: 2}.get(char, 3) if turn_tokens > 3 else None,
    )
    pkt(turn, wmax=9.0)
    keys = turn.weights[:3] if turn_tokens > 3 else []
    assert keys == [expected] * 3 and all(w == 1.0 for w in turn.weights[3:])


ONE_CALL = ('get_weather_forecast(city="Paris", days=2)', [("get_weather_forecast", {"city": "Paris", "days": 2})])
TWO_CALLS = (
    '[get_weather_current(city="Paris"), get_exchange_rate(base="EUR")]',
    [("get_weather_current", {"city": "Paris"}), ("get_exchange_rate", {"base": "EUR"})],
)


def pkt_example_table(tmp_path, example=ONE_CALL) -> str:
    """A worked example of docs/pkt.md, computed by ToolSFTDataset with the byte-level BPE of tests/helpers.py."""
    tools = [{"name": n, "description": "", "parameters": {"type": "object", "properties": {}}} for n in NAMES]
    content, calls = example
    sample = {
        "tools": tools,
        "messages": [
            {"role": "user", "content": "Will it rain in Paris in the next two days?"},
            {
                "role": "assistant",
                "content": content,
                "tool_calls": [{"name": n, "arguments": a} for n, a in calls],
            },
        ],
    }
    data = dataset([sample], [("pkt", {"wmax": 9.0})], tmp_path)
    input_ids, _, loss_mask = data[0]
    tokens = data.tokenizer.convert_ids_to_tokens(input_ids[0])
    rows = ["| position | token | weight |", "|---:|---|---:|"]
    for t in range(1, len(tokens)):
        weight = loss_mask[0, t - 1].item()
        if weight:
            shown = tokens[t].replace("|", "\\|")  # a pipe would end the Markdown table cell
            rows.append(f"| {t} | `{shown}` | {f'**{weight:.2f}** (key)' if weight > 1 else f'{weight:.2f}'} |")
    return "\n".join(rows)


def test_docs_worked_example_is_reproduced(tmp_path):
    for example in (ONE_CALL, TWO_CALLS):
        table = pkt_example_table(tmp_path, example)
        assert table in DOC.read_text(), f"docs/pkt.md is out of date; the table is now:\n{table}"
    tokenizer = train_tokenizer("bpe")
    assert [tokenizer.tokenize(n) for n in NAMES] == [
        ["get", "_", "weather", "_", "curr", "ent"],
        ["get", "_", "weather", "_", "for", "e", "ca", "s", "t"],
        ["get", "_", "ex", "ch", "an", "ge", "_", "rate"],
    ]


def test_mae_on_synthetic_data_finds_every_injected_error(tmp_path):
    samples = synth(300, error_rate=0.17, seed=3)
    calls = [category for s in samples for *_, category in call_categories(s)]
    assert sum(c.is_error for c in calls) / len(calls) == pytest.approx(0.17, abs=0.005)
    assert {m["category"] for s in samples for m in s["injected"]} == {
        "tool_hallucination",
        "parameter_hallucination",
        "parameter_missing",
        "parameter_invalid",
    }
    # Without transforms every assistant turn is one run of weight 1: those runs are the turns.
    plain = dataset(samples, [], tmp_path / "plain")
    weighted = dataset(samples, [("mae", {}), ("pkt", {"wmax": 9.0})], tmp_path / "weighted")
    assert len(weighted) == len(samples)
    for index, sample in enumerate(samples):
        assistants = [i for i, m in enumerate(sample["messages"]) if m["role"] == "assistant"]
        turns = plain.response_ranges[index]
        assert len(turns) == len(assistants)
        masked = {
            i
            for i, (first, last, _) in zip(assistants, turns)
            if not any(start <= last and end >= first for start, end, _ in weighted.response_ranges[index])
        }
        assert masked == {m["message"] for m in sample["injected"]}, sample["id"]


def test_mae_reports_a_category_for_each_rotbench_function_turn(data_dir):
    records = read_records(data_dir / "rotbench" / "third_turn_clean.json")
    function_turns = sum(turn["from"] == "function" for r in records for turn in r["conversations"])
    samples, report = convert(records, CONVERTERS["rotbench"])
    assert report.kept == len(records) and not report.dropped
    answered = []
    for sample in samples:
        messages = sample["messages"]
        for index, _, category in call_categories(sample):
            if index + 1 < len(messages) and messages[index + 1]["role"] == "tool":
                answered.append((category, messages[index + 1]["content"]))
    assert len(answered) == function_turns == 133
    # ToolEyes/RoTBench tools answer a misread documentation with Python's own exception texts (shared/data's
    # README): every such turn is the model's error, masked; a timeout is not.
    python_errors = re.compile(r"is not defined|unexpected keyword argument|missing \d+ required positional")
    signed = [c for c, feedback in answered if python_errors.search(feedback)]
    assert len(signed) >= 15 and all(c.is_model_error for c in signed)
    assert not any(c.is_model_error for c, feedback in answered if "Read timed out" in feedback)
    assert len(signed) < report.masked < len(answered) // 2
    # The first item: a call missing max_length, answered "... missing 1 required positional argument".
    assert call_categories(samples[0])[0][2] is Category.PARAMETER_MISSING
