"""The one home of test helpers: tiny tokenizers trained in code, a scripted vLLM-like engine, OpenRLHF's dataset
strategy, a free loopback port and the shared example task.

Tokenizers are trained on our own corpus (never downloaded).
`train_tokenizer("bpe")` is a byte-level BPE (GPT-2/LLaMA-3 family), `train_tokenizer("unigram")` a
sentencepiece-style unigram with a metaspace pre-tokenizer (LLaMA-2/T5 family). Both carry `CHAT_TEMPLATE`, a
ChatML-like Jinja template that renders system/user/assistant/tool messages, so the real OpenRLHF SFTDataset can
apply it. The vocabulary is small on purpose: tool names split into several tokens, which is what PKT is about.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import socket
import threading
import time
from types import SimpleNamespace

from fastapi import FastAPI, Request
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TOOL_NAMES = [
    "get_weather_current",
    "get_weather_forecast",
    "get_exchange_rate",
    "convert_currency",
    "search_flights",
    "search_hotels",
    "book_hotel",
    "send_email",
    "get_stock_price",
    "calculator",
    "translate_text",
    "ask_to_user",
    "finish",
]
_WORDS = (
    "the a to of and in is for you can what please weather today tomorrow city rate price from at on with "
    "Paris London Tokyo Berlin Madrid euro dollar yen user assistant system tool call result answer error "
    "Thought Action Input Final Answer I need use check tell me how much will it rain be sunny degrees"
).split()


def _corpus() -> list[str]:
    """Deterministic sentences mixing chat words, tool names, JSON arguments and tool feedback."""
    lines = []
    for i, (name, word) in enumerate(itertools.product(TOOL_NAMES, _WORDS)):
        args = {"city": word, "days": i % 7, "currency": "EUR"} if i % 2 else {"query": f"{word} {name}"}
        lines += [
            f"Thought: I need {name} for {word}.\nAction: {name}\nAction Input: {json.dumps(args)}",
            f"{name}({', '.join(f'{k}={json.dumps(v)}' for k, v in args.items())})",
            f'<tool_call>{{"name": "{name}", "arguments": {json.dumps(args)}}}</tool_call>',
            f"{name}() got an unexpected keyword argument '{word}'",
            " ".join(_WORDS[(i + k * 7) % len(_WORDS)] for k in range(12)) + ".",
        ]
    return lines


@functools.cache
def _trained(kind: str) -> str:
    """The trained `tokenizers` model as JSON (cached: building the wrapper from it is cheap, training is not)."""
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=400, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=SPECIAL_TOKENS, unk_token="<unk>")
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}; use 'bpe' or 'unigram'")
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok.to_str()


def train_tokenizer(kind: str = "bpe") -> PreTrainedTokenizerFast:
    """A fresh fast tokenizer ("bpe": byte-level BPE, "unigram": sentencepiece-style) with `CHAT_TEMPLATE`."""
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_trained(kind)),
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


# TL-Training, Section 3.3, as printed: the oracle of every reward test (never the product's own table).
PAPER_IRM = {
    "format_error": -2.0,
    "tool_hallucination": -2.0,
    "wrong_tool": -1.5,
    "parameter_hallucination": -0.8,
    "parameter_redundant": -0.5,
    "parameter_missing": -0.5,
    "content_mismatch": -0.25,
    "correct": 1.0,
}


class ScriptedEngine:
    """Answers `generate` like vLLM's async engine: the next scripted text (the last one repeats), its token ids
    and the EOS token. `prompts` keeps the token ids each call was given."""

    def __init__(self, tokenizer, actions):
        self.tokenizer, self.actions, self.prompts = (
            tokenizer,
            [actions] if isinstance(actions, str) else list(actions),
            [],
        )

    async def generate(self, token_ids, sampling_params, multi_modal_data=None):
        self.prompts.append(list(token_ids))
        text = self.actions.pop(0) if len(self.actions) > 1 else self.actions[0]
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
        output = SimpleNamespace(token_ids=ids, text=text, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def sft_strategy() -> SimpleNamespace:
    """What OpenRLHF's SFTDataset reads of its strategy, for trajectories (messages rendered by the template)."""
    data = SimpleNamespace(
        input_key="messages", output_key=None, apply_chat_template=True, tokenizer_chat_template=None
    )
    return SimpleNamespace(args=SimpleNamespace(data=data))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weather_task():
    """The built-in task "What is the temperature in Paris right now, in Celsius?" (gold: get_weather_current)."""
    from envs.builtin_tasks import builtin_tasks

    return next(t for t in builtin_tasks() if t.query.startswith("What is the temperature in Paris"))


def tiny_checkpoint(directory, initializer_range: float = 0.2):
    """A 2-layer LLaMA with random weights and the BPE tokenizer, saved to `directory` (a Hugging Face checkpoint
    `from_pretrained` loads); returns (model, tokenizer). With initializer range 0.2 its greedy text depends on the
    prompt, which batching checks need."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer("bpe")
    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=len(tokenizer),
        initializer_range=initializer_range,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model, tokenizer


@contextlib.contextmanager
def serve_in_thread(app):
    """An ASGI app under uvicorn on a free loopback port, in a thread; yields its base URL, stops it after."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def first_accepted(accepted: list):
    """A prediction value from BFCL possible answers: the first accepted one ("" = may be omitted), inside dicts and
    lists of dicts too; None = omit the key."""
    value = next((a for a in accepted if a != ""), None)
    if isinstance(value, dict):
        return {k: v for k, v in ((k, first_accepted(options)) for k, options in value.items()) if v is not None}
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [first_accepted([item]) for item in value]
    return value


def accepted_call(call: dict):
    """A judge gold call {"name", "arguments": {key: [accepted values]}} as one ToolCall of first accepted values."""
    from tl_plugin.core.parsing import ToolCall

    values = ((key, first_accepted(accepted)) for key, accepted in call["arguments"].items())
    return ToolCall(call["name"], {key: value for key, value in values if value is not None})


def key_offsets_by_scan(name: str, candidates) -> list[int]:
    """PKT's key offsets as tl_plugin.core.weights computed them before it bisected a sorted list (issue 14): a
    scan of every candidate's common prefix. The oracle of the property test, and the benchmark's baseline."""
    import os

    offsets = {0}
    for other in candidates:
        shared = len(os.path.commonprefix([name, other]))
        if other != name and shared:
            offsets.add(shared)
    return sorted(offsets)


def tool_call(call_id: str, name: str, arguments: str) -> dict:
    """One entry of an OpenAI assistant message's `tool_calls` (arguments as OpenAI sends them: a JSON string)."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class ScriptedModel:
    """An OpenAI-compatible POST /v1/chat/completions (FastAPI) answering the scripted assistant messages in turn;
    `requests` keeps every request body it got. Serve `.app` with serve_in_thread."""

    def __init__(self, script: list[dict]):
        self.script, self.requests = list(script), []
        self.app = FastAPI()

        @self.app.post("/v1/chat/completions")
        async def chat(request: Request) -> dict:
            self.requests.append(await request.json())
            message = {"role": "assistant", **self.script.pop(0)}
            reason = "tool_calls" if message.get("tool_calls") else "stop"
            choice = {"index": 0, "message": message, "finish_reason": reason}
            return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
