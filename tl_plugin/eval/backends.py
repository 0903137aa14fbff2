"""The generation backends of `tl-eval`: one greedy completion per conversation, from a local checkpoint
(transformers, or vLLM on a GPU) or from an OpenAI-compatible endpoint.

Every backend renders a conversation as its prompt format does (`tl_plugin.core.formats`), so a model is shown the
prompts it was trained on, and cuts the completion at the first stop string. Calls an endpoint returns as
structured `tool_calls` come back as the text the prompt format writes, so one parser reads every backend's output.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit

from tl_plugin.core.formats import PromptFormat, get_format
from tl_plugin.core.tool_calls import openai_tool

log = logging.getLogger(__name__)
CPU_BATCH_MAX_TOKENS = 1024  # longer prompts are generated one at a time on a CPU (see HFBackend.generate)


class Backend(Protocol):
    name: str

    def generate(self, conversations: list[list[dict]], tools: list[list[dict]] | None = None) -> list[str]:
        """One completion per conversation (chat messages {"role", "content"}; the system message already lists the
        tools in the prompt format's own words). `tools` (OpenAI function schemas per conversation) is passed to chat
        templates / endpoints that take `tools=`. Greedy decoding. The returned text is cut at the first stop string."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the earliest occurrence of any stop string (the stop string excluded)."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def encode_prompts(fmt: PromptFormat, tokenizer: Any, prompts: list[str]) -> list[list[int]]:
    """Token ids of rendered prompts. A chat template writes its own BOS (apply_chat_template(tokenize=True) adds
    none, and a second BOS hurts LLaMA models); the built-in layouts are plain text and get the tokenizer's BOS."""
    return tokenizer(prompts, add_special_tokens=fmt.layout is not None)["input_ids"]


class HFBackend:
    """transformers `generate`, batched with left padding. `model_path_or_objects`: a checkpoint directory (or hub
    name) or an already built (model, tokenizer) pair."""

    name = "hf"

    def __init__(
        self,
        model_path_or_objects: str | tuple[Any, Any],
        prompt_format: str,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        stop: Sequence[str] = (),
        device: str | None = None,
        quiet: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.format = get_format(prompt_format)
        self.max_new_tokens, self.batch_size, self.stop, self.quiet = max_new_tokens, batch_size, tuple(stop), quiet
        if isinstance(model_path_or_objects, tuple):
            self.model, self.tokenizer = model_path_or_objects
            self.model_name = type(self.model).__name__
        else:
            self.model_name = str(model_path_or_objects)
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            # On a CPU bf16 matmuls are slow and fp16 ones missing: compute in float32 there.
            dtype = "auto" if device != "cpu" else torch.float32
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            self.model = AutoModelForCausalLM.from_pretrained(self.model_name, dtype=dtype)
        if device is not None:
            self.model.to(device)
        self.model.eval()
        self.tokenizer.padding_side = "left"  # generation continues from the right end of every row
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token

    def generate(self, conversations: list[list[dict]], tools: list[list[dict]] | None = None) -> list[str]:
        import torch
        from tqdm.auto import tqdm
        from transformers import GenerationConfig

        tools = tools or [None] * len(conversations)
        prompts = [self.format.render(m, self.tokenizer, tools=t) for m, t in zip(conversations, tools)]
        ids = encode_prompts(self.format, self.tokenizer, prompts)
        # Longest first: rows of a batch have similar lengths (little padding), and running out of memory shows at once.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        # generate stops each row at a stop string where transformers can (it needs the tokenizer); we cut anyway.
        can_stop = self.stop and hasattr(GenerationConfig(), "stop_strings")
        pad = self.tokenizer.pad_token_id
        settings = {"do_sample": False, "max_new_tokens": self.max_new_tokens, "pad_token_id": pad}
        settings |= {"stop_strings": list(self.stop), "tokenizer": self.tokenizer} if can_stop else {}
        outputs: list[str] = [""] * len(ids)
        # On a CPU a left-padded batch takes PyTorch's unfused attention (the padding mask), whose cost grows with
        # rows x length^2, while a lone row takes the fused causal kernel: past ~1k tokens that is 10x slower than
        # one row at a time (python -m benchmarks.eval). Long prompts go alone there.
        alone = self.model.device.type == "cpu"
        batches, start = [], 0
        while start < len(order):
            size = 1 if alone and len(ids[order[start]]) > CPU_BATCH_MAX_TOKENS else self.batch_size
            batches.append(order[start : start + size])
            start += size
        quiet = self.quiet or not sys.stderr.isatty()
        with torch.inference_mode():
            for rows in tqdm(batches, desc="generating", unit="batch", disable=quiet):
                batch = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
                batch = batch.to(self.model.device)
                generated = self.model.generate(**batch, **settings)
                new = generated[:, batch["input_ids"].shape[1] :]
                for i, text in zip(rows, self.tokenizer.batch_decode(new, skip_special_tokens=True)):
                    outputs[i] = cut_at_stop(text, self.stop)
        return outputs


class VLLMBackend:
    """vLLM's offline engine on a GPU; prompts are rendered and tokenized as HFBackend does them."""

    name = "vllm"

    def __init__(self, model_path: str, prompt_format: str, max_new_tokens: int = 256, stop: Sequence[str] = ()):
        from vllm import LLM, SamplingParams

        self.format, self.stop, self.model_name = get_format(prompt_format), tuple(stop), model_path
        self.llm = LLM(model=model_path)
        self.tokenizer = self.llm.get_tokenizer()
        self.params = SamplingParams(temperature=0, max_tokens=max_new_tokens, stop=list(self.stop) or None)

    def generate(self, conversations: list[list[dict]], tools: list[list[dict]] | None = None) -> list[str]:
        tools = tools or [None] * len(conversations)
        prompts = [self.format.render(m, self.tokenizer, tools=t) for m, t in zip(conversations, tools)]
        inputs = [{"prompt_token_ids": ids} for ids in encode_prompts(self.format, self.tokenizer, prompts)]
        results = self.llm.generate(inputs, self.params)  # in the order of the inputs
        return [cut_at_stop(r.outputs[0].text, self.stop) for r in results]


def split_endpoint(url: str) -> tuple[str, str | None]:
    """The API base and the model of an endpoint URL: `http://host:8000#model` -> ("http://host:8000/v1", "model");
    a URL with no path gets OpenAI's /v1. ValueError for anything that is not an http(s) URL with a host."""
    base, _, model = url.partition("#")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an OpenAI-compatible endpoint URL: {url!r}; expected http(s)://host[:port][/v1][#model]")
    base = base.rstrip("/")
    return (base if parts.path.strip("/") else base + "/v1"), (model or None)


class OpenAIBackend:
    """An OpenAI-compatible chat completions endpoint (vLLM serve, SGLang, TGI, OpenAI), `concurrency` requests at a
    time. `model` None: the first model the server lists."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None,
        prompt_format: str,
        max_new_tokens: int = 256,
        stop: Sequence[str] = (),
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 2,
    ) -> None:
        import openai

        base_url, url_model = split_endpoint(base_url)
        self.format, self.max_new_tokens, self.stop = get_format(prompt_format), max_new_tokens, tuple(stop)
        self.concurrency = concurrency
        # Local servers (vLLM, SGLang) want some key, any key; a hosted API gets the usual OPENAI_API_KEY.
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=max_retries)
        self.model_name = model or url_model or self._first_model(base_url)

    def _first_model(self, base_url: str) -> str:
        import openai

        try:
            models = [m.id for m in self.client.models.list()]
        except openai.OpenAIError as e:
            raise ValueError(f"cannot list the models of {base_url} ({e}); name one as {base_url}#MODEL") from None
        if not models:
            raise ValueError(f"{base_url} lists no models; name one as {base_url}#MODEL")
        return models[0]

    def _one(self, messages: list[dict], tools: list[dict] | None) -> str:
        import openai

        # Optional fields are left out rather than sent as null, which strict servers reject; tools go as `tools=`
        # only to chat templates, the other formats list them in the system message.
        request = {"model": self.model_name, "messages": messages, "temperature": 0, "max_tokens": self.max_new_tokens}
        if self.stop:
            request["stop"] = list(self.stop)
        if self.format.layout is None and tools:
            request["tools"] = [openai_tool(tool) for tool in tools]
        try:
            response = self.client.chat.completions.create(**request)
            message = response.choices[0].message.model_dump(exclude_none=True)
            return cut_at_stop(self.format.assistant_text(message), self.stop)
        except (openai.OpenAIError, IndexError, AttributeError, TypeError) as e:
            # One bad item must not cost the whole evaluation: it scores as an empty answer, and the log says why.
            reason = " ".join(str(e).split())[:300]  # one line, whatever the server sent
            log.warning("request to %s failed (%s): %s", self.model_name, type(e).__name__, reason)
            return ""

    def generate(self, conversations: list[list[dict]], tools: list[list[dict]] | None = None) -> list[str]:
        tools = tools or [None] * len(conversations)
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(self._one, conversations, tools))  # map keeps the input order


def _vllm_usable() -> bool:
    import torch

    try:  # a broken vLLM install falls back to transformers rather than failing the evaluation
        import vllm  # noqa: F401
    except Exception as e:
        log.info("vllm is not usable (%s); generating with transformers", e)
        return False
    return torch.cuda.is_available()


def load_backend(
    model: str,
    prompt_format: str,
    *,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    stop: tuple[str, ...] = (),
    device: str | None = None,
    engine: str = "auto",
    api_key: str | None = None,
    quiet: bool = False,
) -> Backend:
    """model: an http(s) URL -> OpenAIBackend (model name after '#', else the server's first model from /v1/models);
    otherwise a local Hugging Face checkpoint: engine "vllm" (or "auto" when vllm imports and a GPU is there)
    -> VLLMBackend, else ("hf") HFBackend."""
    get_format(prompt_format)  # an unknown format fails before any model loads
    if engine not in ("auto", "hf", "vllm"):
        raise ValueError(f"unknown engine {engine!r}; choose auto, hf or vllm")
    if model.startswith(("http://", "https://")):
        return OpenAIBackend(model, None, prompt_format, max_new_tokens, stop, api_key)
    if engine == "auto":
        engine = "vllm" if _vllm_usable() else "hf"
    if engine == "vllm":
        return VLLMBackend(model, prompt_format, max_new_tokens, stop)
    return HFBackend(model, prompt_format, max_new_tokens, batch_size, stop, device, quiet)
