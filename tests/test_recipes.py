"""The recipes' OpenRLHF commands parse with OpenRLHF's own parsers (built on CPU), and the scripts are valid bash."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tl_plugin.adapters.openrlhf_cli import openrlhf_finish_args, openrlhf_parser
from tl_plugin.adapters.train_sft import build_parser

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.sh"))


def training_command(path: Path) -> tuple[str, list[str]]:
    """(module, flags) of the script's `python -m MODULE ...` command, with shell values replaced by placeholders."""
    text = path.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("python -m "))
    line = re.sub(r'"\$\([^)]*\)"|"\$\{?\w+\}?"', "placeholder", line).replace('"$@"', "")
    words = shlex.split(line)
    return words[2], words[3:]


def test_recipes_are_valid_bash():
    assert len(RECIPES) == 3
    for path in RECIPES:
        subprocess.run(["bash", "-n", str(path)], check=True)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_flags_parse_with_openrlhfs_parser(path):
    module, flags = training_command(path)
    if module == "tl_plugin.adapters.train_sft":
        args = build_parser().parse_args(flags)
        assert args.__dict__["tl.mae"] and args.__dict__["tl.pkt"] and args.__dict__["adam.lr"] == 1e-6
    else:
        assert module == "openrlhf.cli.train_ppo_ray"
        args = openrlhf_finish_args(module, openrlhf_parser(module).parse_args(flags))
        assert args.actor.adam.lr == 2e-6 and args.critic.adam.lr == 1e-6
        if path.stem == "ppo_irm":
            assert args.reward.remote_url == ["placeholder"]  # the reward file's path, from tl-reward-path
        else:
            assert args.train.agent_func_path == "placeholder"  # the agent file's path, from tl-agent-path
