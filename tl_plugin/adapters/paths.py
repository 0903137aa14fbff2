"""`tl-reward-path` and `tl-agent-path`: print the path of the file OpenRLHF loads by path (`--reward.remote_url`,
`--train.agent_func_path`), without importing it (the agent pulls in torch and OpenRLHF)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tl_plugin.core.cli import add_log_level, setup_logging

_HERE = Path(__file__).resolve().parent


def _print_path(prog: str, file: str, what: str, argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=f"Print the path of {what}, for OpenRLHF to load.")
    add_log_level(parser)
    setup_logging(parser.parse_args(argv).log_level)
    print(_HERE / file)
    return 0


def reward_path(argv: list[str] | None = None) -> int:
    """`tl-reward-path`: the IRM reward file, for `--reward.remote_url "$(tl-reward-path)"`."""
    return _print_path("tl-reward-path", "reward.py", "the IRM reward function", argv)


def agent_path(argv: list[str] | None = None) -> int:
    """`tl-agent-path`: the ToolUse-v0 agent file, for `--train.agent_func_path "$(tl-agent-path)"`."""
    return _print_path("tl-agent-path", "agent.py", "the multi-turn ToolUse-v0 agent", argv)
