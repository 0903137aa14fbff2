"""Tiny tokenizers for tests, trained in code on our own corpus (never downloaded).

`train_tokenizer("bpe")` is a byte-level BPE (GPT-2/LLaMA-3 family), `train_tokenizer("unigram")` a
sentencepiece-style unigram with a metaspace pre-tokenizer (LLaMA-2/T5 family). Both carry `CHAT_TEMPLATE`, a
ChatML-like Jinja template that renders system/user/assistant/tool messages, so the real OpenRLHF SFTDataset can
apply it. The vocabulary is small on purpose: tool names split into several tokens, which is what PKT is about.
"""

from __future__ import annotations

import functools
import itertools
import json

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
