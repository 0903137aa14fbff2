"""The demo's pieces: its size, the built-in tasks split in two, a BPE tokenizer trained on the run's own
trajectories, a tiny LLaMA from a config, and the SFT and RL datasets built with the OpenRLHF path's classes.

Nothing is downloaded. The SFT weights come from `ToolSFTDataset` (MAE and PKT in OpenRLHF's float loss mask) and
the RL labels from `tl-prompts`' builtin rows, the very objects the OpenRLHF recipes use.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from envs.builtin_tasks import builtin_tasks
from envs.tasks import Task
from tl_plugin.core.formats import get_format
from tl_plugin.data.prompts import builtin_row

FORMAT = "python_brief"  # TL-CodeLLaMA's call syntax, one line per tool: a third of "python"'s prompt length
PAD, EOS = "<pad>", "</s>"


@dataclass(frozen=True)
class Config:
    """The size of a run. CPU: one seed in under 15 minutes on 2 cores; GPU: larger, longer, three seeds."""

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    vocab: int = 1000
    trajectories: int = 2000  # synthetic SFT samples, 17% of their calls erroneous
    held_out: float = 0.3  # share of the built-in tasks kept for evaluation
    # episodes on every k-th held-out task, k the least that plays at most N (None: all): 26 of 101 for 32, in
    # about 25 s; all 101 took 75 s
    episode_tasks: int | None = 32
    sft_steps: int = 240
    batch: int = 16
    lr: float = 3e-3  # seed 0, 300 steps: held-out TS 70 at step 240 with 3e-3, 61 with 2e-3, 36 at 300 with 1e-3
    eval_every: int = 60
    # PKT's cap. The paper's 9 leaves a model trained from random weights too little gradient for the other tokens
    # (call syntax): over seeds 0-2, +MAE+PKT's TS at step 120 is -5.9 against SFT with 9 and +10.2 with 2
    wmax: float = 2.0
    rl_steps: int = 60  # GRPO steps on the IRM reward, after SFT
    # seed 0, from the SFT model (TS 51.5): 60 GRPO steps at 2e-4 left TS 45.5; at 5e-5 49.5, at 2e-5 53.5. Adam
    # moves each weight by about lr a step whatever the noisy gradient, so RL needs a much smaller lr than SFT.
    rl_lr: float = 2e-5
    rl_generations: int = 8
    max_new_tokens: int = 32
    max_length: int = 1024


CONFIGS = {
    "cpu": Config(),
    "gpu": Config(hidden=256, layers=6, heads=8, vocab=2000, trajectories=6000, episode_tasks=None, sft_steps=1200,
                  lr=1e-3, eval_every=100, wmax=9.0, rl_steps=200, batch=32),
    # a smoke run of every step, for tests: seconds, and nothing learned
    "tiny": Config(hidden=32, layers=1, heads=2, vocab=300, trajectories=40, episode_tasks=4, sft_steps=4, eval_every=2,
                   rl_steps=2, batch=4, rl_generations=2, max_new_tokens=12),
}  # fmt: skip


def split_tasks(seed: int, held_out: float) -> tuple[list[Task], list[Task]]:
    """The built-in tasks shuffled by `seed` into (training, held-out), single- and multi-step ones alike."""
    train, test = [], []
    by_scenario: dict[str, list[Task]] = {}
    for task in builtin_tasks():
        by_scenario.setdefault(task.scenario, []).append(task)
    rng = random.Random(seed)
    for tasks in by_scenario.values():
        shuffled = rng.sample(tasks, len(tasks))
        cut = round(held_out * len(shuffled))
        test += shuffled[:cut]
        train += shuffled[cut:]
    return train, test


def chat_template(prompt_format: str = FORMAT) -> str:
    """A Jinja chat template writing exactly the format's layout, so that OpenRLHF's SFTDataset (which renders with
    the tokenizer's template) and the env (which renders with the layout) see the same text."""
    fmt = get_format(prompt_format)
    content = "{{ m['content'] }}"
    branches = "".join(
        ("{% if" if i == 0 else "{% elif") + f" m['role'] == '{role}' %}}" + text.replace("{}", content)
        for i, (role, text) in enumerate(fmt.layout.items())
    )
    ending = "{% if add_generation_prompt %}" + fmt.generation_prompt + "{% endif %}"
    return "{% for m in messages %}" + branches + "{% endif %}{% endfor %}" + ending


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-level BPE (the GPT-2 / LLaMA-3 family) trained on `texts`, with the demo's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)
    tokenizer.chat_template = chat_template()
    return tokenizer


def tiny_model(tokenizer: Any, config: Config, seed: int) -> Any:
    """A LLaMA-architecture model with random weights, built from a config (tied embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    llama = LlamaConfig(
        hidden_size=config.hidden,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        intermediate_size=2 * config.hidden,
        vocab_size=len(tokenizer),
        max_position_embeddings=config.max_length,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(llama)


def sft_dataset(path: Path, tokenizer: Any, transforms: list[tuple[str, dict]], max_length: int) -> Any:
    """OpenRLHF's SFTDataset, as `ToolSFTDataset`, over a JSONL file of trajectories loaded as OpenRLHF loads it;
    its float loss mask carries the transforms' weights ("mae", ("pkt", {"wmax": 9})), as
    `python -m tl_plugin.adapters.train_sft` builds it."""
    import datasets

    from tl_plugin.adapters.sft_dataset import ToolSFTDataset

    datasets.disable_progress_bars()
    rows = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(path.parent / "cache"))
    keys = SimpleNamespace(
        input_key="messages", output_key=None, apply_chat_template=True, tokenizer_chat_template=None
    )
    strategy = SimpleNamespace(args=SimpleNamespace(data=keys))
    return ToolSFTDataset(
        rows, tokenizer, max_length, strategy, multiturn=True, num_processors=1, transforms=transforms
    )


def rl_prompts(tasks: list[Task]) -> list[dict]:
    """GRPO's prompt set: each task's first observation as text, its reward label as `tl-prompts` writes it."""
    fmt, notes = get_format(FORMAT), Counter()
    rows = [builtin_row(task, notes, FORMAT) for task in tasks]
    return [{"prompt": fmt.render(row["input"]), "label": row["label"]} for row in rows]
