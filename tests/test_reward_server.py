"""The reward server's edge (issue 10, findings 2 and 6): deep JSON in the body or in a label, labels of any
shape, oversized bodies and the wrong Content-Type get a 4xx that names the problem, never a 5xx. Against the
real `tl-reward-server` process on a loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from helpers import free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LABEL = json.dumps({"tools": ["f"], "gold": {"name": "f", "arguments": {}}})


@pytest.fixture(scope="module")
def url():
    port = free_port()
    command = [sys.executable, "-m", "tl_plugin.adapters.reward_server", "--port", str(port)]
    process = subprocess.Popen([*command, "--max-body-bytes", "200000"], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/health")
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, "the reward server did not start"
            time.sleep(0.1)
    yield base
    process.terminate()
    stderr = process.communicate(timeout=10)[1]
    assert "Traceback" not in stderr, stderr


def post(url: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(url + "/", content=body, headers={"Content-Type": content_type}, timeout=30)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"[" * 100_000, 400, "not valid JSON"),
        (f'{{"query": {nested(5000)}, "prompts": [], "labels": []}}'.encode(), 400, "not valid JSON"),
        (f'{{"query": {nested(500)}, "prompts": [""], "labels": [""]}}'.encode(), 400, '"query" must be a list'),
        (json.dumps({"query": ["f()"], "prompts": [""], "labels": [nested(5000)]}).encode(), 400, "labels[0]"),
        (json.dumps({"query": ["f()"], "prompts": [""], "labels": [nested(900)]}).encode(), 400, "labels[0]"),
        (json.dumps({"query": ["f()"] * 2, "prompts": [""] * 2, "labels": [LABEL, "{"]}).encode(), 400, "labels[1]"),
        (json.dumps({"query": ["x" * 300_000], "prompts": [""], "labels": [LABEL]}).encode(), 413, "larger than"),
    ],
)
def test_deep_and_oversized_payloads_get_a_4xx_naming_the_problem(url, body, status, words):
    answer = post(url, body)
    assert answer.status_code == status and words in answer.json()["detail"], answer.text


def test_wrong_content_type_and_a_good_request(url):
    good = json.dumps({"query": ["f()"], "prompts": [""], "labels": [LABEL]}).encode()
    assert post(url, good, "text/plain").status_code == 415
    assert post(url, good).json()["rewards"] == [1.0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
label_like = st.fixed_dictionaries(
    {},
    optional={
        "tools": json_values | st.lists(st.sampled_from(["f", "g"]) | json_values, max_size=3),
        "gold": json_values | st.fixed_dictionaries({"name": st.sampled_from(["f", "g"]) | json_values}),
        "mode": json_values | st.sampled_from(["exact", "any", "rotbench", "bfcl"]),
        "reading": json_values,
        "category": json_values,
    },
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(label=label_like | json_values, response=st.sampled_from(["f()", "f(x=1)", "no call", "g()"]))
def test_no_label_ever_costs_a_5xx(url, label, response):
    answer = post(url, json.dumps({"query": [response], "prompts": [""], "labels": [json.dumps(label)]}).encode())
    assert answer.status_code in (200, 400, 422), answer.text
    if answer.status_code != 200:
        assert answer.json()["detail"]
