"""The judge: RoTBench TS/PI/CF against a transliteration of RoTBench's own scorer, BFCL AST rules on BFCL v3's
possible answers, the findings the IRM reward is built on, and their taxonomy categories."""

import json

import pytest
from helpers import accepted_call
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_plugin.core import bfcl
from tl_plugin.core.judge import Gold, Verdict, judge
from tl_plugin.core.parsing import ToolCall, format_call
from tl_plugin.core.rewards import IRM_TABLE
from tl_plugin.data.prompts import prompt_rows

ROTBENCH = ["first_turn_clean.json", "third_turn_clean.json"]
BFCL = ["simple", "multiple", "parallel", "parallel_multiple"]


def rotbench_items(data_dir, name):
    """(tools, gold answer texts) per item, the tools cut from the system prompt as RoTBench's scorer does."""
    items = json.loads((data_dir / "rotbench" / name).read_text())
    for item in items:
        system = item["conversations"][0]["value"]
        yield json.loads(system[system.find("[") : -13]), item["conversations"][-1]["value"]


def official_flags(test_value, answers, config):
    """RoTBench Code/Evaluation/evaluate.py (ts_eval, pi_eval, cf_eval, version 0) for one item, transliterated
    loop by loop; where the script raises (a JSON list or number as the input reaching the key check) the item
    fails what is left."""

    def sliced(text):
        action = text[text.find("Action:") + 8 : text.find("Action Input:")]
        return action[:-1] if action.endswith("\n") else action

    action = sliced(test_value)
    try:
        action_input = json.loads(test_value[test_value.find("Action Input:") + 14 :])
    except json.JSONDecodeError:
        return False, False, False
    if not action_input or isinstance(action_input, str):
        return False, False, False
    flags = []
    for level in ("ts", "pi", "cf"):
        name, test_input, right = action, action_input, False
        if level == "cf" and isinstance(test_input, dict):
            test_input = dict(test_input)
        for ans in answers:
            answer_action, answer_input = sliced(ans), json.loads(ans[ans.find("Action Input:") + 14 :])
            if answer_action == config[-1]["name"] and name == "finish":
                name = answer_action
            if answer_action != name:
                continue
            if level == "ts":
                right = True
                break
            if not isinstance(test_input, dict) or answer_input.keys() != test_input.keys():
                continue
            if level == "pi":
                right = True
                break
            for key in [k for k, v in answer_input.items() if v == "None"]:
                del answer_input[key], test_input[key]
            unchecked = answer_action in (config[-1]["name"], config[-2]["name"], "finish", "ask_to_user")
            if unchecked or answer_input == test_input:
                right = True
                break
        flags.append(right)
    return tuple(flags)


def react(name, arguments):
    return format_call(ToolCall(name, arguments), "react")


# What RoTBench's own script prints for the first gold answer of every item as the prediction (run on these files):
# items whose gold is `{}` (a tool without parameters) fail, as every empty Action Input does.
OFFICIAL_FIRST_GOLD = {"first_turn_clean.json": 92.38, "third_turn_clean.json": 95.71}


def test_rotbench_gold_answers_score_what_the_official_scorer_gives(data_dir):
    for name in ROTBENCH:
        items = list(rotbench_items(data_dir, name))
        first = []
        for tools, answers in items:
            gold = Gold(answers, tools, "rotbench")
            for n, prediction in enumerate(answers):  # every acceptable answer, as the prediction
                verdict = judge(prediction, gold)
                flags = (verdict.ts, verdict.pi, verdict.cf)
                assert flags == official_flags(prediction, answers, tools), (prediction, answers)
                assert verdict.correct == verdict.cf, (prediction, verdict)  # the reward agrees with the scorer
                if n == 0:
                    first.append(flags)
                    empty = prediction.endswith("Action Input: {}")
                    assert flags == ((False,) * 3 if empty else (True,) * 3), prediction
                assert judge(prediction, Gold(answers, tools, "rotbench", "tolerant")).correct  # ours: all right
        ts, pi, cf = (round(100 * sum(f[i] for f in first) / len(items), 2) for i in range(3))
        print(f"\n{name}: first gold answers: TS {ts:.2f} PI {pi:.2f} CF {cf:.2f} over {len(items)} items")
        assert ts == pi == cf == OFFICIAL_FIRST_GOLD[name]


def _perturbations(tools, answers):
    """(kind, prediction text, expected (TS, PI, CF) or None when alternatives make it ambiguous)."""
    gold_names = [a[a.find("Action:") + 8 : a.find("Action Input:")].strip() for a in answers]
    names = [t["name"] for t in tools]
    for answer, gold_name in zip(answers, gold_names):
        args = json.loads(answer[answer.find("Action Input:") + 14 :])
        unique = gold_names.count(gold_name) == 1 and bool(args)
        unchecked = gold_name in names[-2:]
        others = [n for n in names[:-2] if n not in gold_names]
        if others:
            yield "wrong tool", react(others[0], args), (False, False, False)
            prefix = max(others, key=lambda n: len(_common_prefix(n, gold_name)))
            yield "prefix-sharing tool", react(prefix, args), (False, False, False)
        yield "unlisted tool", react(gold_name[:-1], args), (False, False, False)
        yield "empty arguments", react(gold_name, {}), (False, False, False)  # always, gold {} included
        schema_keys = [k for k in tools[names.index(gold_name)]["parameters"].get("properties", {}) if k not in args]
        if schema_keys:
            yield "extra schema key", react(gold_name, {**args, schema_keys[0]: "x"}), unique and (True, False, False)
        yield "extra unknown key", react(gold_name, {**args, "zz_unknown": "x"}), unique and (True, False, False)
        for key, value in args.items():
            rest = {k: v for k, v in args.items() if k != key}
            yield "missing key", react(gold_name, rest), (unique and len(args) > 1 and (True, False, False)) or None
            cf = unchecked or value == "None"
            changed = {**args, key: value + "_x" if isinstance(value, str) else value + 1}
            yield "wrong value", react(gold_name, changed), unique and (True, True, cf)
            retyped_value = (int(value) if value.isdigit() else [value]) if isinstance(value, str) else str(value)
            retyped = {**args, key: retyped_value}
            yield "type change", react(gold_name, retyped), unique and (True, True, cf)
            if isinstance(value, str) and value.swapcase() != value:
                yield "case change", react(gold_name, {**args, key: value.swapcase()}), unique and (True, True, cf)


def _common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def test_rotbench_flags_on_perturbed_predictions_follow_the_scorer(data_dir):
    checked, by_kind = 0, {}
    for name in ROTBENCH:
        for tools, answers in rotbench_items(data_dir, name):
            gold = Gold(answers, tools, "rotbench")
            for kind, prediction, expected in _perturbations(tools, answers):
                verdict = judge(prediction, gold)
                flags = (verdict.ts, verdict.pi, verdict.cf)
                assert flags == official_flags(prediction, answers, tools), (kind, prediction, answers)
                if expected:
                    assert flags == expected, (kind, prediction, answers)
                checked += 1
                by_kind[kind] = by_kind.get(kind, 0) + 1
    print(f"\n{checked} perturbed predictions agree with RoTBench's scorer: {by_kind}")
    assert len(by_kind) == 10 and checked > 2000


def test_rotbench_none_values_finish_alias_and_findings(data_dir):
    tools = [
        {"name": "translate", "parameters": {"properties": {"text": {}, "lang": {}, "max_length": {}, "token": {}}}},
        {"name": "detect", "parameters": {"properties": {"text": {}}}},
        {"name": "ask_to_user", "parameters": {"properties": {"question": {}}}},
        {"name": "finish_task", "parameters": {"properties": {"answer": {}}}},
    ]
    gold = Gold([react("translate", {"text": "hi", "lang": "jp", "max_length": "None"})], tools, "rotbench")

    def flags(name, args):
        v = judge(react(name, args), gold)
        return v.ts, v.pi, v.cf

    assert flags("translate", {"text": "hi", "lang": "jp", "max_length": 77}) == (True, True, True)  # "None": any
    assert flags("translate", {"text": "hi", "lang": "jp"}) == (True, False, False)  # ... but the key must be there
    assert flags("translate", {"text": "hi", "lang": "JP", "max_length": "1"}) == (True, True, False)  # case-sensitive
    verdict = judge(react("translate", {"text": "hi", "token": "t", "zz": 1}), gold)
    assert (verdict.hallucinated_keys, verdict.redundant_keys, verdict.missing_keys) == (
        ("zz",),
        ("token",),
        ("lang", "max_length"),
    )
    assert verdict.findings == ("parameter_hallucination", "parameter_redundant", "parameter_missing")
    # the last tool is finish whatever its name: the literal "finish" counts, and its content is not checked
    finish = Gold([react("finish_task", {"answer": "It means hello."})], tools, "rotbench")
    assert judge(react("finish", {"answer": "Something else."}), finish).cf
    assert judge(react("finish_task", {"answer": "Anything."}), finish).correct
    assert not judge(react("finish", {"answer": "x"}), gold).ts  # not when the gold is another tool
    ask = Gold([react("ask_to_user", {"question": "Which language?"})], tools, "rotbench")
    assert judge(react("ask_to_user", {"question": "Target language?"}), ask).cf
    # RoTBench compares with Python ==, where True == 1 == 1.0; the tolerant reading keeps JSON types apart
    typed = Gold([react("detect", {"text": 1})], tools, "rotbench")
    assert judge(react("detect", {"text": 1.0}), typed).cf and judge(react("detect", {"text": True}), typed).cf
    typed = Gold([react("detect", {"text": 1})], tools, "rotbench", "tolerant")
    assert judge(react("detect", {"text": 1.0}), typed).cf and not judge(react("detect", {"text": True}), typed).cf


# Each rule of RoTBench's scorer (evaluate.py, read by hand), as (prediction, expected TS/PI/CF, why). The tools end
# with ask_to_user and finish as RoTBench's lists do; in its noisy files ordinary names stand there instead.
RULE_TOOLS = [{"name": n} for n in ("translate", "translate", "detect", "finish", "ask", "end")]
RULE_GOLD = ['Thought: t\nAction: translate\nAction Input: {"text": "hi", "lang": "jp"}']
RULES = [
    ('Action: translate\nAction Input: {"text": "hi", "lang": "jp"}', (1, 1, 1), "as written"),
    ('Action:  translate\nAction Input: {"text": "hi", "lang": "jp"}', (0, 0, 0), "a space more before the name"),
    ('Action: translate \nAction Input: {"text": "hi", "lang": "jp"}', (0, 0, 0), "a space after the name"),
    ('Action:translate\nAction Input: {"text": "hi", "lang": "jp"}', (0, 0, 0), "8 characters cut: 'ranslate'"),
    ('Action: translate\n\nAction Input: {"text": "hi", "lang": "jp"}', (0, 0, 0), "only one newline is dropped"),
    ("Action: translate\nAction Input: {'text': 'hi', 'lang': 'jp'}", (0, 0, 0), "a Python dict is not JSON"),
    ('Action: translate\nAction Input: ```{"text": "hi", "lang": "jp"}```', (0, 0, 0), "a code fence"),
    ('Action: translate\nAction Input: {"text": "hi", "lang": "jp"}\nObservation:', (0, 0, 0), "text after it"),
    ('Action: translate\nAction Input: {"text": "hi", "lang": "jp"}  \n', (1, 1, 1), "whitespace after it"),
    ('Action: translate\nAction Input: {"lang": "jp", "text": "hi"}', (1, 1, 1), "key order is free"),
    ('Action: translate\nAction Input: {"text": "hi"}', (1, 0, 0), "a key missing"),
    ('Action: translate\nAction Input: {"text": "hi", "lang": "JP"}', (1, 1, 0), "values are case-sensitive"),
    ("Action: translate\nAction Input: {}", (0, 0, 0), "an empty input always fails"),
    ('Action: translate\nAction Input: ["hi"]', (1, 0, 0), "a list passes TS (the script then raises)"),
    ('Action: translate\nAction Input: "hi"', (0, 0, 0), "a JSON string"),
    ("Final Answer: hi", (0, 0, 0), "no Action at all"),
]


@pytest.mark.parametrize("prediction, expected, why", RULES, ids=[r[2] for r in RULES])
def test_rotbench_reading_rules(prediction, expected, why):
    verdict = judge(prediction, Gold(RULE_GOLD, RULE_TOOLS, "rotbench"))
    assert (verdict.ts, verdict.pi, verdict.cf) == tuple(map(bool, expected)), why
    assert verdict.correct == all(expected)  # what the benchmark fails, the reward does not praise
    if not all(expected) and not expected[0]:
        assert verdict.findings and verdict.findings[0] in ("format_error", "tool_hallucination", "wrong_tool")


def test_rotbench_unchecked_names_and_positions():
    """Values go unchecked for the last two tools of the list (by position: duplicate names count) and for the
    names finish and ask_to_user; "finish" stands for the last tool only."""

    def cf(gold_name, predicted_name, tools=RULE_TOOLS):
        gold = Gold([f'Action: {gold_name}\nAction Input: {{"answer": "yes"}}'], tools, "rotbench")
        return judge(f'Action: {predicted_name}\nAction Input: {{"answer": "no"}}', gold)

    assert cf("end", "end").cf and cf("ask", "ask").cf  # the last two by position
    assert cf("finish", "finish").cf  # the literal name, though it stands fourth
    assert not cf("detect", "detect").cf and cf("detect", "detect").ts
    assert cf("end", "finish").cf  # "finish" is the last tool's alias
    assert not cf("ask", "finish").ts
    renamed = [{"name": n} for n in ("a", "finish", "ask_to_user", "b", "c")]  # noisy files rename ordinary tools
    assert cf("ask_to_user", "ask_to_user", renamed).cf and cf("finish", "finish", renamed).cf
    duplicated = [{"name": n} for n in ("a", "b", "a")]  # the second-to-last is "b"; "a" is also the last
    assert cf("a", "a", duplicated).cf and cf("b", "b", duplicated).cf


def test_rotbench_short_tool_lists_fail_where_the_scorer_raises():
    """The scorer looks up the last tool before it compares names and the second-to-last before it compares values:
    with no tools nothing passes; with one, TS and PI can, CF cannot."""
    text = 'Action: translate\nAction Input: {"text": "hi"}'
    one = judge(text, Gold([text], [{"name": "translate"}], "rotbench"))
    assert (one.ts, one.pi, one.cf) == (True, True, False)
    none = judge(text, Gold([text], [], "rotbench"))
    assert (none.ts, none.pi, none.cf) == (False, False, False)


def test_findings():
    tools = [
        {"name": "get_weather", "parameters": {"properties": {"city": {}, "days": {}, "units": {}}}},
        {"name": "get_time", "parameters": {"properties": {"city": {}}}},
    ]
    gold = Gold({"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}, tools, "exact")
    cases = {
        "no call at all": ("It is sunny.", ("format_error",)),
        "get_weather(city=": ("get_weather(city=", ("format_error",)),
        "made-up tool": ("get_forecast(city='Paris', days=3)", ("tool_hallucination",)),
        "wrong tool": ("get_time(city='Paris')", ("wrong_tool",)),
        "unknown key": ("get_weather(city='Paris', days=3, hours=2)", ("parameter_hallucination",)),
        "missing key": ("get_weather(city='Paris')", ("parameter_missing",)),
        "redundant key": ("get_weather(city='Paris', days=3, units='C')", ("parameter_redundant",)),
        "wrong value": ("get_weather(city='Paris', days=4)", ("content_mismatch",)),
        "right": ("get_weather(days=3, city='Paris')", ()),
    }
    for case, (text, findings) in cases.items():
        verdict = judge(text, gold)
        assert verdict.findings == findings, case
        assert verdict.correct == (not findings) and bool(verdict.message) != verdict.correct, case
    assert judge("get_weather(city='Paris', days=3)\nget_time(city='Paris')", gold).wrong_tool  # one call too many


def test_gold_forms_and_closest_alternative():
    tools = ["f", "g"]
    one = {"name": "f", "arguments": {"a": 1}}
    for gold in (one, [one], [[one]], ToolCall("f", {"a": 1}), "f(a=1)", ['{"name": "f", "arguments": {"a": 1}}']):
        assert judge("f(a=1)", gold, tools, "exact").correct
    alternatives = [{"name": "g", "arguments": {"b": 1}}, {"name": "f", "arguments": {"a": 1, "c": 2}}]
    verdict = judge("f(a=1)", alternatives, tools, "exact")  # closest: f, with one key missing
    assert (verdict.wrong_tool, verdict.missing_keys) == (False, ("c",))
    for bad in ([], [[]], [{"arguments": {}}], "not a call", 5):
        with pytest.raises((ValueError, TypeError)):
            Gold(bad, tools)
    with pytest.raises(ValueError):
        Gold(one, tools, "fuzzy")


# ---- BFCL ----


OFFICIAL_GOLD_FAILURES = {"simple": 0, "multiple": 0, "parallel": 0, "parallel_multiple": 2}


@pytest.mark.parametrize("category", BFCL)
def test_bfcl_possible_answers_score_what_the_official_checker_gives(data_dir, category):
    rows, report = prompt_rows("bfcl", data_dir / "bfcl_v3" / f"BFCL_v3_{category}.json")
    assert not report.dropped and rows
    correct = failed = 0
    for row in rows:
        label = json.loads(row["label"])
        (answer,) = label["gold"]
        calls = [accepted_call(c) for c in answer]
        text = "[" + ", ".join(format_call(call, "python") for call in calls) + "]"
        verdict = judge(text, label["gold"], label["tools"], "bfcl")
        correct += verdict.correct and verdict.cf
        official = bfcl.score_text(text, label["tools"], [{c["name"]: c["arguments"]} for c in answer], category)
        assert verdict.correct == verdict.cf == official[0], (text, official)  # one judge for reward and metric
        failed += not official[0]
        # in reverse order BFCL's greedy pairing can miss (tests/test_bfcl_scorer.py); our reading pairs any order
        reversed_text = "[" + ", ".join(format_call(call, "python") for call in reversed(calls)) + "]"
        assert judge(reversed_text, label["gold"], label["tools"], "bfcl", "tolerant").correct, reversed_text
    print(f"\nBFCL v3 {category}: possible answers as predictions: {100 * correct / len(rows):.2f}% of {len(rows)}")
    # two parallel_multiple answers name a parameter the function does not have: BFCL's checker fails them
    assert failed == OFFICIAL_GOLD_FAILURES[category]


BFCL_TOOLS = [
    {
        "name": "book",
        "parameters": {
            "type": "dict",
            "required": ["city", "nights"],
            "properties": {
                "city": {"type": "string"},
                "nights": {"type": "integer"},
                "price": {"type": "float"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "opts": {"type": "dict"},
                "late": {"type": "boolean"},
            },
        },
    },
    {"name": "cancel", "parameters": {"type": "dict", "required": ["id"], "properties": {"id": {"type": "integer"}}}},
]
BFCL_GOLD = {
    "name": "book",
    "arguments": {
        "city": ["New York, NY", "NYC"],
        "nights": [2],
        "price": [100.0, ""],
        "tags": [["Sea View", "quiet"], ""],
        "opts": [{"bed": ["king"]}, ""],
    },
}


@pytest.mark.parametrize(
    "text, correct",
    [
        ("book(city='new york ny', nights=2)", True),  # lower-cased, spaces and punctuation removed
        ("book(city='N.Y.C.', nights=2)", True),
        ("book(city='Boston', nights=2)", False),
        ("book(city='NYC', nights=2, price=100)", True),  # an int stands for a float
        ("book(city='NYC', nights=2.0)", False),  # ... but not a float for an int
        ("book(city='NYC', nights='2')", False),
        ("book(city='NYC', nights=2, tags=['sea-view', 'QUIET'])", True),
        ("book(city='NYC', nights=2, tags=['quiet', 'sea view'])", False),  # list order matters
        ("book(city='NYC', nights=2, opts={'bed': 'King'})", True),
        ("book(city='NYC', nights=2, opts={'bed': 'king', 'view': 'sea'})", False),
        ("book(city='NYC', nights=2, late=True)", False),  # a schema key the possible answer does not have
        ("book(city='NYC')", False),
        ("cancel(id=2)", False),
    ],
)
def test_bfcl_rules(text, correct):
    assert judge(text, BFCL_GOLD, BFCL_TOOLS, "bfcl").correct is correct


def test_bfcl_findings_and_parallel_order():
    verdict = judge("book(city='NYC', nights=2, late=True, pets=1)", BFCL_GOLD, BFCL_TOOLS, "bfcl")
    assert (verdict.redundant_keys, verdict.hallucinated_keys) == (("late",), ("pets",))
    assert judge("book(city='NYC')", BFCL_GOLD, BFCL_TOOLS, "bfcl").missing_keys == ("nights",)
    pair = [[{"name": "cancel", "arguments": {"id": [1, 2]}}, {"name": "cancel", "arguments": {"id": [1]}}]]
    # BFCL pairs greedily in gold order: the first gold call takes id=1, which the second needed
    assert not judge("[cancel(id=1), cancel(id=2)]", pair, BFCL_TOOLS, "bfcl").correct
    assert judge("[cancel(id=1), cancel(id=2)]", pair, BFCL_TOOLS, "bfcl", "tolerant").correct  # ours: any order
    assert judge("[cancel(id=2), cancel(id=1)]", pair, BFCL_TOOLS, "bfcl").correct
    assert not judge("[cancel(id=2), cancel(id=2)]", pair, BFCL_TOOLS, "bfcl").correct
    assert judge("[cancel(id=1)]", pair, BFCL_TOOLS, "bfcl").wrong_tool


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), mode=st.sampled_from(["rotbench", "exact", "bfcl"]))
def test_judge_never_raises_on_model_text(text, mode):
    gold = BFCL_GOLD if mode == "bfcl" else {"name": "book", "arguments": {"city": "NYC", "nights": 2}}
    for prediction in (
        text,
        "book(" + text,
        '{"name": "book", "arguments": ' + text,
        "Action: book\nAction Input: " + text,
    ):
        verdict = judge(prediction, gold, BFCL_TOOLS, mode)
        assert isinstance(verdict, Verdict) and set(verdict.findings) <= set(IRM_TABLE)


def test_deeply_nested_input_never_recurses_without_limit():
    """Issue 10, finding 10: inputs nested ~900 deep made the judge raise RecursionError. Predictions are bounded
    by the parser (format error), gold by Gold itself, and the official readers return a verdict."""
    deep = "[" * 900 + "]" * 900
    tools = [{"name": "f", "parameters": {"type": "object", "properties": {"a": {}}}}]
    with pytest.raises(ValueError, match="nest over 100 levels"):
        Gold([{"name": "f", "arguments": {"a": json.loads(deep)}}], tools, "exact")
    gold = Gold([{"name": "f", "arguments": {"a": [[1]]}}], tools, "exact")
    prediction = '{"name": "f", "arguments": {"a": ' + deep + "}}"
    assert judge(prediction, gold).findings == ("format_error",)
    listed = [*tools, "ask_to_user", "finish"]  # RoTBench leaves the values of the last two tools unchecked
    official = judge('Action: f\nAction Input: {"a": ' + deep + "}", [{"name": "f", "arguments": {"a": 1}}], listed)
    assert official.parsed and official.findings == ("content_mismatch",)
    assert judge("[f(a=" + deep[:300] + deep[-300:] + ")]", gold, mode="bfcl").findings == ("format_error",)
    long = judge("f(a=1)" + " " * 70_000, gold)
    assert long.findings == ("format_error",) and "over the limit of 32,768" in long.error
