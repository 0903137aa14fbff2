"""Issue 10's server findings, each reproduced against a real `tl-tool-server` process (or uvicorn in a thread)
over loopback: what broke then, and holds now."""

from __future__ import annotations

import http.client
import json
import math
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from helpers import free_port

from tool_server import Catalog, ToolServer, builtin_catalog
from tool_server.app import MAX_BODY_BYTES, create_app
from tool_server.client import RemoteToolServer, feedback_text
from tool_server.http import uvicorn_config
from tool_server.process import start_server_process
from tool_server.validate import MAX_ARGUMENT_BYTES, MAX_DEPTH

JSON = {"Content-Type": "application/json"}
WEATHER = b'{"name": "get_weather_current", "arguments": {"city": "Paris"}}'


@pytest.fixture(scope="module")
def server():
    """A real server with short read deadlines; yields (url, port, process)."""
    url, process = start_server_process("--header-timeout", "1", "--body-timeout", "1")
    yield url, int(url.rsplit(":", 1)[1]), process
    process.terminate()
    process.wait(timeout=10)


def exchange(port: int, requests: list[tuple[str, str, bytes, dict]]) -> list[tuple[int, dict]]:
    """Requests sent one after the other on ONE connection: a server that closed it fails the next one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers = []
    for method, path, body, headers in requests:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read())))
    connection.close()
    return answers


def test_1_lone_surrogates_get_categorised_answers_and_keep_the_connection(server):
    _, port, _ = server
    bad_name = b'{"name": "\\ud800", "arguments": {}}'
    bad_argument = b'{"name": "get_weather_current", "arguments": {"city": "\\udfff"}}'
    answers = exchange(port, [("POST", "/call", body, JSON) for body in (bad_name, WEATHER, bad_argument, WEATHER)])
    assert [status for status, _ in answers] == [200] * 4
    assert answers[0][1]["category"] == "tool_hallucination" and answers[0][1]["tool"] == "\ud800"
    assert answers[2][1]["category"] == "parameter_invalid" and "lone surrogate" in answers[2][1]["message"]
    assert answers[1][1]["ok"] and answers[3][1]["ok"]  # the connection survived both


def test_4_a_slow_tool_blocks_no_one_and_times_out_as_instability():
    def slow(seconds: float) -> dict:
        """Sleep, then answer.

        Args:
            seconds: How long to sleep.
        """
        time.sleep(seconds)
        return {"slept": seconds}

    catalog = Catalog([*builtin_catalog().by_name.values(), *Catalog.from_functions([slow]).by_name.values()])
    tool_server = ToolServer(catalog, call_timeout_s=3.0)
    port = free_port()
    uv = uvicorn.Server(uvicorn_config(create_app(tool_server), "127.0.0.1", port))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    prime = {"name": "is_prime", "arguments": {"n": 999_999_999_989}}
    stuck = {"name": "slow", "arguments": {"seconds": 6}}
    try:
        with ThreadPoolExecutor(24) as pool:
            calls = [
                pool.submit(httpx.post, f"{url}/call", json=body, timeout=30) for body in [prime] * 8 + [stuck] * 8
            ]
            # 16 calls fit CALL_THREADS workers, so each runs at once; the timeout leaves the 8 prime tests (50 ms
            # of CPU each, all sharing the GIL) ample room on a loaded machine, and the stuck calls none.
            time.sleep(0.2)
            latencies = []
            for _ in range(10):
                start = time.perf_counter()
                assert httpx.get(f"{url}/health").status_code == 200
                latencies.append(time.perf_counter() - start)
            answers = [call.result().json() for call in calls]
        assert max(latencies) < 1.0, latencies  # it waited 11.4 s before
        assert all(a["ok"] and a["output"]["prime"] for a in answers[:8])
        assert all(a["category"] == "tool_instability" and a["details"]["kind"] == "timeout" for a in answers[8:])
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        tool_server.close()


def test_6_echo_and_bodies_are_bounded_sessions_and_records_too(server, tmp_path):
    url, port, _ = server
    huge = b'"' + b"x" * MAX_BODY_BYTES + b'"'
    for path in ("/echo", "/call"):
        response = httpx.post(url + path, content=huge, headers=JSON)
        assert response.status_code == 413 and response.json()["category"] == "format_error"

    # Sessions: each stores at most max_session_bytes, all together at most max_total_session_bytes.
    tools = ToolServer(max_session_bytes=10_000, max_total_session_bytes=50_000)
    title = "x" * 1000
    answers = [tools.call("add_todo", {"title": title}, session="big")["ok"] for _ in range(12)]
    assert answers[:9] == [True] * 9 and answers[-1] is False  # ~1 KB a todo: the 10th or 11th is refused
    refused = tools.call("add_todo", {"title": title}, session="big")
    assert refused["category"] == "tool_call_failure" and "storage is full" in refused["message"]
    assert tools.call("list_todos", {}, session="big")["ok"]  # what is stored can still be read
    for i in range(40):  # 40 sessions of ~2 KB: the oldest go
        for _ in range(2):
            tools.call("add_todo", {"title": title}, session=f"s{i}")
    assert tools._session_bytes <= 50_000
    assert tools.call("list_todos", {}, session="s39")["output"]["todos"]  # the newest stay
    assert not tools.call("list_todos", {}, session="s0")["output"]["todos"]  # the oldest went

    # --record stops growing at its cap.
    record = tmp_path / "record.jsonl"
    recorder = ToolServer(record=record, max_record_bytes=5_000)
    for i in range(200):
        recorder.call("translate_text", {"text": f"hello {i}" * 10, "target_lang": "fr"})
    recorder.close()
    assert 4_000 < record.stat().st_size <= 5_000


def test_6_slowloris_headers_and_bodies_are_cut(server):
    _, port, _ = server
    partial = [
        b"POST /call HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never end
        b"POST /call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n{",
    ]
    connections = []
    for start in partial * 10:  # 20 slow connections
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(start)
        sock.settimeout(5)
        connections.append(sock)
    begin = time.monotonic()
    for sock in connections:
        assert sock.recv(100) == b""  # closed by the server
        sock.close()
    assert time.monotonic() - begin < 4  # 1 s deadlines; they stayed open 45 s and more before
    assert exchange(port, [("POST", "/call", WEATHER, JSON)])[0][0] == 200


def test_8_nan_infinity_surrogates_and_oversized_arguments_agree_across_transports(server):
    url, _, _ = server
    remote, local = RemoteToolServer(url), ToolServer()
    deep: list = [1]
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    calls = [
        ("add_numbers", {"a": float("nan"), "b": 1}, "parameter_invalid"),
        ("add_numbers", {"a": float("inf"), "b": 1}, "parameter_invalid"),
        ("get_weather_current", {"city": "Par\ud800is"}, "parameter_invalid"),
        ("translate_text", {"text": "x" * MAX_ARGUMENT_BYTES, "target_lang": "fr"}, "format_error"),
        ("translate_text", {"text": "x" * (2 * MAX_BODY_BYTES), "target_lang": "fr"}, "format_error"),  # a 413
        ("get_statistics", {"numbers": deep}, "format_error"),
        ("get_statistics", {"numbers": [1.0, math.pi]}, "ok"),
        ("get_factorial", {"n": 5.0}, "parameter_invalid"),  # jsonschema-rs alone would take 5.0 for an integer
    ]
    for name, arguments, category in calls:
        answers = [server.call(name, arguments) for server in (local, remote)]
        assert [a.get("category", "ok") for a in answers] == [category, category], (name, answers)
    remote.close()


def test_10_nan_never_appears_in_an_answer(server):
    url, _, _ = server
    response = httpx.post(f"{url}/call", json={"name": "add_numbers", "arguments": {"a": 1e308, "b": 1e308}})
    assert response.json() == {"ok": True, "output": {"result": None}}
    assert b"Infinity" not in response.content and b"NaN" not in response.content
    assert feedback_text(ToolServer().call("add_numbers", {"a": 1e308, "b": 1e308})) == '{"result": null}'


def test_10_content_type_and_host_are_checked(server):
    url, port, _ = server
    form = httpx.post(f"{url}/call", content=WEATHER, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and form.json()["category"] == "format_error"
    assert httpx.post(f"{url}/call", content=WEATHER).status_code == 415  # no Content-Type at all
    charset = httpx.post(f"{url}/call", content=WEATHER, headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.json()["ok"]
    for host in ("attacker.example", "attacker.example:80", "127.0.0.2"):  # DNS rebinding names the page's host
        assert exchange(port, [("GET", "/health", b"", {"Host": host})])[0][0] == 400
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert exchange(port, [("GET", "/health", b"", {"Host": host})])[0][0] == 200


def test_10_a_client_going_away_mid_body_is_one_log_line():
    url, process = start_server_process()
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
        sock.sendall(b"Content-Length: 1000\r\n\r\n" + b'{"name": "get_weather_current", ')
        time.sleep(0.2)
        sock.close()
    time.sleep(0.3)
    process.terminate()
    stderr = process.communicate(timeout=10)[1].decode()
    lines = [line for line in stderr.splitlines() if "went away" in line]
    assert len(lines) == 3 and "Traceback" not in stderr and "ERROR" not in stderr, stderr


def test_10_token_on_every_endpoint_and_a_warning_beyond_loopback(monkeypatch):
    monkeypatch.setenv("TL_TOOL_SERVER_TOKEN", "s3cret")
    url, process = start_server_process("--host", "0.0.0.0", "--allowed-hosts", "127.0.0.1")
    try:
        for method, path in (("GET", "/health"), ("GET", "/tools"), ("GET", "/openapi.json"), ("POST", "/call")):
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                response = httpx.request(method, url + path, content=WEATHER, headers={**JSON, **headers})
                assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
            good = httpx.request(
                method, url + path, content=WEATHER, headers={**JSON, "Authorization": "Bearer s3cret"}
            )
            assert good.status_code == 200
        remote = RemoteToolServer(url)  # reads the token from the environment
        assert remote.call("get_weather_current", {"city": "Paris"})["ok"]
        remote.close()
    finally:
        process.terminate()
        stderr = process.communicate(timeout=10)[1].decode()
    assert "beyond loopback" in stderr and "every request must bear the token" in stderr


def test_10_binding_beyond_loopback_without_a_token_says_so():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tool_server", "--host", "0.0.0.0", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                break
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        process.terminate()
        stderr = process.communicate(timeout=10)[1]
    assert "beyond loopback" in stderr and "no token is set" in stderr


def test_4_in_process_the_timer_outlives_calls_and_still_stops_a_slow_one():
    def spin(seconds: float) -> dict:
        """Busy-wait, then answer.

        Args:
            seconds: How long to spin.
        """
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        return {"spun": seconds}

    tools = ToolServer(Catalog.from_functions([spin]), call_timeout_s=0.3)
    assert tools.call("spin", {"seconds": 0.01})["ok"]  # arms a timer that outlives the call
    time.sleep(0.5)  # it fires while nothing runs: nothing happens
    for _ in range(2):
        start = time.monotonic()
        quick = tools.call("spin", {"seconds": 0.2})  # the earlier timer is past: a new one
        slow = tools.call("spin", {"seconds": 5})
        assert quick["ok"] and slow["category"] == "tool_instability" and slow["details"]["kind"] == "timeout"
        assert time.monotonic() - start < 1.5
    tools.close()
