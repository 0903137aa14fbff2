"""ToolSFTDataset: OpenRLHF's SFTDataset whose float loss mask carries TL-Training's token weights.

OpenRLHF's SFT loss is sum(nll * loss_mask) / sum(loss_mask) over a float mask (openrlhf/models/loss.py,
aggregate_loss), so MAE (weight 0) and PKT (weight > 1) need no trainer change: only the mask this dataset returns.
"""

from __future__ import annotations

import bisect
from operator import itemgetter
from typing import Any

import torch
from openrlhf.datasets import SFTDataset
from openrlhf.datasets.sft_dataset import preprocess_data

from tl_plugin.core.weights import TRANSFORMS, weighted_ranges


def transforms_from_args(args: Any) -> list[tuple[str, dict]]:
    """(name, options) of the transforms asked for by the --tl.* flags of an OpenRLHF args namespace."""
    tl = getattr(args, "tl", None)
    if tl is None:
        return []
    chosen = [("mae", {})] if tl.mae else []
    if tl.pkt:
        chosen.append(("pkt", {"wmax": tl.pkt_wmax}))
    return chosen + [(name, {}) for name in getattr(tl, "transform", None) or []]


class ToolSFTDataset(SFTDataset):
    """SFTDataset (multiturn, chat template) over internal trajectories ({"tools", "messages"}, see
    tl_plugin.data.converters) whose `get_loss_mask` returns float weights: 0 outside assistant turns and on turns a
    transform masks, the transforms' weights (e.g. PKT's w on key tokens) inside, 1 elsewhere.

    Takes SFTDataset's arguments plus `transforms`, (registry name, options) pairs; by default they come from the
    --tl.* flags in `strategy.args` (tl_plugin.adapters.train_sft). The sample's tool list is read from `tools_key`.
    """

    def __init__(
        self,
        dataset: Any,
        tokenizer: Any,
        max_length: int,
        strategy: Any,
        *args: Any,
        transforms: list[tuple[str, dict]] | None = None,
        tools_key: str = "tools",
        **kwargs: Any,
    ) -> None:
        if not kwargs.get("multiturn") or kwargs.get("pretrain_mode"):
            raise ValueError(
                "ToolSFTDataset weighs whole trajectories: use --data.multiturn with "
                "--data.apply_chat_template (and not --model.pretrain_mode_enable)"
            )
        self.transforms = transforms_from_args(strategy.args) if transforms is None else list(transforms)
        unknown = [name for name, _ in self.transforms if name not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown loss-weight transform(s) {unknown}; registered: {sorted(TRANSFORMS)}")
        self.tools_key = tools_key
        super().__init__(dataset, tokenizer, max_length, strategy, *args, **kwargs)

    def process_data(self, data: dict) -> dict:
        """One trajectory -> prompt, response, prompt length and weighted runs (start, end, weight) of tokens.

        Like SFTDataset's multiturn branch, each assistant turn is found by rendering the chat template up to it;
        unlike it, the turn's tokens come from the character offsets of one tokenization of the whole text (the
        text __getitem__ tokenizes) instead of re-tokenizing every prefix: exact for any tokenizer, where the
        prefix count drifts for sentencepiece-style ones (a separately tokenized response gains a leading "▁")."""
        messages = data[self.input_key]
        # The template sees role and content only: the content already holds the calls as the model wrote them,
        # and a template that also renders `tool_calls` (Qwen, Llama-3) would print every call twice.
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        spans = []
        for i, message in enumerate(plain):
            if message["role"] == "assistant":
                before = self.apply_chat_template(plain[:i], tokenize=False, add_generation_prompt=True)
                upto = self.apply_chat_template(plain[: i + 1], tokenize=False)
                spans.append((len(before), len(upto)))
        prompt, response = preprocess_data(
            {self.input_key: plain}, None, self.input_key, None, self.apply_chat_template
        )
        text = (prompt + response).rstrip("\n")  # exactly what SFTDataset.__getitem__ tokenizes
        if not text.endswith(self.tokenizer.eos_token):
            text += " " + self.tokenizer.eos_token
        offsets = self.tokenizer(
            text, max_length=self.max_length, truncation=True, add_special_tokens=False, return_offsets_mapping=True
        )["offset_mapping"]
        # the tokens starting inside the prompt: offsets are in text order, so one bisection counts them
        prompt_ids_len = bisect.bisect_left(offsets, len(prompt), key=itemgetter(0))
        if not prompt or not response or prompt_ids_len >= self.max_length - 2:  # SFTDataset's filter
            prompt = None
        sample = {"tools": data.get(self.tools_key) or [], "messages": messages}
        runs = weighted_ranges(sample, text, offsets, spans, self.transforms) if prompt else []
        return {"prompt": prompt, "response": response, "prompt_ids_len": prompt_ids_len, "response_ranges": runs}

    def get_loss_mask(self, input_ids: torch.Tensor, idx: int) -> torch.Tensor:
        """Float mask in OpenRLHF's layout: the weight of token t sits at position t - 1 (the trainer scores
        loss_mask[:, :-1] against the log-probs of the next tokens), as SFTDataset writes its 1s."""
        loss_mask = torch.zeros_like(input_ids, dtype=torch.float32)
        for start, end, weight in self.response_ranges[idx]:
            loss_mask[0, int(start) - 1 : int(end)] = weight
        return loss_mask
