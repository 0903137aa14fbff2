"""The habits of every console script: `--help` answers with the usage and exits 0 without doing the job, every one
takes `--log-level`, bad arguments are refused, and a bad input is one log line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
REPO = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
ENV = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def entry_point(name: str, *args: str, cwd: Path) -> subprocess.Popen:
    """The console script `name` as pip's wrapper runs it (its module:function from pyproject), from this checkout."""
    module, function = SCRIPTS[name].split(":")
    code = f"import sys; from {module} import {function}; sys.argv[0] = {name!r}; sys.exit({function}())"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_every_console_script_answers_help_without_doing_its_job(tmp_path):
    assert {"tl-tool-server", "tl-data", "tl-eval", "tl-reward-path", "tl-agent-path"} <= set(SCRIPTS)
    runs = {(name,): entry_point(name, "--help", cwd=tmp_path) for name in SCRIPTS}  # side by side: ~2 s each
    runs[("tl-data", "synth")] = entry_point("tl-data", "synth", "--help", cwd=tmp_path)  # flags of a command
    for command, process in runs.items():
        out, err = process.communicate(timeout=180)
        name = " ".join(command)
        assert process.returncode == 0, f"{name} --help: status {process.returncode}\n{err[-2000:]}"
        assert out.startswith(f"usage: {name}"), f"{name} --help printed {out[:200]!r}"
        assert "Traceback" not in err and not out.rstrip().endswith(".py"), f"{name} --help did its job: {out[-300:]}"
        assert "--log-level" in out or command == ("tl-data",), f"{name} has no --log-level"
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing served (a server would not have exited)


def test_bad_arguments_are_refused_and_a_bad_input_is_one_line(tmp_path):
    negative = entry_point("tl-data", "synth", "--out", str(tmp_path / "x.jsonl"), "--n", "-5", cwd=tmp_path)
    missing = entry_point("tl-data", "convert", "openai", str(tmp_path / "missing.json"), "out.jsonl", cwd=tmp_path)
    port = entry_point("tl-reward-server", "--port", "70000", cwd=tmp_path)
    unread = entry_point(
        "tl-eval", "score", "--benchmark", "rotbench", "--data", "missing.json", "--predictions", "p.json", cwd=tmp_path
    )
    _, err = negative.communicate(timeout=180)
    assert negative.returncode == 2 and "argument --n: must be a positive number, got -5" in err
    _, err = missing.communicate(timeout=180)
    assert missing.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"ERROR tl_plugin.data: [Errno 2] No such file or directory: '{tmp_path}/missing.json'"
    ]
    _, err = port.communicate(timeout=180)
    assert port.returncode == 2 and "must be between 1 and 65535" in err
    _, err = unread.communicate(timeout=180)
    assert unread.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "ERROR tl_plugin.eval: [Errno 2] No such file or directory: 'missing.json'"
    assert list(tmp_path.iterdir()) == []


def test_the_path_scripts_print_the_files_openrlhf_loads(tmp_path):
    runs = [entry_point(name, cwd=tmp_path) for name in ("tl-reward-path", "tl-agent-path")]
    printed = [Path(run.communicate(timeout=60)[0].strip()) for run in runs]
    assert printed == [REPO / "tl_plugin/adapters/reward.py", REPO / "tl_plugin/adapters/agent.py"]
