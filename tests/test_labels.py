"""Bad labels fail loudly (issue 10, findings 2 and 3): `reward_func` raises one LabelError (a ValueError) naming
the sample and the field for every bad-label case, never a bare TypeError nor a silent -2 for a correct answer;
`tl-prompts check FILE` names each bad row and field before training."""

import json
import subprocess
import sys

import pytest

from tl_plugin.adapters.reward import reward_func
from tl_plugin.core.labels import LabelError, read_label
from tl_plugin.data.prompts import prompt_rows

TOOL = {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}
GOOD = {"tools": [TOOL], "gold": [{"name": "f", "arguments": {"a": 1}}], "mode": "exact"}
PROMPT = "<|im_start|>user\nCall f with a=1.<|im_end|>\n<|im_start|>assistant\n"
RIGHT = "f(a=1)"
DEEP = {"a": json.loads("[" * 150 + "]" * 150)}


def bad(**changes):
    label = {**GOOD, **changes}
    return json.dumps({k: v for k, v in label.items() if v is not ...})


# (label, the field the error must name, words of its problem)
CASES = [
    ("not json", "", "not JSON"),
    ("[]", "", "expected a JSON object"),
    ("[" * 5000 + "]" * 5000, "", "not JSON (depth limit exceeded"),
    ('{"tools": [{"name": "f"}], "gold": {"name": "f", "arguments": {"a": NaN}}}', "", "not JSON"),
    (bad(tools=...), "tools", "missing"),  # finding 3: a correct answer would score -2
    (bad(tools=[]), "tools", "non-empty list"),
    (bad(tools=[None]), "tools[0].name", "expected a tool name, got null"),
    (bad(tools="f"), "tools", "non-empty list"),
    (bad(tools=[{"description": "no name"}]), "tools[0].name", "expected a tool name"),
    (bad(tools=[{"name": "f", "parameters": 5}]), "tools[0].parameters", "JSON schema object"),
    (bad(tools=[{"name": "f", "parameters": {"properties": []}}]), "tools[0].parameters.properties", "object"),
    (bad(tools=[{"name": "f", "parameters": {"properties": {"a": 1}}}]), "tools[0].parameters.properties", "schema"),
    (bad(tools=[{"name": "f", "parameters": {"required": "a"}}]), "tools[0].parameters.required", "list"),
    (bad(gold=...), "gold", "missing"),
    (bad(gold=[]), "gold", "non-empty list"),
    (bad(gold=5), "gold", "got a number 5"),
    (bad(gold=[{"arguments": {}}]), "gold[0].name", "expected a tool name"),
    (bad(gold=[{"name": "f", "arguments": [1]}]), "gold[0].arguments", "object of argument values"),
    (bad(gold=[{"name": "g", "arguments": {}}]), "gold[0].name", "not in the label's tools"),
    (bad(gold=[[{"name": "f"}], []]), "gold[1]", "no calls"),
    (bad(gold=[[{"name": "f"}], {"name": "f"}]), "gold", "mixes calls and lists"),
    (bad(gold=["not a call"]), "gold[0]", "exactly one readable call"),
    (bad(gold=[7]), "gold[0]", "expected a call"),
    (bad(gold=[{"name": "f", "arguments": DEEP}]), "gold[0].arguments", "nested over 100 levels"),
    (bad(mode="strict"), "mode", "expected one of rotbench, exact, bfcl"),
    (bad(reading="lenient"), "reading", "expected one of official, tolerant"),
    (bad(category=3), "category", "expected a string"),
]


@pytest.mark.parametrize("label, field, problem", CASES)
def test_every_bad_label_raises_one_error_naming_the_sample_and_field(label, field, problem):
    with pytest.raises(LabelError) as caught:
        reward_func([PROMPT + RIGHT] * 3, [PROMPT] * 3, [json.dumps(GOOD), json.dumps(GOOD), label])
    error = caught.value
    assert isinstance(error, ValueError) and error.field == field and problem in str(error)
    assert "sample 2 of the batch" in str(error)
    assert (f"label field {field!r}" if field else "label:") in str(error)


def test_a_label_that_is_not_text_is_named_too():
    with pytest.raises(LabelError, match=r"expected a JSON string, got dict \(sample 0"):
        reward_func([PROMPT + RIGHT], [PROMPT], [GOOD])
    with pytest.raises(ValueError, match="got 2 queries, 1 prompts and 1 labels"):
        reward_func([PROMPT + RIGHT] * 2, [PROMPT], [json.dumps(GOOD)])
    with pytest.raises(ValueError, match="sample 0: the query and the prompt must be text, got NoneType"):
        reward_func([None], [PROMPT], [json.dumps(GOOD)])


def test_good_labels_score_the_right_answer_plus_one():
    """The shapes the schema allows, a wrapper and a bare name among the tools: the right answer earns +1."""
    shapes = [
        GOOD,
        {**GOOD, "gold": {"name": "f", "arguments": {"a": 1}}},
        {**GOOD, "gold": [[{"name": "f", "arguments": {"a": 1}}]]},
        {**GOOD, "gold": ["f(a=1)"]},
        {**GOOD, "tools": [{"type": "function", "function": TOOL}, "g"], "task": "extra keys are allowed"},
    ]
    labels = [json.dumps(label) for label in shapes]
    assert reward_func([PROMPT + RIGHT] * len(labels), [PROMPT] * len(labels), labels)["rewards"].tolist() == [1.0] * 5


def test_every_label_tl_prompts_writes_is_read(data_dir):
    sources = [("rotbench", p) for p in sorted((data_dir / "rotbench").glob("*.json"))]
    sources += [("bfcl", p) for p in sorted((data_dir / "bfcl_v3").glob("*.json"))] + [("builtin", None)]
    count = 0
    for source, path in sources:
        for row in prompt_rows(source, path)[0]:
            read_label(row["label"])
            count += 1
    assert count == 105 + 70 + 1240 + 337


def test_tl_prompts_check_names_each_bad_row_and_field(tmp_path):
    rows, _ = prompt_rows("builtin")
    good = rows[:2]
    lines = [json.dumps(row) for row in good]
    lines.append(json.dumps({**good[0], "id": "no-tools", "label": bad(tools=...)}))
    lines.append(json.dumps({**good[0], "id": "null-tool", "label": bad(tools=[None])}))
    lines.append(json.dumps({**good[0], "id": "chat", "input": [{"role": "robot", "content": "x"}]}))
    task = json.loads(good[0]["label"])
    lines.append(json.dumps({**good[0], "id": "task", "label": json.dumps({**task, "query": ["a list"]})}))
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    run = subprocess.run([sys.executable, "-m", "tl_plugin.data.prompts", "check", str(path)], capture_output=True)
    out = run.stdout.decode()
    assert run.returncode == 1, out
    assert f"{path}:3: row no-tools: label.tools: missing" in out
    assert f"{path}:4: row null-tool: label.tools[0].name: expected a tool name, got null" in out
    assert f"{path}:5: row chat: input[0].role: expected one of system, user, assistant, tool" in out
    assert f"{path}:6: row task: label: not a readable task for the agent (task field 'query' must be str" in out
    assert f"{path}: 6 rows, 4 bad, 0 unreadable lines" in out

    path.write_text("\n".join(lines[:2]) + "\n")
    run = subprocess.run([sys.executable, "-m", "tl_plugin.data.prompts", "check", str(path)], capture_output=True)
    assert run.returncode == 0 and f"{path}: 2 rows, 0 bad" in run.stdout.decode()
    path.write_text(lines[0] + "\n{cut\n")
    run = subprocess.run([sys.executable, "-m", "tl_plugin.data.prompts", "check", str(path)], capture_output=True)
    assert run.returncode == 2 and f"{path}:2: not JSON" in run.stderr.decode()
