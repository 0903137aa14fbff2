"""`tl-eval`: gold answers scored as the official scorers score them, a tiny random model run end to end on every
benchmark, resuming, documentation noise against a served model, and the comparison table."""

import json

import pytest
from fastapi import FastAPI, Request
from helpers import accepted_call, serve_in_thread, tiny_checkpoint

from tl_plugin.core.parsing import format_call
from tl_plugin.data.sources import bfcl_gold, read_bfcl
from tl_plugin.eval.cli import main
from tl_plugin.eval.suites import load

BFCL_AST = ["simple", "multiple", "parallel", "parallel_multiple"]
BFCL_EXEC = ["exec_simple", "exec_multiple", "exec_parallel", "exec_parallel_multiple"]


def score(capsys, tmp_path, benchmark, data, predictions):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    per_item = tmp_path / "per_item.jsonl"
    assert (
        main(
            [
                "score",
                "--benchmark",
                benchmark,
                "--data",
                str(data),
                "--predictions",
                str(path),
                "--per-item",
                str(per_item),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    return printed, [json.loads(line) for line in per_item.read_text().splitlines()]


def react(name, arguments):
    return f"Thought: t\nAction: {name}\nAction Input: {json.dumps(arguments)}"


@pytest.mark.parametrize("name, expected", [("first_turn_clean", 92.38), ("third_turn_clean", 95.71)])
def test_score_rotbench_gold_as_the_official_script_prints_it(capsys, tmp_path, data_dir, name, expected):
    """The first gold answer of every item: RoTBench's script prints 92.38 / 95.71, failing the items whose gold
    Action Input is {} (tools without parameters), as it fails every empty input."""
    items = json.loads((data_dir / "rotbench" / f"{name}.json").read_text())
    golds = [item["conversations"][-1]["value"][0] for item in items]
    printed, per_item = score(capsys, tmp_path, "rotbench", data_dir / "rotbench" / f"{name}.json", golds)
    assert f"TS: {expected:.2f}" in printed and f"CF: {expected:.2f}" in printed
    assert [set(line) for line in per_item] == [{"index", "ts", "pi", "cf"}] * len(items)
    failed = [line["index"] for line in per_item if not line["cf"]]
    assert failed == [i for i, gold in enumerate(golds) if gold.endswith("Action Input: {}")]


def test_score_rotbench_rounds_as_the_official_script(capsys, tmp_path, data_dir):
    """23 right of 160: RoTBench's evaluate.py prints 14.37 (23 / 160 * 100 is 14.374999...; 100 * 23 / 160 would
    round to 14.38). Its output on this very file, run by hand."""
    items = (json.loads((data_dir / "rotbench" / "first_turn_clean.json").read_text()) * 2)[:160]
    golds = [item["conversations"][-1]["value"][0] for item in items]
    right = [i for i, gold in enumerate(golds) if not gold.endswith("Action Input: {}")][:23]
    data = tmp_path / "n160.json"
    data.write_text(json.dumps(items))
    predictions = [gold if i in right else "I cannot handle the task." for i, gold in enumerate(golds)]
    printed, _ = score(capsys, tmp_path, "rotbench", data, predictions)
    assert "TS: 14.37" in printed and "CF: 14.37" in printed


def test_score_rotbench_reads_the_tool_list_as_the_scorer_does(capsys, tmp_path, data_dir):
    """The scorer reads the tools from the system prompt's first "[" to its last 13 characters: a list written
    with other whitespace is the same list. Every gold answer is answered with wrong string values: only finish
    and ask_to_user (the last two tools), whose values go unchecked, and answers without strings keep CF."""
    items = json.loads((data_dir / "rotbench" / "first_turn_clean.json").read_text())
    for item in items:
        system = item["conversations"][0]["value"]
        start = system.find("[")
        tools = json.loads(system[start:-13])
        item["conversations"][0]["value"] = system[:start] + json.dumps(tools, indent=2) + system[-13:]
    data = tmp_path / "indented.json"
    data.write_text(json.dumps(items))
    golds = [item["conversations"][-1]["value"][0] for item in items]
    wrong = [gold.replace('": "', '": "x') for gold in golds]  # every string value changed
    _, per_item = score(capsys, tmp_path, "rotbench", data, wrong)
    names = [g[g.find("Action:") + 8 : g.find("Action Input:")].strip() for g in golds]
    unchecked = [name in ("finish", "ask_to_user") or '": "' not in gold for name, gold in zip(names, golds)]
    empty = [gold.endswith("Action Input: {}") for gold in golds]
    assert [line["ts"] for line in per_item] == [not e for e in empty]
    assert [line["cf"] for line in per_item] == [u and not e for u, e in zip(unchecked, empty)]
    assert sum(unchecked) > sum(empty) and not all(unchecked)  # both kinds occur


def test_score_toolalpaca_first_golden_steps(capsys, tmp_path, data_dir):
    """RoTBench's rules on eval_real: every first golden step scores, except those with an empty Action_Input
    (RoTBench fails every empty input) and four whose Action_Input is not JSON (`"symbols": "symbols": ...` in one
    API's answers): no answer can match those."""
    path = data_dir / "toolalpaca" / "eval_real.json"
    steps = [answers[0] for api in json.loads(path.read_text()) for answers in api["Golden_Answers"]]
    golds = [f"Thought: t\nAction: {step['Action']}\nAction Input: {step['Action_Input']}" for step in steps]
    printed, per_item = score(capsys, tmp_path, "toolalpaca", path, golds)
    empty = [i for i, step in enumerate(steps) if step["Action_Input"].strip() in ("{}", "")]
    unreadable = []
    for i, step in enumerate(steps):
        try:
            json.loads(step["Action_Input"])
        except ValueError:
            unreadable.append(i)
    assert len(per_item) == len(steps) == 114 and empty and unreadable == [107, 111, 112, 113]
    assert [line["index"] for line in per_item if not line["cf"]] == sorted(empty + unreadable)
    assert f"CF: {100 * (len(steps) - len(empty) - 4) / len(steps):.2f}" in printed


@pytest.mark.parametrize("category", BFCL_AST)
def test_score_bfcl_ast_possible_answers(capsys, tmp_path, data_dir, category):
    """Two parallel_multiple possible answers name a parameter their function lacks: BFCL's checker fails them.
    (The calls use the function list's names: one simple answer drops a namespace the checker insists on.)"""
    path = data_dir / "bfcl_v3" / f"BFCL_v3_{category}.json"
    texts = []
    for item in read_bfcl(path):
        (answer,) = bfcl_gold(item["possible_answer"], item["function"])
        calls = [accepted_call(c) for c in answer]
        texts.append("[" + ", ".join(format_call(call, "python") for call in calls) + "]")
    printed, per_item = score(capsys, tmp_path, "bfcl", path, texts)
    assert [set(line) for line in per_item] == [{"index", "valid", "error_type"}] * len(texts)
    invalid = [line for line in per_item if not line["valid"]]
    assert len(invalid) == (2 if category == "parallel_multiple" else 0)
    assert f"accuracy: {100 * (len(texts) - len(invalid)) / len(texts):.2f}" in printed


@pytest.mark.parametrize("category", BFCL_EXEC)
def test_score_bfcl_exec_ground_truth_and_irrelevance(capsys, tmp_path, data_dir, category):
    path = data_dir / "bfcl_v3" / f"BFCL_v3_{category}.json"
    truths = ["[" + ", ".join(json.loads(line)["ground_truth"]) + "]" for line in path.open()]
    printed, per_item = score(capsys, tmp_path, "bfcl", path, truths)
    assert all(line["ts"] and line["pi"] and line["cf"] for line in per_item) and "CF: 100.00" in printed
    printed, per_item = score(capsys, tmp_path, "bfcl", path, truths[1:] + truths[:1])  # shifted: other calls
    assert not all(line["cf"] for line in per_item)
    irrelevance = data_dir / "bfcl_v3" / "BFCL_v3_irrelevance.json"
    n = sum(1 for _ in irrelevance.open())
    printed, per_item = score(capsys, tmp_path, "bfcl", irrelevance, ["I cannot help with that."] * n)
    assert "accuracy: 100.00" in printed
    printed, per_item = score(capsys, tmp_path, "bfcl", irrelevance, ["[f(a=1)]"] * n)
    assert "accuracy: 0.00" in printed and per_item[0]["error_type"] == "irrelevance_error:decoder_success"


def test_score_rejects_misaligned_predictions(capsys, tmp_path, data_dir):
    with pytest.raises(SystemExit, match="2 predictions for 105 items"):
        score(capsys, tmp_path, "rotbench", data_dir / "rotbench" / "first_turn_clean.json", ["a", "b"])
    with pytest.raises(SystemExit):
        main(["run", "--benchmark", "rotbench", "--model", "x", "--out", str(tmp_path), "--limit", "-5"])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-llama")
    tiny_checkpoint(directory)
    return directory


@pytest.mark.parametrize("benchmark", ["rotbench", "bfcl", "toolalpaca", "tooleyes", "builtin"])
def test_run_a_tiny_random_model_end_to_end(capsys, tmp_path, data_dir, checkpoint, benchmark):
    out = tmp_path / "run"
    args = [
        "run",
        "--benchmark",
        benchmark,
        "--model",
        str(checkpoint),
        "--out",
        str(out),
        "--limit",
        "2",
        "--max-new-tokens",
        "12",
        "--batch-size",
        "4",
        "--data-dir",
        str(data_dir),
        "--engine",
        "hf",
        "--quiet",
    ]
    assert main(args) == 0
    assert {"results.json", "report.md", "chart.png"} <= {p.name for p in out.iterdir()}
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    if benchmark != "tooleyes":
        files = {"rotbench": 2, "bfcl": 9, "toolalpaca": 1, "builtin": 1}[benchmark]
        per_item = (out / "per_item.jsonl").read_text().splitlines()
        assert len(per_item) == 2 * files and len(results["single_turn"]["clean"]["official"]) == files
        assert "tolerant" in results["single_turn"]["clean"] and "tolerant reading" in report
    if benchmark in ("tooleyes", "builtin"):
        assert set(results["multi_turn"]) >= {"DE", "CE", "VA", "episodes"} and results["multi_turn"]["episodes"] == 2
        assert len((out / "episodes.jsonl").read_text().splitlines()) == 2 and "Multi-turn" in report
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_run_resumes_from_its_predictions(tmp_path, data_dir, checkpoint):
    out = tmp_path / "run"
    args = [
        "run",
        "--benchmark",
        "rotbench",
        "--model",
        str(checkpoint),
        "--out",
        str(out),
        "--max-new-tokens",
        "8",
        "--data",
        str(data_dir / "rotbench" / "first_turn_clean.json"),
        "--engine",
        "hf",
        "--quiet",
    ]
    assert main([*args, "--limit", "2"]) == 0
    first = (out / "predictions-clean.jsonl").read_text().splitlines()
    assert main([*args, "--limit", "3"]) == 0
    second = (out / "predictions-clean.jsonl").read_text().splitlines()
    assert second[:2] == first and len(second) == 3  # the two made are kept, only the third is new


class OracleModel:
    """An OpenAI-compatible endpoint answering RoTBench items. It knows each query's clean gold answer; `reads_docs`
    maps it onto the tool list it is shown (same position, same parameter positions, plus any required parameter
    whose enum has one value), as a model that reads the documentation would; otherwise it answers the clean names."""

    def __init__(self, items, reads_docs):
        self.gold = {item.messages[-1]["content"]: (item.tools, item.gold[0]) for item in items}
        self.reads_docs = reads_docs
        self.app = FastAPI()
        self.app.get("/v1/models")(self.models)
        self.app.post("/v1/chat/completions")(self.chat)

    async def models(self):
        return {"object": "list", "data": [{"id": "oracle", "object": "model", "created": 0, "owned_by": "test"}]}

    async def chat(self, request: Request):
        body = await request.json()
        clean_tools, gold = self.gold[body["messages"][-1]["content"]]
        system = body["messages"][0]["content"]
        shown = json.JSONDecoder().raw_decode(system, system.find("[{"))[0]
        name, arguments = gold["name"], gold["arguments"]
        if self.reads_docs:
            i = [t["name"] for t in clean_tools].index(name)
            clean_keys = list(clean_tools[i]["parameters"]["properties"])
            noisy_props = shown[i]["parameters"]["properties"]
            keys = dict(zip(clean_keys, noisy_props))
            name = shown[i]["name"]
            arguments = {keys[k]: v for k, v in arguments.items()}
            arguments |= {k: p["enum"][0] for k, p in noisy_props.items() if len(p.get("enum", [])) == 1}
        message = {"role": "assistant", "content": react(name, arguments)}
        return {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "oracle",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }


@pytest.mark.parametrize("reads_docs", [True, False])
def test_robustness_report_over_the_noise_levels(capsys, tmp_path, data_dir, reads_docs):
    """RoTBench first turn under every noise level through a served model. A model that reads the noisy tool list
    keeps every item it had right (the noise renames prompt and gold alike; heavy noise even adds a required
    parameter to tools without any, which RoTBench's scorer can then score); one that answers the clean names loses
    tool selection wherever names change."""
    data = data_dir / "rotbench" / "first_turn_clean.json"
    items, _ = load("rotbench", data)
    out = tmp_path / "noise"
    with serve_in_thread(OracleModel(items, reads_docs).app) as url:
        args = ["run", "--benchmark", "rotbench", "--model", f"{url}/v1", "--out", str(out), "--data", str(data)]
        assert main([*args, "--noise", "all", "--quiet", "--limit", "40"]) == 0
    levels = json.loads((out / "results.json").read_text())["single_turn"]
    assert list(levels) == ["clean", "slight", "medium", "heavy", "union"]
    ts = {level: scores["official"]["first_turn_clean"]["TS"] for level, scores in levels.items()}
    per_item = [json.loads(line) for line in (out / "per_item.jsonl").read_text().splitlines()]
    right_when_clean = {row["id"] for row in per_item if row["level"] == "clean" and row["cf"]}
    if reads_docs:  # every item right on clean tools stays right (heavy noise can only add: see below)
        assert right_when_clean and all(row["cf"] for row in per_item if row["id"] in right_when_clean), levels
    else:
        assert ts["slight"] < ts["clean"] and ts["medium"] < ts["clean"] and ts["heavy"] < ts["clean"], ts
    assert "Documentation noise" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(["compare", str(out), str(out)]) == 0
    table = capsys.readouterr().out
    assert "first_turn_clean TS" in table and table.count("\n") >= 3
