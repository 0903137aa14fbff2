"""The generation backends of tl-eval, with real components: a tiny randomly initialised LLaMA saved as a checkpoint
and loaded back through `load_backend`, and a real OpenAI-shaped HTTP server on a loopback port.

Oracles: a hand-written greedy loop (full recompute, no KV cache, no `generate`) for what greedy decoding of N
tokens is; generating each conversation alone for what batching must not change (left padding); hand-written call
texts for what structured tool calls become.
"""

import asyncio
import json
import logging
import random

import pytest
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from helpers import free_port, serve_in_thread, tiny_checkpoint, train_tokenizer
from tokenizers import processors

from tl_plugin.core.formats import get_format
from tl_plugin.core.parsing import ToolCall, parse
from tl_plugin.eval.backends import (
    HFBackend,
    OpenAIBackend,
    encode_prompts,
    load_backend,
    split_endpoint,
)

SYSTEM = "You are helpful."
QUERIES = [
    "what is the weather in Paris today",
    "tell me the exchange rate from euro to dollar please, and how much is it tomorrow in Tokyo",
    "rain",
    "check the price of the hotel in London and Berlin, then book it for me at the rate you can get",
    "convert 3 euro to yen",
]
CONVERSATIONS = [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}] for q in QUERIES]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# ---- a tiny local checkpoint through HFBackend ----


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """tests/helpers.tiny_checkpoint saved to a temporary directory; yields (directory, model, tokenizer)."""
    directory = tmp_path_factory.mktemp("tiny-llama")
    model, tokenizer = tiny_checkpoint(directory)
    return directory, model, tokenizer


def greedy_reference(model, tokenizer, prompt: str, limit: int) -> list[int]:
    """Greedy decoding by hand: the argmax of the whole sequence's last logits, up to `limit` tokens or EOS."""
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    new = []
    with torch.no_grad():
        for _ in range(limit):
            token = int(model(ids).logits[0, -1].argmax())
            if token == tokenizer.eos_token_id:
                break
            new.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return new


def test_hf_greedy_text_is_the_argmax_loop_over_the_react_prompt(checkpoint):
    directory, model, tokenizer = checkpoint
    backend = load_backend(str(directory), "react", max_new_tokens=12, device="cpu")
    assert isinstance(backend, HFBackend)
    outputs = backend.generate(CONVERSATIONS[:2])
    for query, output in zip(QUERIES[:2], outputs):
        prompt = f"System: {SYSTEM}\nUser: {query}\nAssistant: "  # the react layout, written out
        ids = greedy_reference(model, tokenizer, prompt, 12)
        assert 0 < len(ids) <= 12  # max_new_tokens respected, counted in generated tokens
        assert output == tokenizer.decode(ids, skip_special_tokens=True)


def test_hf_batched_generation_equals_each_conversation_alone(checkpoint):
    directory, *_ = checkpoint
    batched = load_backend(str(directory), "react", max_new_tokens=16, batch_size=2).generate(CONVERSATIONS)
    alone = load_backend(str(directory), "react", max_new_tokens=16, batch_size=1).generate(CONVERSATIONS)
    assert len(batched) == len(CONVERSATIONS)
    assert len(set(alone)) == len(alone)  # each prompt gets its own text, so order and padding mix-ups would show
    assert batched == alone
    everything = load_backend(str(directory), "react", max_new_tokens=16, batch_size=8).generate(CONVERSATIONS[::-1])
    assert everything == alone[::-1]


def test_hf_backend_from_objects_sets_a_missing_pad_token(checkpoint):
    directory, model, _ = checkpoint
    tokenizer = train_tokenizer("bpe")
    tokenizer.pad_token = None
    backend = HFBackend((model, tokenizer), "react", max_new_tokens=10, batch_size=4)
    assert tokenizer.pad_token == tokenizer.eos_token and tokenizer.padding_side == "left"
    expected = load_backend(str(directory), "react", max_new_tokens=10, batch_size=1).generate(CONVERSATIONS)
    assert backend.generate(CONVERSATIONS) == expected


def test_hf_stop_string_cuts_the_text_before_it(checkpoint):
    directory, *_ = checkpoint
    free = load_backend(str(directory), "react", max_new_tokens=24).generate(CONVERSATIONS)
    stop = next(free[0][i : i + 3] for i in range(3, len(free[0])) if free[0][i : i + 3].isalpha())
    expected = [text[: text.find(stop)] if stop in text else text for text in free]
    assert expected[0] == free[0][: free[0].find(stop)] and len(expected[0]) < len(free[0])
    cut = load_backend(str(directory), "react", max_new_tokens=24, stop=(stop,)).generate(CONVERSATIONS)
    assert cut == expected


def test_chat_template_without_tools_support_ignores_tools(checkpoint):
    directory, *_ = checkpoint
    backend = load_backend(str(directory), "chat_template", max_new_tokens=8)
    plain = backend.generate(CONVERSATIONS[:2])
    assert backend.generate(CONVERSATIONS[:2], [[WEATHER_TOOL], [WEATHER_TOOL]]) == plain


def test_chat_template_that_knows_tools_gets_them():
    tokenizer = train_tokenizer("bpe")
    tokenizer.chat_template = "{% if tools %}TOOLS {{ tools | tojson }}\n{% endif %}" + tokenizer.chat_template
    prompt = get_format("chat_template").render(CONVERSATIONS[0], tokenizer, tools=[WEATHER_TOOL])
    assert prompt.startswith('TOOLS [{"type": "function", "function": {"name": "get_weather", ')
    assert prompt.endswith(f"<|im_start|>user\n{QUERIES[0]}<|im_end|>\n<|im_start|>assistant\n")


def test_prompts_start_with_exactly_one_bos():
    """A LLaMA-style tokenizer adds BOS to plain text, and its chat template writes one too: either way one BOS."""
    tokenizer = train_tokenizer("bpe")
    tokenizer.add_special_tokens({"bos_token": "<s>"})
    bos = tokenizer.bos_token_id
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", bos)]
    )
    tokenizer.chat_template = "{{ bos_token }}" + tokenizer.chat_template
    for name in ("react", "python", "chat_template"):
        fmt = get_format(name)
        (ids,) = encode_prompts(fmt, tokenizer, [fmt.render(CONVERSATIONS[0], tokenizer)])
        assert ids[0] == bos and ids.count(bos) == 1, name


def test_load_backend_rejects_unknown_names(checkpoint):
    directory, *_ = checkpoint
    with pytest.raises(ValueError, match="unknown prompt format"):
        load_backend(str(directory), "nope")
    with pytest.raises(ValueError, match="unknown engine"):
        load_backend(str(directory), "react", engine="tensorrt")


# ---- an OpenAI-compatible endpoint: a real server on a loopback port ----


class FakeOpenAI:
    """OpenAI's response shapes. Chat answers follow from the last user message: "weather in CITY" -> a get_weather
    tool call (after "I will check." when the user says "explain"), "broken" -> a call with invalid JSON arguments,
    "FAIL" -> HTTP 500, otherwise "echo:<its length> STOP tail". Each answer comes after a random short sleep."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict | None]] = []
        self.in_flight = self.max_in_flight = 0
        self.app = FastAPI()
        self.app.get("/v1/models")(self.models)
        self.app.post("/v1/chat/completions")(self.chat)

    async def models(self) -> dict:
        self.requests.append(("models", None))
        return {"object": "list", "data": [{"id": "tiny-echo", "object": "model", "created": 0, "owned_by": "me"}]}

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(("chat", body))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(random.uniform(0.0, 0.05))
        self.in_flight -= 1
        user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        if "FAIL" in user:
            return JSONResponse({"error": {"message": "the GPU\nis on fire", "type": "server_error"}}, status_code=500)
        message = {"role": "assistant", "content": f"echo:{len(user)} STOP tail"}
        if "weather in " in user or "broken" in user:
            city = user.split("weather in ")[-1]
            arguments = "{city: oops" if "broken" in user else json.dumps({"city": city})
            calls = [{"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]
            message = {"role": "assistant", "content": "I will check." if "explain" in user else None}
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}
        return {
            "id": "chatcmpl-0",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [choice],
        }

    def chats(self) -> list[dict]:
        return [body for kind, body in self.requests if kind == "chat"]


@pytest.fixture
def server():
    """FakeOpenAI under uvicorn in a thread; yields (url, fake)."""
    fake = FakeOpenAI()
    with serve_in_thread(fake.app) as url:
        yield url, fake


def chat(text: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def test_openai_model_discovered_and_request_as_specified(server):
    url, fake = server
    backend = load_backend(url, "react", max_new_tokens=33, stop=("STOP",))
    assert isinstance(backend, OpenAIBackend) and backend.model_name == "tiny-echo"
    assert fake.requests[0] == ("models", None)
    assert backend.generate([chat("hello")], [[WEATHER_TOOL]]) == ["echo:5 "]  # cut before STOP
    (sent,) = fake.chats()
    assert sent["model"] == "tiny-echo" and sent["messages"] == chat("hello")
    assert sent["temperature"] == 0 and sent["max_tokens"] == 33 and sent["stop"] == ["STOP"]
    assert "tools" not in sent  # react lists its tools in the system message only


def test_openai_model_after_hash_and_tools_for_chat_templates(server):
    url, fake = server
    backend = load_backend(f"{url}/v1/#my-model", "chat_template")
    assert backend.generate([chat("hi"), chat("yo")], [[WEATHER_TOOL], []]) == ["echo:2 STOP tail"] * 2
    assert [kind for kind, _ in fake.requests] == ["chat", "chat"]  # no /v1/models: the URL named the model
    first, second = sorted(fake.chats(), key=lambda body: "tools" in body, reverse=True)
    assert first["model"] == "my-model" and first["tools"] == [{"type": "function", "function": WEATHER_TOOL}]
    assert "tools" not in second and "stop" not in second and first["max_tokens"] == 256


def test_openai_tool_calls_come_back_as_the_formats_call_text(server):
    url, _ = server
    texts = ["weather in Paris", "explain the weather in Rome", "broken weather"]
    react = load_backend(url, "react").generate([chat(t) for t in texts])
    assert react[0] == 'Thought:\nAction: get_weather\nAction Input: {"city": "Paris"}'
    assert react[1] == 'I will check.\nThought:\nAction: get_weather\nAction Input: {"city": "Rome"}'
    assert parse(react[2]).error is not None  # invalid arguments stay a format error, not a call
    (qwen,) = load_backend(url, "qwen").generate([chat("weather in Paris")])
    assert qwen == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert parse(qwen).calls == [ToolCall("get_weather", {"city": "Paris"})]
    # A python call after prose reads as prose: the endpoint's call wins over its content, as in the env.
    (python,) = load_backend(url, "python").generate([chat("explain the weather in Rome")])
    assert parse(python).calls == [ToolCall("get_weather", {"city": "Rome"})]


def test_openai_order_preserved_under_concurrency(server):
    url, fake = server
    texts = ["x" * n for n in random.Random(0).sample(range(1, 200), 40)]
    outputs = load_backend(f"{url}#m", "react").generate([chat(t) for t in texts])
    assert outputs == [f"echo:{len(t)} STOP tail" for t in texts]
    assert fake.max_in_flight > 1


def test_openai_failing_item_is_empty_with_one_warning(server, caplog):
    url, fake = server
    with caplog.at_level(logging.WARNING, logger="tl_plugin.eval.backends"):
        outputs = load_backend(f"{url}#m", "react").generate([chat("a"), chat("FAIL now"), chat("bcd")])
    assert outputs == ["echo:1 STOP tail", "", "echo:3 STOP tail"]
    assert sum(body["messages"][-1]["content"] == "FAIL now" for body in fake.chats()) == 3  # the client retried twice
    (record,) = [r for r in caplog.records if r.name == "tl_plugin.eval.backends"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "500" in record.getMessage() and "\n" not in record.getMessage()


def test_openai_unreachable_server(caplog):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ValueError, match="cannot list the models"):
        OpenAIBackend(url, None, "react", max_retries=0)
    backend = OpenAIBackend(url, "m", "react", max_retries=0)
    with caplog.at_level(logging.WARNING, logger="tl_plugin.eval.backends"):
        assert backend.generate([chat("a"), chat("b")]) == ["", ""]
    assert len([r for r in caplog.records if r.name == "tl_plugin.eval.backends"]) == 2


@pytest.mark.parametrize("url", ["ftp://host/v1", "http://", "localhost:8000", "not a url"])
def test_invalid_endpoint_url_fails_at_construction(url):
    with pytest.raises(ValueError, match="not an OpenAI-compatible endpoint URL"):
        OpenAIBackend(url, "m", "react")


def test_split_endpoint():
    assert split_endpoint("http://h:8000") == ("http://h:8000/v1", None)
    assert split_endpoint("https://h/api/v1/#org/model-7b") == ("https://h/api/v1", "org/model-7b")
