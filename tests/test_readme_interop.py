"""The README's OpenAI and MCP examples, run as written: each Python block of its "OpenAI tool calling and MCP"
section in a fresh interpreter, against a real `tl-tool-server --mcp http` and a scripted OpenAI-compatible model.
The only change is the addresses: the README's ports 8000 (tool server) and 8001 (model) become free ones. A block
ending in comment lines prints exactly those lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers import ScriptedModel, serve_in_thread, tool_call

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def section_blocks(title: str) -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def printed(block: str) -> list[str]:
    """The comment lines that end a block: what it prints."""
    lines = block.rstrip().splitlines()
    tail = []
    while lines and lines[-1].startswith("# "):
        tail.insert(0, lines.pop()[2:])
    return tail


def test_readme_openai_and_mcp_examples_run_as_written(rest_and_mcp_server):
    tool_server_url = rest_and_mcp_server
    blocks = section_blocks("OpenAI tool calling and MCP")
    assert len(blocks) == 3 and "openai_step" in blocks[0] and "Client(" in blocks[1] and "MCPToolServer" in blocks[2]
    model = ScriptedModel(
        [
            {"content": None, "tool_calls": [tool_call("call_1", "get_weather_current", '{"town": "Paris"}')]},
            {"content": None, "tool_calls": [tool_call("call_2", "get_weather_current", '{"city": "Paris"}')]},
            {"content": "It is 18.0 °C in Paris."},
        ]
    )
    with serve_in_thread(model.app) as model_url:
        outputs = []
        for block in blocks:
            code = block.replace("http://127.0.0.1:8000", tool_server_url).replace("http://127.0.0.1:8001", model_url)
            run = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=180)
            assert run.returncode == 0, run.stderr[-3000:]
            outputs.append(run.stdout.splitlines())
    # The OpenAI loop: the built-in task 0 (Paris, 18.0 C); IRM -0.8 for the hallucinated parameter, +1 the answer.
    assert outputs[0] == ["-0.8 ['parameter_hallucination']", "0.0 ['ok']", "1.0 []"]
    assert model.requests[1]["messages"][-1]["tool_call_id"] == "call_1"  # the feedback went back to the model
    for block, output in zip(blocks[1:], outputs[1:]):
        assert printed(block) and output == printed(block)
