"""The recipes run as bash with their commands recorded, and each training command parses with OpenRLHF's own
parser (built on CPU) into the paper's settings (SFT lr 1e-6 cosine, warmup 0.01, batch 4,
1 epoch, wmax 9; PPO actor lr 2e-6, critic lr 1e-6, batch 8, 3 epochs) and a GPU layout OpenRLHF accepts."""

import os
import subprocess
from pathlib import Path

import pytest

from tl_plugin.adapters.openrlhf_cli import openrlhf_finish_args, openrlhf_parser
from tl_plugin.adapters.train_sft import parse_args

RECIPES = {p.stem: p for p in sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.sh"))}
REWARD_PATH, AGENT_PATH = "/site/tl_plugin/adapters/reward.py", "/site/tl_plugin/adapters/agent.py"
# Stand-ins on PATH: the launchers and data tools record their argv (one NUL-separated file per call, in order).
RECORD = '#!/bin/sh\nn=$(ls "$CALLS" | wc -l)\nprintf "%s\\0" "$(basename "$0")" "$@" > "$CALLS/$((n + 100))"\n'
STANDINS = {
    "python": RECORD,
    "deepspeed": RECORD,
    "tl-data": RECORD,
    "tl-prompts": RECORD,
    "tl-reward-path": f"#!/bin/sh\necho {REWARD_PATH}\n",
    "tl-agent-path": f"#!/bin/sh\necho {AGENT_PATH}\n",
}


def run_recipe(name: str, tmp_path: Path, **env: str) -> list[list[str]]:
    """Run recipes/NAME.sh in tmp_path with the stand-ins; returns the argv of every command it called."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    for command, script in STANDINS.items():
        (bin_dir / command).write_text(script)
        (bin_dir / command).chmod(0o755)
    environ = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "MODEL": "/models/sft", **env}
    subprocess.run(["bash", str(RECIPES[name])], cwd=tmp_path, env=environ, check=True)
    return [path.read_text().split("\0")[:-1] for path in sorted(calls.iterdir())]


def training_command(calls: list[list[str]]) -> tuple[str, list[str], list[str]]:
    """(module, launcher flags, module flags) of the recipe's `python -m M ...` or `deepspeed ... --module M ...`."""
    (argv,) = [argv for argv in calls if argv[0] in ("python", "deepspeed")]
    at = argv.index("-m" if argv[0] == "python" else "--module")
    return argv[at + 1], argv[1:at], argv[at + 2 :]


def test_recipes_are_valid_bash():
    assert sorted(RECIPES) == ["ppo_agent", "ppo_irm", "sft_mae_pkt"]
    for path in RECIPES.values():
        subprocess.run(["bash", "-n", str(path)], check=True)


def test_sft_recipe_has_the_papers_settings(tmp_path):
    calls = run_recipe("sft_mae_pkt", tmp_path)
    assert calls[0][:2] == ["tl-data", "synth"] and calls[1][:2] == ["tl-data", "stats"]
    module, launcher, flags = training_command(calls)
    assert (module, launcher) == ("tl_plugin.adapters.train_sft", ["--num_gpus", "4"])
    args = parse_args(flags)
    assert (args.adam.lr, args.lr_scheduler, args.lr_warmup_ratio) == (1e-6, "cosine", 0.01)
    assert (args.train.batch_size, args.train.max_epochs) == (4, 1)
    assert (args.tl.mae, args.tl.pkt, args.tl.pkt_wmax) == (True, True, 9.0)
    assert args.train.batch_size % (4 * args.train.micro_batch_size) == 0, "the batch splits over the 4 GPUs"


@pytest.mark.parametrize("name", ["ppo_irm", "ppo_agent"])
@pytest.mark.parametrize("gpus", ["8", "2"])
def test_ppo_recipes_have_the_papers_settings(tmp_path, name, gpus):
    module, _, flags = training_command(run_recipe(name, tmp_path, GPUS=gpus))
    assert module == "openrlhf.cli.train_ppo_ray"
    args = openrlhf_finish_args(module, openrlhf_parser(module).parse_args(flags))
    assert (args.actor.adam.lr, args.critic.adam.lr) == (2e-6, 1e-6)
    assert (args.rollout.batch_size, args.train.batch_size, args.train.max_epochs) == (8, 8, 3)
    # The layout OpenRLHF's train() asserts for --train.colocate_all, and a batch every data-parallel rank shares.
    world = args.actor.num_nodes * args.actor.num_gpus_per_node
    assert args.train.colocate_all and world == int(gpus) == args.vllm.num_engines * args.vllm.tensor_parallel_size
    assert (args.ref.num_gpus_per_node, args.critic.num_gpus_per_node) == (world, world)
    assert args.train.batch_size % (world * args.train.micro_batch_size) == 0
    if name == "ppo_irm":
        assert args.reward.remote_url == [REWARD_PATH]
    else:
        assert (args.train.agent_func_path, args.reward.remote_url) == (AGENT_PATH, ["agent"])


def test_irm_recipe_takes_reward_server_replicas(tmp_path):
    urls = "http://10.0.0.1:5000/,http://10.0.0.2:5000/"
    module, _, flags = training_command(run_recipe("ppo_irm", tmp_path, REWARD_URL=urls))
    args = openrlhf_finish_args(module, openrlhf_parser(module).parse_args(flags))
    assert args.reward.remote_url == urls.split(",")
