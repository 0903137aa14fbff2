"""`tl-data`: synth, stats (table and PNG), convert."""

import json

import pytest

from tl_plugin.core.taxonomy import CATEGORIES
from tl_plugin.data.cli import main
from tl_plugin.data.sources import read_records


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "synth.jsonl"
    main(["synth", "--out", str(path), "--n", "250", "--seed", "1"])
    return path


def test_stats_prints_the_table_and_writes_the_png(synth_file, tmp_path, capsys):
    png = tmp_path / "figure1.png"
    main(["stats", str(synth_file), "--png", str(png)])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.split()[0] in CATEGORIES}
    assert set(rows) == set(CATEGORIES)
    samples = read_records(synth_file)
    injected = sum(len(s["injected"]) for s in samples)
    assert sum(int(rows[c][1]) for c in CATEGORIES if c != "ok") == injected
    total = int(next(line for line in out.splitlines() if line.startswith("all calls")).split()[2])
    assert float(rows["ok"][2].rstrip("%")) == pytest.approx(100 * (total - injected) / total, abs=0.05)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_synth_is_deterministic_and_its_error_share_controllable(synth_file, tmp_path, capsys):
    again = tmp_path / "again.jsonl"
    main(["synth", "--out", str(again), "--n", "250", "--seed", "1"])
    assert again.read_bytes() == synth_file.read_bytes()
    other = tmp_path / "other.jsonl"
    main(["synth", "--out", str(other), "--n", "250", "--seed", "2", "--error-rate", "0.3"])
    assert "(30.0%)" in capsys.readouterr().out.splitlines()[-1]
    assert other.read_bytes() != synth_file.read_bytes()
    sample = read_records(synth_file)[0]
    assert sample["messages"][0]["content"].startswith("Function:\ndef ")  # the python prompt format
    assert sample["messages"][-1]["tool_calls"][0]["function"]["name"] == "finish"
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(other), "--error-rate", "0.6"])


def test_synth_mistakes_are_followed_by_real_feedback_and_a_correct_retry(synth_file):
    for sample in read_records(synth_file):
        messages = sample["messages"]
        for mistake in sample["injected"]:
            i = mistake["message"]
            feedback, retry, answer = messages[i + 1], messages[i + 2], messages[i + 3]
            assert feedback["role"] == "tool" and retry["role"] == "assistant" and answer["role"] == "tool"
            if mistake["category"] == "tool_hallucination":
                wrong, right = (m["tool_calls"][0]["function"]["name"] for m in (messages[i], retry))
                assert feedback["tool_call_id"] == messages[i]["tool_calls"][0]["id"]
                assert wrong.split("_")[0] == right.split("_")[0] and wrong not in {t["name"] for t in sample["tools"]}
                assert feedback["content"] == f"name '{wrong}' is not defined"
            json.loads(answer["content"])  # the retry succeeded: the tool's JSON output


def test_convert_prints_kept_masked_dropped(data_dir, tmp_path, capsys):
    out = tmp_path / "rotbench.jsonl"
    main(["convert", "rotbench", str(data_dir / "rotbench" / "third_turn_clean.json"), str(out)])
    printed = capsys.readouterr().out
    assert "kept 70, masked 40 erroneous calls, dropped 0" in printed
    assert "note 3: assistant turn with several acceptable answers: kept the first" in printed
    assert len(read_records(out)) == 70
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"conversations": []}\n')
    main(["convert", "openai", str(bad), str(tmp_path / "none.jsonl")])
    printed = capsys.readouterr().out
    assert "kept 0, masked 0 erroneous calls, dropped 2" in printed
    assert "dropped 1: no assistant turn" in printed and "dropped 1: malformed record (KeyError: 'messages')" in printed
