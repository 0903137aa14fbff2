"""`tl-data convert` on every class of malformed file (issue 10, finding 7): a file-level problem exits 2 with
FILE:LINE: what is wrong, the kept/masked/dropped report is always printed, an output is written only when a record
is kept, and every record is either kept or counted as dropped. Line numbers are worked out by hand per file."""

import json

import pytest

from tl_plugin.data.cli import main

SAMPLE = {
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "It is 18 degrees."},
    ]
}
LINE = json.dumps(SAMPLE)
NAN_CALL = {  # arguments that json.loads reads as NaN: the output would not be JSON
    "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": '{"a": NaN}'}}]},
    ]
}

# name -> (file bytes, exit code, the FILE:LINE problem on stderr or None, records kept, records dropped)
FILES = {
    "truncated.jsonl": ((LINE + "\n" + LINE + "\n" + LINE[:40]).encode(), 2, ":3: not JSON", 2, 1),
    "bad_middle.jsonl": ((LINE + "\n\n{oops\n" + LINE + "\n").encode(), 2, ":3: not JSON", 2, 1),
    "bom.jsonl": (b"\xef\xbb\xbf" + (LINE + "\n").encode(), 0, None, 1, 0),
    "utf16.jsonl": ((LINE + "\n").encode("utf-16"), 2, ":1: UTF-16 text", 0, 0),
    "utf16_no_bom.json": (f"[{LINE}]".encode("utf-16-le"), 2, ":1: UTF-16 text", 0, 0),
    "binary.jsonl": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\xff", 2, ":1: not UTF-8 text", 0, 0),
    "nul.jsonl": ((LINE + "\n").encode() + b"\x00\x00\n", 2, ":2: a NUL byte", 0, 0),
    "empty.json": (b"", 2, ":1: the file is empty", 0, 0),
    "blank.jsonl": (b"\n  \n", 2, ":1: the file is empty", 0, 0),
    "deep.json": (b"[" * 100_000 + b"]" * 100_000, 2, ":1: nested too deeply", 0, 0),
    "deep_line.jsonl": ((LINE + "\n").encode() + b"[" * 100_000 + b"]" * 100_000, 2, ":2: nested too deeply", 1, 1),
    "data.txt": ((LINE + "\n").encode(), 2, ":1: expected a .json or .jsonl file, not .txt", 0, 0),
    "broken_list.json": (f"[\n{LINE},\n{{oops}},\n{LINE}\n]".encode(), 2, ":3: not JSON", 0, 0),
    "cut_list.json": (f"[\n{LINE},\n{LINE}".encode(), 2, ":3: not JSON", 0, 0),
    "jsonl_named.json": ((LINE + "\n" + LINE + "\n").encode(), 0, None, 2, 0),  # BFCL's JSON Lines files
    "list.json": (json.dumps([SAMPLE, SAMPLE], indent=1).encode(), 0, None, 2, 0),
    "line_separator.jsonl": ((LINE.replace("Paris", "Par\u2028is") + "\n{oops\n").encode(), 2, ":2: not JSON", 1, 1),
    "surrogate.jsonl": ((LINE + "\n" + LINE.replace("Paris", "\\ud800") + "\n").encode(), 0, None, 1, 1),
    "nan.jsonl": ((LINE + "\n" + json.dumps(NAN_CALL) + "\n").encode(), 0, None, 1, 1),
    "nothing_kept.jsonl": (b'{"messages": [{"role": "user", "content": "hi"}]}\n', 1, None, 0, 1),
}


@pytest.mark.parametrize("name", list(FILES))
def test_convert_each_malformed_file_class(name, tmp_path, capsys):
    content, code, problem, kept, dropped = FILES[name]
    path, out = tmp_path / name, tmp_path / "out.jsonl"
    path.write_bytes(content)
    assert main(["convert", "openai", str(path), str(out)]) == code
    printed = capsys.readouterr()
    assert f"kept {kept}, masked 0 erroneous calls, dropped {dropped}" in printed.out  # the report, always
    if problem is None:
        assert printed.err == ""
    else:
        assert f"{path}{problem}" in printed.err  # FILE:LINE: what is wrong
    assert out.exists() == (kept > 0)
    if kept:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
        assert len(rows) == kept and "NaN" not in out.read_text()


def test_dropped_records_say_why(tmp_path, capsys):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([LINE, LINE.replace("Paris", "\\udfff"), json.dumps(NAN_CALL)]) + "\n")
    assert main(["convert", "openai", str(path), str(tmp_path / "out.jsonl")]) == 0
    printed = capsys.readouterr().out
    assert "dropped 1: text with a lone surrogate (not valid Unicode)" in printed
    assert "dropped 1: a value is NaN or Infinity, which JSON cannot hold" in printed


def test_synth_rejects_a_count_below_one(tmp_path, capsys):
    for bad in ("-5", "0"):
        with pytest.raises(SystemExit) as stop:
            main(["synth", "--out", str(tmp_path / "s.jsonl"), "--n", bad])
        assert stop.value.code == 2 and "must be a positive number" in capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists()
