"""Thousands of malformed requests against the in-process app (and the Python API): zero 5xx, zero crashes, and
every answer that is not a success carries a category of the taxonomy."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tl_plugin.core.taxonomy import CATEGORIES, INSTABILITY_MESSAGES
from tool_server import ToolServer
from tool_server.app import MAX_BODY_BYTES, create_app
from tool_server.validate import MAX_ARGUMENT_BYTES

SERVER = ToolServer(call_timeout_s=2.0)
TOOLS = {tool["name"]: tool for tool in SERVER.tools()}
LOOP = asyncio.new_event_loop()  # one loop and one client for every example: thousands of requests stay cheap
CLIENT = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(SERVER)), base_url="http://127.0.0.1")
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

# Integers stay within a million: is_prime's trial division is linear in sqrt(n) (bounded by the timeout, but
# slow); everything else about the values is free.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
names = st.sampled_from(sorted(TOOLS)) | st.text(max_size=20) | values
rarely = st.sampled_from([False, False, False, True])  # hypothesis favours the first element: mostly False


def typed(schema: dict) -> st.SearchStrategy:
    """Values of the parameter's own type: often right, sometimes out of range, unknown or not in the format."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", -1000) - 2, schema.get("maximum", 1000) + 2
        return st.integers(low, high) if kind == "integer" else st.floats(low, high)
    if kind == "array":
        return st.lists(typed(schema.get("items", {})), max_size=4)
    if kind == "boolean":
        return st.booleans()
    return st.sampled_from(["Paris", "2024-05-01", "ACME", "hello", "09:30", "Atlantis", "2024-13-01"]) | st.text()


@st.composite
def arguments(draw, name):
    """Mostly the tool's own keys with values of their types; sometimes other keys or values, or not an object."""
    if draw(rarely) or not isinstance(name, str) or name not in TOOLS:
        return draw(values)
    properties = TOOLS[name]["parameters"]["properties"]
    chosen = draw(st.lists(st.sampled_from(sorted(properties)), unique=True)) if properties else []
    args = {key: draw(values if draw(rarely) else typed(properties[key])) for key in chosen}
    if draw(rarely):
        args.update(draw(st.dictionaries(st.text(max_size=8), values, max_size=2)))
    return args


faults = st.fixed_dictionaries(
    {},
    optional={
        "instability_rate": st.floats(0, 1),
        "instability_kind": st.sampled_from([*INSTABILITY_MESSAGES, None]),
        "call_failure": st.booleans(),
    },
)


@st.composite
def call_bodies(draw):
    name = draw(names if draw(rarely) else st.sampled_from(sorted(TOOLS)))
    body = {"name": name}
    if not draw(rarely):
        body["arguments"] = draw(arguments(name))
    for field, strategy in (("session", st.text(max_size=8)), ("toolset", st.text()), ("faults", faults)):
        if draw(rarely):
            body[field] = draw(values if draw(rarely) else strategy)
    if draw(rarely):
        body.update(draw(st.dictionaries(st.text(max_size=8), values, min_size=1, max_size=2)))
    if draw(rarely):
        body.pop("name")
    text = json.dumps(body)
    if draw(rarely):  # damage it: cut it short or splice in junk
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["", "}", "]", ",", '"', "\\", "\x00", "NaN", "{"]))
    return text.encode()


def post(path: str, body: bytes, method: str = "POST", params: dict | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return LOOP.run_until_complete(CLIENT.request(method, path, content=body, params=params, headers=headers))


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    answer = response.json()  # always JSON, never an HTML error page
    if isinstance(answer, dict) and (response.status_code != 200 or answer.get("ok") is False):
        assert answer["category"] in CATEGORIES and isinstance(answer["message"], str) and answer["message"]
    elif response.status_code == 200 and isinstance(answer, dict) and "ok" in answer:
        assert answer["ok"] is True and "output" in answer


@settings(FUZZ, max_examples=2500)
@given(call_bodies())
def test_call_bodies(body):
    check(post("/call", body))


@settings(FUZZ, max_examples=800)
@given(st.binary(max_size=200) | values.map(lambda v: json.dumps(v).encode()))
@example(b"[" * 100_000)
@example(b'{"name": "get_weather_current", "arguments": {"city": "' + b"x" * 100_000 + b'"}}')
@example(json.dumps({"name": "get_statistics", "arguments": {"numbers": [[[[[[1]]]]]] * 1000}}).encode())
def test_raw_bodies(body):
    check(post("/call", body))


@settings(FUZZ, max_examples=400)
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    st.sampled_from(["/call", "/tools", "/health", "/", "/call/x", "/tools/", "/openapi.json"]),
    st.dictionaries(st.sampled_from(["names", "toolset", "x"]), st.text(max_size=30), max_size=3),
    st.binary(max_size=50),
)
def test_methods_paths_and_queries(method, path, params, body):
    response = post(path, body, method=method, params=params)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["category"] in CATEGORIES


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES])
def test_huge_bodies_are_refused(size):
    response = post("/call", b"{" + b" " * (size - 2) + b"}")
    assert response.status_code == 413 and response.json()["category"] == "format_error"


def test_a_large_body_under_the_limit_is_served():
    fits = {"text": "x" * (MAX_ARGUMENT_BYTES - 100), "target_lang": "fr"}  # 100 bytes spare for the JSON
    response = post("/call", json.dumps({"name": "translate_text", "arguments": fits}).encode())
    assert response.status_code == 200 and response.json()["category"] == "tool_call_failure"
    # A body within the limit whose arguments are not: the server's own verdict, the one it gives in process.
    over = {"text": "x" * MAX_ARGUMENT_BYTES, "target_lang": "fr"}
    response = post("/call", json.dumps({"name": "translate_text", "arguments": over}).encode())
    assert response.status_code == 200 and response.json() == SERVER.call("translate_text", over)
    assert response.json()["category"] == "format_error" and response.json()["details"]["max_bytes"] == 1 << 20


@settings(FUZZ, max_examples=1500)
@given(names, st.none() | values | st.builds(object) | st.sets(st.integers()), values, values, faults | values)
def test_python_api_never_raises(name, args, session, toolset, fault):
    feedback = SERVER.call(name, args, session=session, toolset=toolset, faults=fault)
    assert isinstance(feedback, dict) and isinstance(feedback["ok"], bool)
    if not feedback["ok"]:
        assert feedback["category"] in CATEGORIES and feedback["message"]
