"""Property-based fuzzing of both servers over real HTTP (issue 10, Must show 2): schemathesis drives each
server's own OpenAPI document against the real process on a loopback port, bounded in examples and per-request
time; hypothesis checks that the embedded server and the HTTP transport give the same category and reward."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
import schemathesis
from helpers import free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tl_plugin.core.rewards import step_reward
from tl_plugin.core.taxonomy import Category
from tool_server import ToolServer
from tool_server.client import RemoteToolServer
from tool_server.process import start_server_process

BOUNDED = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def tool_server_url():
    url, process = start_server_process()
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def reward_server_url():
    port = free_port()
    command = [sys.executable, "-m", "tl_plugin.adapters.reward_server", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/health")
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, "the reward server did not start"
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def fuzz(schema_url: str, excluded: list | None = None) -> None:
    """Every operation of the document at schema_url, with schemathesis's strategies and every default check:
    no 5xx, documented statuses and content types, answers matching their schemas, schema-valid data accepted
    and invalid data refused. (Its pytest plugin predates pytest 9: the cases are drawn here.)"""
    schema = schemathesis.openapi.from_url(schema_url)
    for result in schema.get_all_operations():
        operation = result.ok()

        @BOUNDED
        @given(operation.as_strategy())
        def contract(case):
            case.call_and_validate(timeout=30, excluded_checks=excluded)

        contract()


def test_tool_server_keeps_its_openapi_contract(tool_server_url):
    fuzz(f"{tool_server_url}/openapi.json")


def test_reward_server_keeps_its_openapi_contract(reward_server_url):
    # A schema cannot say that the three lists have one length, nor what a label must hold: schema-valid
    # payloads the server refuses (400, naming the field) are right, so that one check is left out.
    fuzz(f"{reward_server_url}/openapi.json", excluded=[schemathesis.checks.positive_data_acceptance])


EMBEDDED = ToolServer()
NAMES = sorted(tool["name"] for tool in EMBEDDED.tools())
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats()  # NaN and infinities included
    | st.text(st.characters(exclude_categories=()), max_size=8)  # lone surrogates included
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@st.composite
def calls(draw):
    name = draw(st.sampled_from(NAMES) | st.text(max_size=10))
    properties = EMBEDDED.catalog.by_name[name].schema["parameters"]["properties"] if name in NAMES else {}
    keys = (
        draw(st.lists(st.sampled_from(sorted(properties)) | st.text(max_size=5), unique=True, max_size=4))
        if properties
        else []
    )
    return name, {key: draw(json_values | st.sampled_from(["Paris", "EUR", "2024-06-03", 3, 2.5])) for key in keys}


def test_embedded_and_http_give_the_same_category_and_reward(tool_server_url):
    remote = RemoteToolServer(tool_server_url)

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(calls())
    def same(call):
        name, arguments = call
        answers = [server.call(name, arguments) for server in (EMBEDDED, remote)]
        categories = [Category(answer.get("category", "ok")) for answer in answers]
        assert categories[0] == categories[1], answers
        assert step_reward([categories[0]]) == step_reward([categories[1]])

    same()
    remote.close()
