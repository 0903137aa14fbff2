"""Training one variant and evaluating it at fixed steps.

SFT: transformers' Trainer whose loss is OpenRLHF's (openrlhf/models/loss.py: SFTLoss, token level), the sum of
w·nll over the sum of w, w being ToolSFTDataset's float loss mask. IRM: TRL's GRPOTrainer with the IRM
`reward_func` of tl_plugin.adapters.reward as its reward. Evaluation: tl_plugin.eval on held-out built-in tasks,
single-turn TS/PI/CF of the first call and multi-turn DE/CE/VA of whole ToolUse-v0 episodes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import get_length_grouped_indices

from envs.tasks import Task
from tl_plugin.adapters.reward import reward_func
from tl_plugin.demo.data import FORMAT, Config
from tl_plugin.eval.backends import HFBackend, cut_at_stop
from tl_plugin.eval.episodes import STOP, episode_metrics, run_episodes
from tl_plugin.eval.scoring import aggregate, score_items
from tl_plugin.eval.suites import Item

logger = logging.getLogger(__name__)
Evaluate = Callable[[Any, bool], dict[str, float]]  # (model, with episodes?) -> metrics


def weighted_nll(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """OpenRLHF's SFT loss: sum(w · nll) / sum(w), where the weight of next token t+1 sits at loss_mask[:, t]
    (the layout SFTDataset writes and its trainer reads as loss_mask[:, :-1])."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    weights = loss_mask[:, :-1]
    return -(logp * weights).sum() / weights.sum()


class _MixedLengthSampler(torch.utils.data.Sampler):
    """Batches of rows of similar length drawn from `mix` batches' worth of random rows at a time. Trainer's own
    group_by_length sorts 50 batches' worth: a batch is then nearly one query template, and the tiny model learned
    only bigrams (greedy `get_weather_weather_…`); 4 keeps batches mixed and pads 1.17x the tokens, not 1.65x."""

    def __init__(self, lengths: list[int], batch: int, mix: int = 4) -> None:
        self.lengths, self.batch, self.mix = lengths, batch, mix

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Any:
        return iter(get_length_grouped_indices(self.lengths, self.batch, mega_batch_mult=self.mix))


class _WeightedSFTTrainer(Trainer):
    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler:
        rows = train_dataset if train_dataset is not None else self.train_dataset
        return _MixedLengthSampler([len(row["input_ids"]) for row in rows], self.args.train_batch_size)

    def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False, **kwargs: Any) -> Any:
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        loss = weighted_nll(outputs.logits, inputs["input_ids"], inputs["loss_mask"])
        return (loss, outputs) if return_outputs else loss


class _EvalEvery(TrainerCallback):
    """Evaluates every `every` steps and at the last one, appending {"step", metrics...} to `history`: the
    single-turn metrics each time, the episodes' at the last step (a half-trained model plays every episode to the
    turn limit, which would cost more than the training)."""

    def __init__(self, evaluate: Evaluate, every: int, history: list[dict], offset: int = 0) -> None:
        self.evaluate, self.every, self.history, self.offset = evaluate, every, history, offset

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        last = state.global_step == state.max_steps
        if state.global_step % self.every == 0 or last:
            self.history.append({"step": self.offset + state.global_step, **self.evaluate(model, last)})
            logger.info("step %d: %s", self.offset + state.global_step, self.history[-1])


def _arguments(config: Config, out: Path, seed: int, steps: int, lr: float, progress: bool) -> dict:
    return {
        "disable_tqdm": not progress,
        "output_dir": str(out),
        "max_steps": steps,
        "learning_rate": lr,
        "lr_scheduler_type": "cosine",
        "warmup_steps": max(1, steps // 50),
        "weight_decay": 0.0,
        "logging_steps": max(1, steps // 4),
        "save_strategy": "no",
        "report_to": [],
        "seed": seed,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
        "remove_unused_columns": False,
    }


def train_sft(
    model: Any, dataset: Any, config: Config, out: Path, seed: int, evaluate: Evaluate, progress: bool = True
) -> list[dict]:
    """Trains `model` in place on a ToolSFTDataset for config.sft_steps; returns the evaluations made."""
    history: list[dict] = []
    names = ("input_ids", "attention_mask", "loss_mask")
    # Rows are tokenized once, and batches drawn among rows of similar length (_MixedLengthSampler):
    # trajectories run from 180 to 720 tokens, and padding to the longest of a random batch costs 1.65x the work.
    rows = [dict(zip(names, (tensor[0] for tensor in dataset[i]))) for i in range(len(dataset))]
    trainer = _WeightedSFTTrainer(
        model=model,
        args=TrainingArguments(
            **_arguments(config, out, seed, config.sft_steps, config.lr, progress),
            per_device_train_batch_size=config.batch,
        ),
        train_dataset=rows,
        data_collator=lambda batch: dict(
            zip(names, dataset.collate_fn([tuple(row[k][None] for k in names) for row in batch]))
        ),
        callbacks=[_EvalEvery(evaluate, config.eval_every, history)],
    )
    trainer.train()
    return history


def irm_rewards(prompts: list[str], completions: list[str], label: list[str], **kwargs: Any) -> list[float]:
    """TRL's reward-function signature over the IRM `reward_func`, exactly as OpenRLHF calls it (queries are
    prompt + response); the response is cut where the model's turn ends, as the env cuts it."""
    responses = [cut_at_stop(c, STOP[FORMAT]) for c in completions]
    queries = [p + r for p, r in zip(prompts, responses)]
    return reward_func(queries, prompts, label)["rewards"].tolist()


def train_irm(
    model: Any,
    tokenizer: Any,
    prompts: list[dict],
    config: Config,
    out: Path,
    seed: int,
    evaluate: Evaluate,
    progress: bool = True,
) -> list[dict]:
    """GRPO on the IRM reward for config.rl_steps, from an SFT model (trained in place); evaluations are numbered
    after the SFT steps. The paper uses PPO: GRPO needs no value model, which a CPU cannot afford twice."""
    import datasets
    from trl import GRPOConfig, GRPOTrainer

    history: list[dict] = []
    # A turn ends at its newline in the demo's layout: generation stops there, and TRL masks what follows.
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, newline]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    args = GRPOConfig(
        **_arguments(config, out, seed, config.rl_steps, config.rl_lr, progress),
        per_device_train_batch_size=config.rl_generations * 2,
        num_generations=config.rl_generations,
        max_completion_length=config.max_new_tokens,
        temperature=1.0,
        beta=0.0,
        log_completions=False,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=irm_rewards,
        args=args,
        train_dataset=datasets.Dataset.from_list(prompts),
        processing_class=tokenizer,
        callbacks=[_EvalEvery(evaluate, config.eval_every, history, offset=config.sft_steps)],
    )
    trainer.train()
    return history


def evaluator(tokenizer: Any, items: list[Item], tasks: list[Task], config: Config) -> Evaluate:
    """A function of a model: greedy TS/PI/CF of the items' first calls and, with `episodes`, DE/CE/VA of the
    tasks' ToolUse-v0 episodes."""

    def evaluate(model: Any, episodes: bool = True) -> dict[str, float]:
        was_training = model.training
        backend = HFBackend(
            (model, tokenizer), FORMAT, config.max_new_tokens, batch_size=64, stop=STOP[FORMAT], quiet=True
        )
        predictions = backend.generate([item.messages for item in items], [item.tools for item in items])
        single = aggregate(items, score_items(items, predictions))["builtin"]
        metrics = {k: single[k] for k in ("TS", "PI", "CF")}
        if episodes:
            multi = episode_metrics(run_episodes(backend, tasks, FORMAT, batch_size=64, progress=False))
            metrics |= {k: round(multi[k], 2) for k in ("DE", "CE", "VA")}
        model.train(was_training)
        return metrics

    return evaluate
