"""A list of real tool servers behind RemoteToolServer (issue 10, finding 5): each session stays on one server,
a dead server costs no call, and a server that comes back is used again."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from helpers import free_port

from tool_server.client import RemoteToolServer
from tool_server.process import start_server_process

WEATHER = ("get_weather_current", {"city": "Paris"})


def spawn(port: int) -> subprocess.Popen:
    """`python -m tool_server` on a port chosen beforehand, once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "tool_server", "--port", str(port)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health")
            return process
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
            time.sleep(0.1)


def todos(url: str, session: str | None) -> list:
    """What one server itself holds for a session (asked directly, not through the client)."""
    answer = httpx.post(f"{url}/call", json={"name": "list_todos", "arguments": {}, "session": session}).json()
    return answer["output"]["todos"]


def servers():
    started = [start_server_process() for _ in range(2)]
    yield [url for url, _ in started], [process for _, process in started]
    for _, process in started:
        process.kill()
        process.wait()


two_servers = pytest.fixture(scope="module")(servers)
two_servers_to_kill = pytest.fixture(servers)


def test_sessions_are_pinned_and_never_split(two_servers):
    urls, _ = two_servers
    client = RemoteToolServer(urls)
    sessions = [f"episode-{i}" for i in range(40)]
    for session in sessions:
        assert client.call("add_todo", {"title": f"pack for {session}"}, session=session)["ok"]
        listed = client.call("list_todos", {}, session=session)["output"]["todos"]
        assert [todo["title"] for todo in listed] == [f"pack for {session}"]  # state kept, in one place
    holders = {session: [url for url in urls if todos(url, session)] for session in sessions}
    assert all(len(held) == 1 for held in holders.values())
    assert {held[0] for held in holders.values()} == set(urls)  # spread over both (40 sessions: 2**-39 to fail)
    # Stable on the session id, not on the list's order: another client finds each session where it is.
    other = RemoteToolServer(list(reversed(urls)))
    assert all(other.call("list_todos", {}, session=s)["output"]["todos"] for s in sessions)
    client.close()
    other.close()


def test_a_dead_server_costs_no_call(two_servers):
    urls, _ = two_servers
    client = RemoteToolServer([urls[0], f"http://127.0.0.1:{free_port()}"])  # the second never listened
    answers = [client.call(*WEATHER)["ok"] for _ in range(30)]  # without a session
    answers += [client.call(*WEATHER, session=f"s{i}")["ok"] for i in range(30) for _ in range(2)]
    assert all(answers)
    client.close()


def test_sessions_move_when_their_server_dies(two_servers_to_kill):
    urls, processes = two_servers_to_kill
    client = RemoteToolServer(urls)
    sessions = [f"s{i}" for i in range(20)]
    for session in sessions:
        client.call("add_todo", {"title": "pack"}, session=session)
    on_first = [s for s in sessions if todos(urls[0], s)]
    processes[0].kill()
    processes[0].wait()
    assert all(client.call(*WEATHER, session=s)["ok"] for s in sessions)  # every one, the moved ones too
    assert all(client.call(*WEATHER)["ok"] for _ in range(10))
    assert on_first and not any(todos(urls[1], s) for s in on_first)  # their state died with the server
    client.close()


def test_a_dead_server_is_tried_again_with_backoff_and_used_once_back(two_servers):
    urls, _ = two_servers
    port = free_port()
    late = f"http://127.0.0.1:{port}"
    client = RemoteToolServer([urls[0], late])
    for _ in range(6):
        assert client.call("add_todo", {"title": "before"})["ok"]  # all went to the live one
    process = spawn(port)
    try:
        time.sleep(1.6)  # past the backoff (0.5 s after the first failure, then 1 s)
        for _ in range(8):
            assert client.call("add_todo", {"title": "after"})["ok"]
        assert {t["title"] for t in todos(late, None)} == {"after"}  # sessionless calls reach it again
        assert len(todos(urls[0], None)) >= 6 + 2
    finally:
        process.kill()
        process.wait()
        client.close()


def test_every_server_dead_answers_instability_at_once():
    client = RemoteToolServer([f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"])
    start = time.monotonic()
    answers = [client.call(*WEATHER, session=session) for session in (None, "s", None, "t")]
    assert all(a["category"] == "tool_instability" and a["details"]["kind"] == "connection_error" for a in answers)
    assert time.monotonic() - start < 2
    client.close()
