"""The tool server over HTTP: the real `tl-tool-server` process on a loopback port, uvicorn in a thread, and the
in-process app through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from helpers import free_port

from tl_plugin.core.taxonomy import CATEGORIES
from tool_server import Catalog, ToolServer, builtin_catalog
from tool_server.app import create_app
from tool_server.process import start_server_process

CONSOLE_SCRIPT = Path(sys.executable).parent / "tl-tool-server"
WEATHER = {"name": "get_weather_current", "arguments": {"city": "Paris"}}


def start_server(*flags: str, command: list[str] | None = None) -> tuple[str, subprocess.Popen]:
    """The console script (or `command`) on a free loopback port, once it answers /health."""
    return start_server_process(*flags, command=command or [str(CONSOLE_SCRIPT)])


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def cli_server():
    url, process = start_server()
    yield url, process
    stop(process)


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses listening on a TCP port, from /proc/net/tcp (Linux)."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        ip_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            addresses.add(".".join(str(int(ip_hex[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addresses


def test_console_script_serves_tools_call_and_health_on_loopback(cli_server):
    url, _ = cli_server
    assert listening_addresses(int(url.rsplit(":", 1)[1])) == {"127.0.0.1"}
    with httpx.Client(base_url=url) as http:
        assert http.get("/health").json() == {"status": "ok", "tools": len(builtin_catalog())}
        tools = http.get("/tools").json()  # OpenAI's wrapped form, ready for `tools=`
        assert {t["type"] for t in tools} == {"function"}
        assert len(tools) >= 40 and {"get_weather_current", "add_todo"} <= {t["function"]["name"] for t in tools}
        picked = http.get("/tools", params={"names": "get_weather_forecast,add_todo"}).json()
        assert [t["function"]["name"] for t in picked] == ["get_weather_forecast", "add_todo"]
        missing = http.get("/tools", params={"names": "get_weather_forecast,nope"})
        assert missing.status_code == 404 and "nope" in missing.json()["message"]
        assert http.get("/tools", params={"toolset": "nope"}).status_code == 404

        ok = http.post("/call", json=WEATHER)
        assert ok.status_code == 200 and ok.json() == {"ok": True, "output": ToolServer().call(**WEATHER)["output"]}
        wrong = http.post("/call", json={"name": "get_weather_current", "arguments": {"city": "Paris", "units": "K"}})
        assert wrong.status_code == 200 and wrong.json()["category"] == "parameter_invalid"
        faulty = http.post("/call", json={**WEATHER, "faults": {"instability_rate": 1, "instability_kind": "timeout"}})
        assert faulty.json()["category"] == "tool_instability" and "Read timed out" in faulty.json()["message"]
        # Sessions keep the state of stateful tools apart.
        http.post("/call", json={"name": "add_todo", "arguments": {"title": "pack"}, "session": "s1"})
        todos = {
            s: http.post("/call", json={"name": "list_todos", "arguments": {}, "session": s}) for s in ("s1", "s2")
        }
        assert [len(r.json()["output"]["todos"]) for r in todos.values()] == [1, 0]

        bad = http.post("/call", content=b'{"name": "get_weather_current", "arguments": ', headers=json_header())
        assert bad.status_code == 400 and bad.json()["category"] == "format_error"
        unknown = http.post("/call", json={**WEATHER, "temperature": 0.7})
        assert unknown.status_code == 422 and "temperature" in unknown.json()["message"]
        nowhere = http.get("/nowhere")
        assert nowhere.status_code == 404 and nowhere.json()["category"] == "format_error"


def json_header() -> dict:
    return {"Content-Type": "application/json"}


def test_python_m_record_then_replay(tmp_path):
    catalog = tmp_path / "catalog.json"
    schema = {"name": "lookup", "description": "Look up.", "parameters": {"type": "object", "properties": {"q": {}}}}
    catalog.write_text(json.dumps([schema]))
    cache = tmp_path / "cache.jsonl"
    calls = [{"name": "lookup", "arguments": {"q": q}} for q in ("a", "b", "c")]
    command = [sys.executable, "-m", "tool_server"]
    url, process = start_server("--catalog", str(catalog), "--record", str(cache), command=command)
    recorded = [httpx.post(f"{url}/call", json=call).json() for call in calls]
    stop(process)
    assert all(r["ok"] for r in recorded) and len(cache.read_text().splitlines()) == 3

    lines = [json.loads(line) for line in cache.read_text().splitlines()]
    lines[0]["feedback"] = {"ok": True, "output": "from the cache"}  # proves the answer comes from the file
    cache.write_text("".join(json.dumps(line) + "\n" for line in lines))
    url, process = start_server("--catalog", str(catalog), "--replay", str(cache), command=command)
    replayed = [httpx.post(f"{url}/call", json=call).json() for call in calls]
    stop(process)
    assert replayed == [{"ok": True, "output": "from the cache"}, *recorded[1:]]


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--port", "0"], "between 1 and 65535"),
        (["--port", "http"], "invalid port value"),
        (["--port", "8000", "--fault-rate", "1.5"], "between 0 and 1"),
        (["--port", "8000", "--verbose"], "unrecognized arguments: --verbose"),
        (["--port", "8000", "--record", "a.jsonl", "--replay", "b.jsonl"], "not allowed with argument"),
        (["--port", "8000", "--catalog", "/no/such/catalog"], "does not exist"),
        (["--port", "8000", "--replay", "/no/such/cache.jsonl"], "is not a file"),
    ],
)
def test_cli_rejects_bad_flags_clearly(flags, complaint):
    result = subprocess.run([str(CONSOLE_SCRIPT), *flags], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "usage: tl-tool-server" in result.stderr and complaint in result.stderr


def test_cli_rejects_an_unreadable_catalog(tmp_path):
    (tmp_path / "broken.json").write_text("[{]")
    result = subprocess.run(
        [sys.executable, "-m", "tool_server", "--catalog", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "broken.json" in result.stderr


def sleepy(seconds: float) -> dict:
    """Sleep, then answer.

    Args:
        seconds: How long to sleep.
    """
    time.sleep(seconds)
    return {"slept": seconds}


def test_uvicorn_in_a_thread_with_timeouts_and_concurrent_clients():
    catalog = Catalog([*builtin_catalog().by_name.values(), *Catalog.from_functions([sleepy]).by_name.values()])
    tool_server = ToolServer(catalog, call_timeout_s=0.3)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(tool_server), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}"
        start = time.monotonic()
        slow = httpx.post(f"{url}/call", json={"name": "sleepy", "arguments": {"seconds": 5}}).json()
        assert slow["category"] == "tool_instability" and slow["details"]["kind"] == "timeout"
        assert time.monotonic() - start < 3

        async def many() -> list[dict]:
            async with httpx.AsyncClient(base_url=url) as http:
                calls = [
                    {"name": "add_numbers", "arguments": {"a": i, "b": 1}} if i % 2 else {"name": "nope_" + str(i)}
                    for i in range(60)
                ]
                return [r.json() for r in await asyncio.gather(*(http.post("/call", json=c) for c in calls))]

        answers = asyncio.run(many())
        assert [a["output"]["result"] if a["ok"] else a["category"] for a in answers] == [
            i + 1 if i % 2 else "tool_hallucination" for i in range(60)
        ]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        tool_server.close()


@pytest.fixture
def asgi():
    app = create_app(ToolServer(), max_body_bytes=10_000)

    async def request(method: str, path: str, **kwargs) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            return await http.request(method, path, **kwargs)

    return lambda *args, **kwargs: asyncio.run(request(*args, **kwargs))


def test_in_process_app_answers_like_the_server(asgi):
    response = asgi("POST", "/call", json=WEATHER)
    assert response.status_code == 200 and response.json() == ToolServer().call(**WEATHER)
    assert asgi("POST", "/echo", content=b'{"x": 1}', headers=json_header()).content == b'{"x": 1}'
    assert asgi("GET", "/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"\xff\xfe\x00garbage", 400),
        (b"[" * 5000, 400),  # nested too deep for the JSON parser
        (b'["get_weather_current", {"city": "Paris"}]', 422),
        (b'"get_weather_current"', 422),
        (b'{"name": "get_weather_current", "args": {}}', 422),
        (b"{" + b" " * 10_001 + b"}", 413),
    ],
)
def test_client_mistakes_get_a_categorised_4xx(asgi, body, status):
    response = asgi("POST", "/call", content=body, headers=json_header())
    assert response.status_code == status
    assert response.json()["category"] == "format_error" and response.json()["message"]


def test_oversized_body_without_content_length_is_refused(asgi):
    async def chunks():
        for _ in range(20):
            yield b" " * 1000

    response = asgi("POST", "/call", content=chunks(), headers=json_header())
    assert response.status_code == 413 and response.json()["category"] == "format_error"


@pytest.mark.parametrize(
    "payload",
    [
        {"name": 42, "arguments": {}},
        {"name": "get_weather_current", "arguments": [1, 2]},
        {"name": "get_weather_current", "arguments": None},
        {"name": "get_weather_current", "arguments": {}, "session": 5},
        {"name": "get_weather_current", "arguments": {}, "toolset": ["a"]},
        {"name": "get_weather_current", "arguments": {}, "faults": "always"},
        {"arguments": {"city": "Paris"}},
    ],
)
def test_wrong_field_types_get_format_error_feedback(asgi, payload):
    response = asgi("POST", "/call", json=payload)
    assert response.status_code == 200
    assert response.json()["ok"] is False and response.json()["category"] == "format_error"


def test_openapi_document_describes_the_api(asgi):
    document = asgi("GET", "/openapi.json").json()
    assert {"/tools", "/call", "/health"} <= set(document["paths"]) and "/echo" not in document["paths"]
    body = document["paths"]["/call"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"name", "arguments", "session", "toolset", "faults"}
    feedback = document["paths"]["/call"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert feedback["properties"]["category"]["enum"] == list(CATEGORIES)
    assert {p["name"] for p in document["paths"]["/tools"]["get"]["parameters"]} == {"names", "toolset"}
