"""Multi-turn evaluation on ToolUse-v0: the paper's ToolEyes metrics (DE, CE, VA) for any generation backend.

A backend is any object with `generate(conversations, tools=None) -> list[str]`: one greedy completion per chat
message list. The conversation is the env's own (`info["messages"]`): the system message already lists the task's
tools, ask_to_user and finish in the prompt format, so a backend that renders text needs only the messages; `tools`
(the task's schemas) is there for backends that must send them apart, e.g. an API's native tool calling.
Backends should stop generating after one action: build them with `STOP[prompt_format]` as stop strings.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from envs.tasks import Task
from envs.tool_use import ToolUseEnv
from tl_plugin.core.parsing import ASK_NAMES
from tl_plugin.core.taxonomy import Category
from tool_server.client import RemoteToolServer, connect
from tool_server.server import ToolServer

if TYPE_CHECKING:  # any object with `generate` will do; the protocol is only for type checkers
    from tl_plugin.eval.backends import Backend

logger = logging.getLogger(__name__)

# Where the model's turn ends, per prompt format: in the env's layouts an assistant turn is followed only by tool
# feedback ("Observation:" / "Output:" lines, or the end of the ChatML message); "\nUser:" guards a model that
# goes on to invent the user's next turn. A tokenizer's own chat template ends a turn with its EOS token, which
# backends stop at anyway. run_episodes also cuts at these, for backends that cannot stop on strings.
# A "python_brief" turn is one line, one call: SFT trains the newline that ends it, never the "Output:" after it
# (tool feedback has no loss), so a small model goes on with a second call unless the newline stops it.
STOP: dict[str, tuple[str, ...]] = {
    "react": ("\nObservation:", "\nUser:"),
    "python": ("\nOutput:", "\nUser:"),
    "python_brief": ("\n",),
    "qwen": ("<|im_end|>",),
    "chat_template": (),
}


@dataclass
class EpisodeRecord:
    task_id: str
    scenario: str
    turns: int
    calls: int  # tool calls the model made (finish/ask actions excluded; a format error is one failed call)
    de_calls: int  # calls with a documentation error (tool/parameter hallucination, parameter missing)
    ce_calls: int  # calls with any other error the model caused (Category.is_call_error)
    valid_answer: bool  # ended with a non-empty answer (finish, or plain text as the env reads it) in the turn limit
    success: bool | None  # the task reward was positive (gold tasks); None without gold
    messages: list[dict] = field(repr=False)  # the final conversation


@dataclass
class _Episode:
    """One live episode: its env, where it stands, and its counts so far."""

    index: int
    task: Task
    env: ToolUseEnv
    messages: list[dict]
    tools: list[dict]
    turns: int = 0
    calls: int = 0
    de_calls: int = 0
    ce_calls: int = 0

    def step(self, text: str, max_turns: int) -> EpisodeRecord | None:
        """Plays one model turn; the record when the episode is over, None while it goes on."""
        _, reward, terminated, truncated, info = self.env.step(text)
        self.turns, self.messages = self.turns + 1, info["messages"]
        # An ask is no tool call (its category is ok); the env runs none of a finishing turn's calls, so that turn
        # has no categories to count.
        if not any(str(c["name"]).lower() in ASK_NAMES for c in info["calls"]):
            categories = [Category(c) for c in info["categories"]]
            self.calls += len(categories)
            self.de_calls += sum(c.is_documentation_error for c in categories)
            self.ce_calls += sum(c.is_call_error for c in categories)
        if not (terminated or truncated or self.turns >= max_turns):
            return None
        gold = self.task.answer is not None or bool(self.task.gold_calls)
        return EpisodeRecord(
            task_id=self.task.id,
            scenario=self.task.scenario,
            turns=self.turns,
            calls=self.calls,
            de_calls=self.de_calls,
            ce_calls=self.ce_calls,
            valid_answer=terminated and bool((info["answer"] or "").strip()),
            success=(terminated and reward > 0) if gold else None,
            messages=self.messages,
        )


def run_episodes(
    backend: Backend,
    tasks: Sequence[Task],
    prompt_format: str = "react",
    *,
    max_turns: int = 9,
    batch_size: int = 8,
    server: ToolServer | RemoteToolServer | str | Sequence[str] | None = None,
    tokenizer: Any = None,
    progress: bool = True,
) -> list[EpisodeRecord]:
    """Runs one ToolUse-v0 episode per task, stepping up to batch_size episodes in lock-step: each round asks the
    backend for the next assistant turn of every live episode in ONE generate call, steps each env, and refills
    the freed slots with the next tasks. Records come back in the order of `tasks`.

    server: None (the embedded built-in catalog), a server, or standalone server URL(s); ToolEyes tasks need a
    server with the ToolEyes catalog. tokenizer: for the "chat_template" format. max_turns: the VA turn limit."""
    if max_turns < 1 or batch_size < 1:
        raise ValueError(f"max_turns and batch_size must be positive, got {max_turns} and {batch_size}")
    if not tasks:
        return []
    client = None if server is None else connect(server)
    stops = STOP.get(prompt_format, ())
    idle = [ToolUseEnv(tasks, prompt_format, tokenizer, client) for _ in range(min(batch_size, len(tasks)))]
    queue = list(enumerate(tasks))[::-1]  # popped from the end: task order
    records: list[EpisodeRecord | None] = [None] * len(tasks)
    live: list[_Episode] = []
    logger.info("running %d episodes (%s, batch %d, max %d turns)", len(tasks), prompt_format, batch_size, max_turns)
    bar = tqdm(total=len(tasks), desc="episodes", unit="ep", disable=not progress or not sys.stdout.isatty())
    try:
        while queue or live:
            while idle and queue:
                index, task = queue.pop()
                env = idle.pop()
                _, info = env.reset(options={"task": task})
                live.append(_Episode(index, task, env, info["messages"], info["tools"]))
            texts = backend.generate([e.messages for e in live], [e.tools for e in live])
            if len(texts) != len(live):
                raise ValueError(f"the backend answered {len(texts)} completions for {len(live)} conversations")
            still = []
            for episode, text in zip(live, texts):
                record = episode.step(_cut(text, stops), max_turns)
                if record is None:
                    still.append(episode)
                    continue
                records[episode.index] = record
                idle.append(episode.env)
                bar.update()
                logger.debug(
                    "%s: %d turns, %d calls, valid %s", record.task_id, record.turns, record.calls, record.valid_answer
                )
            live = still
    finally:
        bar.close()
        if client is not None and client is not server:  # made here from URLs: ours to close
            client.close()
    return records  # type: ignore[return-value]  # every slot is filled once the queue and live set are empty)


def _cut(text: Any, stops: tuple[str, ...]) -> str:
    """The model's text up to its first stop string; anything that is not text becomes text (never raises)."""
    text = "" if text is None else text if isinstance(text, str) else str(text)
    for stop in stops:
        at = text.find(stop)
        if at >= 0:
            text = text[:at]
    return text


def episode_metrics(records: Sequence[EpisodeRecord]) -> dict[str, float]:
    """{"DE": % of calls with a documentation error, "CE": % of calls with another model-caused error, "VA": % of
    episodes with a valid answer within the turn limit, "success": % of gold episodes solved (absent when none
    has gold), "episodes": n, "calls": n}. Percentages of nothing are 0."""
    calls = sum(r.calls for r in records)
    metrics = {
        "DE": 100.0 * sum(r.de_calls for r in records) / calls if calls else 0.0,
        "CE": 100.0 * sum(r.ce_calls for r in records) / calls if calls else 0.0,
        "VA": 100.0 * sum(r.valid_answer for r in records) / len(records) if records else 0.0,
    }
    gold = [r.success for r in records if r.success is not None]
    if gold:
        metrics["success"] = 100.0 * sum(gold) / len(gold)
    return {**metrics, "episodes": len(records), "calls": calls}
