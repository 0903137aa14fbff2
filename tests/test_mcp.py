"""MCP: `tl-tool-server --mcp` met with the official SDK's own client (stdio, and streamable HTTP beside the REST API),
ToolUse-v0 playing episodes through the MCP client transport, and another MCP server's errors in our taxonomy."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import anyio
import gymnasium as gym
import httpx
import pytest
from helpers import serve_in_thread, weather_task
from mcp import Client, StdioServerParameters
from mcp.server import MCPServer

from envs.tasks import Task
from tool_server import ToolServer, builtin_catalog
from tool_server.app import create_app
from tool_server.mcp_client import MCPToolServer
from tool_server.mcp_server import with_mcp
from tool_server.process import start_server_process

CONSOLE_SCRIPT = Path(sys.executable).parent / "tl-tool-server"
# The SDK hands a stdio server only a few safe variables; the test's own copy of the code must be the one imported.
STDIO = StdioServerParameters(command=str(CONSOLE_SCRIPT), args=["--mcp"], env=dict(os.environ))
GOOD = ("get_weather_current", {"city": "Paris"})
BAD = ("get_weather_current", {"city": "Paris", "day": 1})
INITIALIZE = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}


@pytest.fixture(scope="module")
def server_process():
    """`tl-tool-server --mcp http` on a free loopback port: REST and MCP (at /mcp) in one process, logging at INFO."""
    url, process = start_server_process("--mcp", "http", "--log-level", "info", command=[str(CONSOLE_SCRIPT)])
    yield url, process
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def rest_and_mcp(server_process):
    return server_process[0]


def test_mcp_stdio_server_with_the_sdk_client_answers_like_rest(rest_and_mcp):
    async def session() -> tuple:
        with anyio.fail_after(120):
            async with Client(STDIO, read_timeout_seconds=60) as client:
                listed = await client.list_tools()
                return listed.tools, await client.call_tool(*GOOD), await client.call_tool(*BAD)

    tools, good, bad = anyio.run(session)
    assert [t.name for t in tools] == [t["name"] for t in builtin_catalog().schemas()]
    forecast = next(t for t in tools if t.name == "get_weather_forecast")
    assert forecast.input_schema["required"] == ["city"] and forecast.input_schema["properties"]["days"]["maximum"] == 7

    assert not good.is_error and json.loads(good.content[0].text) == ToolServer().call(*GOOD)["output"]
    rest = httpx.post(f"{rest_and_mcp}/call", json={"name": BAD[0], "arguments": BAD[1]}).json()
    assert rest["category"] == "parameter_hallucination"  # the server's own answer over REST, for the same call
    assert bad.is_error
    assert bad.content[0].text == f"parameter_hallucination: {rest['message']}"
    assert bad.structured_content == rest


def test_mcp_over_streamable_http_beside_rest_keeps_sessions_and_takes_faults(rest_and_mcp):
    meta = {"tl-training/session": "s1"}

    async def session() -> list:
        with anyio.fail_after(60):
            async with Client(f"{rest_and_mcp}/mcp", read_timeout_seconds=30) as client:
                await client.call_tool("add_todo", {"title": "pack"}, meta=meta)
                return [
                    await client.call_tool("list_todos", {}, meta=meta),
                    await client.call_tool("list_todos", {}, meta={"tl-training/session": "s2"}),
                    await client.call_tool(*GOOD, meta={"tl-training/faults": {"instability_rate": 1.0}}),
                ]

    mine, theirs, faulty = anyio.run(session)
    assert [len(r.structured_content["output"]["todos"]) for r in (mine, theirs)] == [1, 0]
    assert faulty.is_error and faulty.structured_content["category"] == "tool_instability"
    assert httpx.get(f"{rest_and_mcp}/health").json()["status"] == "ok"  # REST still answers beside it
    # On loopback the SDK refuses a foreign Host (DNS rebinding): the same initialize request, two Host headers.
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
    accept = {"Accept": "application/json, text/event-stream"}
    answers = [
        httpx.post(f"{rest_and_mcp}/mcp", json=initialize, headers={**accept, **host}).status_code
        for host in ({}, {"Host": "evil.example"})
    ]
    assert answers == [200, 421]


def test_tool_use_env_plays_an_episode_through_the_mcp_transport(rest_and_mcp):
    mcp = MCPToolServer(f"{rest_and_mcp}/mcp", timeout_s=30)
    try:
        assert {t["name"] for t in mcp.tools()} == {t["name"] for t in builtin_catalog().schemas()}
        env = gym.make("envs:ToolUse-v0", tasks=[weather_task()], server=mcp)
        env.reset(seed=0)
        steps = [
            env.step('get_weather_current(city="Paris", day=1)'),
            env.step('get_weather_current(city="Paris")'),
            env.step('finish(answer="18.0")'),
        ]
        assert [info["categories"] for *_, info in steps] == [["parameter_hallucination"], ["ok"], []]
        # IRM (the paper's Section 3.3): -0.8 for a hallucinated parameter, 0 for a good call, +1 the right answer.
        assert [reward for _, reward, *_ in steps] == [-0.8, 0.0, 1.0] and steps[-1][2]
        assert json.loads(steps[1][4]["messages"][-1]["content"])["temperature"] == 18.0

        # Any MCP server's tools as the catalog: a task over the listed tools; each episode its own session.
        todo = Task("todo", "Add a todo, then list them.", tools=mcp.tools(["add_todo", "list_todos"]))
        counts = []
        for _ in range(2):
            env.reset(options={"task": todo})
            env.step('add_todo(title="pack")')
            counts.append(len(json.loads(env.step("list_todos()")[4]["messages"][-1]["content"])["todos"]))
        assert counts == [1, 1]
        env.close()
    finally:
        mcp.close()
    gone = mcp.call(*GOOD)  # a closed transport is a dead service to the env, never an exception
    assert gone["category"] == "tool_instability"


def test_another_mcp_servers_errors_are_classified_where_their_words_allow():
    server = MCPServer("calc")

    @server.tool()
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    @server.tool()
    def slow() -> str:
        """Take a while."""
        time.sleep(5)
        return "done"

    mcp = MCPToolServer(server, timeout_s=1.0)  # in process: the SDK's own FastMCP-style server
    try:
        assert mcp.tools()[0]["parameters"]["required"] == ["a", "b"]
        assert mcp.call("divide", {"a": 1, "b": 4}) == {"ok": True, "output": {"result": 0.25}}
        categories = [
            mcp.call("divide", {"a": 1})["category"],  # pydantic: Field required [type=missing]
            mcp.call("divide", {"a": "one", "b": 4})["category"],  # pydantic: Input should be a valid number
            mcp.call("multiply", {"a": 1, "b": 4})["category"],  # the SDK: Unknown tool: multiply
            mcp.call("divide", {"a": 1, "b": 0})["category"],  # the SDK hides the crash: nothing to tell
        ]
        assert categories == ["parameter_missing", "parameter_invalid", "tool_hallucination", "other"]
        late = mcp.call("slow", {})  # no answer within timeout_s: a timeout, as a real flaky service
        assert late["category"] == "tool_instability" and late["details"]["kind"] == "timeout"
    finally:
        mcp.close()


def test_mcp_beside_rest_is_held_to_the_rest_token():
    server = ToolServer()
    app = with_mcp(create_app(server, token="s3cret"), server)  # what `--mcp http --token s3cret` serves
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/health").status_code == 401  # REST refuses without the token ...
        bare = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
        assert bare.status_code == 401  # ... and so does MCP
        with pytest.raises(ConnectionError, match="cannot reach the MCP server"):
            MCPToolServer(f"{url}/mcp", token="wrong", connect_timeout_s=30)
        mcp = MCPToolServer(f"{url}/mcp", token="s3cret")
        try:
            assert mcp.call(*BAD)["category"] == "parameter_hallucination"
        finally:
            mcp.close()
    server.close()


def test_an_mcp_server_that_does_not_start_is_one_clear_error():
    with pytest.raises(ConnectionError, match="cannot reach the MCP server `.*python.*`"):
        MCPToolServer([sys.executable, "-c", "raise SystemExit(3)"], connect_timeout_s=30)


def test_the_server_logs_one_line_per_request_and_per_failed_call_never_a_traceback(server_process):
    url, process = server_process
    bad = httpx.post(f"{url}/call", content=b'{"name": ', headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    process.terminate()  # the last test of the module: its log is complete once the server has stopped
    _, log = process.communicate(timeout=30)
    lines = log.decode().splitlines()
    assert "Traceback" not in log.decode()
    assert sum('"POST /call HTTP/1.1" 400' in line for line in lines) == 1  # uvicorn's access log
    # the MCP call with an injected fault, earlier in this module: one line with its category
    assert any("tools/call get_weather_current: tool_instability: " in line for line in lines)
