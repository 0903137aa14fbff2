"""The IRM reward inside OpenRLHF: its real SingleTurnAgentExecutor loads tl_plugin/adapters/reward.py by path
(`--reward.remote_url /path/reward.py`), and its own HTTP client talks to our reward server on a loopback port.
Prompts come from our converter through OpenRLHF's real PromptDataset and a tokenizer trained in code."""

import asyncio
import json
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from helpers import ScriptedEngine, free_port, train_tokenizer
from openrlhf.datasets import PromptDataset
from openrlhf.utils.agent import SingleTurnAgentExecutor

from tl_plugin.adapters import reward
from tl_plugin.adapters.reward_server import create_app
from tl_plugin.core.parsing import ToolCall, format_call
from tl_plugin.data.prompts import prompt_rows


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer("bpe")


@pytest.fixture(scope="module")
def batch(data_dir, tokenizer):
    """(prompt, label, response, expected reward) for RoTBench prompts rendered by OpenRLHF's PromptDataset."""
    rows = prompt_rows("rotbench", data_dir / "rotbench" / "first_turn_clean.json")[0][::15]
    data_args = SimpleNamespace(input_key="input", label_key="label", apply_chat_template=True, image_key="images")
    strategy = SimpleNamespace(args=SimpleNamespace(data=data_args), is_rank_0=lambda: True)
    dataset = PromptDataset(rows, tokenizer, strategy)
    cases = []
    for i in range(len(dataset)):
        _, prompt, label, _ = dataset[i]
        spec = json.loads(label)
        gold, names = spec["gold"][0], [t["name"] for t in spec["tools"]]
        other = next(n for n in names if n not in {g["name"] for g in spec["gold"]})
        # RoTBench labels read answers as RoTBench's scorer does: ReAct, a non-empty JSON object as the input
        for response, expected in [
            (format_call(gold, "react"), 1.0 if gold["arguments"] else -2.0),
            (format_call(gold, ["python", "json", "tool_call"][i % 3]), -2.0),
            (format_call(ToolCall(other, gold["arguments"]), "react"), -1.5 if gold["arguments"] else -2.0),
            (format_call(ToolCall(gold["name"] + "_pro", gold["arguments"]), "json"), -2.0),
            (f"Sorry, I cannot do that ({i}).", -2.0),
        ]:
            cases.append((prompt, label, response, expected))
    return cases


def run_executor(executor, tokenizer, cases):
    """OpenRLHF's execute() for every case at once, as its vLLM actor runs them."""
    params = SimpleNamespace(max_tokens=512, logprobs=None)

    async def run_all():
        return await asyncio.gather(
            *(
                executor.execute(prompt, label, params, 1_000_000, tokenizer, ScriptedEngine(tokenizer, response))
                for prompt, label, response, _ in cases
            )
        )

    return asyncio.run(run_all())


def test_single_turn_executor_loads_the_reward_file_by_path(tokenizer, batch):
    path = subprocess.run(
        [sys.executable, "-m", "tl_plugin.adapters.reward"], capture_output=True, text=True
    ).stdout.strip()
    executor = SingleTurnAgentExecutor(remote_rm_url=path)  # spec_from_file_location, as with --reward.remote_url
    assert executor.reward_func is not reward.reward_func  # a second copy of the module, loaded from the file
    outputs = run_executor(executor, tokenizer, batch)
    got = [None if out["reward"] is None else out["reward"].item() for out in outputs]
    assert got == [expected for *_, expected in batch]
    assert [out["scores"].item() for out in outputs] == pytest.approx([(r + 2) / 3 for r in got])
    assert outputs[0]["extra_logs"]["irm_correct"] == 1.0 and outputs[2]["extra_logs"]["irm_wrong_tool"] == 1.0


@pytest.fixture(scope="module")
def server_url():
    """Our reward app under a real uvicorn server on a loopback port, in a thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_openrlhf_http_client_gets_rewards_from_the_server(tokenizer, batch, server_url):
    executor = SingleTurnAgentExecutor(remote_rm_url=f"{server_url}/get_reward")
    assert executor.reward_func is None  # not a .py path: OpenRLHF's HTTP client
    queries = [prompt + response for prompt, _, response, _ in batch]
    prompts, labels = [c[0] for c in batch], [c[1] for c in batch]
    (answer,) = asyncio.run(executor._fetch_rewards_via_http(queries, prompts, labels))  # one server: one request
    assert answer["rewards"] == [expected for *_, expected in batch]
    assert answer["scores"] == pytest.approx([(r + 2) / 3 for r in answer["rewards"]])
    right = sum(expected == 1.0 for *_, expected in batch)
    assert answer["extra_logs"]["irm_correct"] == pytest.approx(right / len(batch))
    # and end to end through execute(), one request per sample as the rollout sends them
    outputs = run_executor(executor, tokenizer, batch[:8])
    assert [out["reward"] for out in outputs] == [[expected] for *_, expected in batch[:8]]


def test_malformed_payloads_get_400_with_a_clear_message(server_url):
    label = json.dumps({"tools": ["f"], "gold": {"name": "f", "arguments": {}}})
    cases = [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"query": ["a"], "prompts": [""]}).encode(), '"labels" must be a list of strings'),
        (json.dumps({"query": "a", "prompts": [""], "labels": [label]}).encode(), '"query" must be a list'),
        (json.dumps({"query": ["a", "b"], "prompts": [""], "labels": [label]}).encode(), "differ in length"),
        (json.dumps({"query": ["a"], "prompts": [""], "labels": ["{}"]}).encode(), "labels[0] is not a valid label"),
        (
            json.dumps({"query": ["a"], "prompts": [""], "labels": [json.dumps({"gold": [], "tools": []})]}).encode(),
            "labels[0]",
        ),
    ]
    with httpx.Client(base_url=server_url) as client:
        assert client.get("/health").json() == {"ok": True}
        for body, message in cases:
            answer = client.post("/", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 400 and message in answer.json()["detail"], (body, answer.text)
        ok = client.post("/", json={"query": ["f()"], "prompts": [""], "labels": [label]})
        assert ok.status_code == 200 and ok.json()["rewards"] == [1.0]


def test_server_command_binds_loopback_and_reads_a_table(tmp_path):
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"correct": 4.0}))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tl_plugin.adapters.reward_server", "--port", str(port), "--table", str(table)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        label = json.dumps({"tools": ["f"], "gold": {"name": "f", "arguments": {}}})
        deadline = time.time() + 30
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/", json={"query": ["f()"], "prompts": [""], "labels": [label]}
                )
                break
            except httpx.TransportError:
                assert time.time() < deadline and process.poll() is None, "server did not start"
                time.sleep(0.2)
        assert answer.json()["rewards"] == [4.0]
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}" in output  # uvicorn reports the loopback address it bound
