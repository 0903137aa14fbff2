#!/usr/bin/env bash
# Multi-turn PPO on OpenRLHF in the ToolUse-v0 environment: each prompt's label is a task; the agent
# (tl_plugin/adapters/agent.py, given as --train.agent_func_path) runs the episode against the embedded tool server and
# returns the env's turn-level, category-coded rewards. TL_AGENT_MASK_ERRORS=1 keeps erroneous turns out of the
# PPO loss (MAE for RL); TL_AGENT_FAULT_RATE=0.1 injects tool instability.
# Needs a GPU machine with `pip install "tl-training[openrlhf]"` and a running Ray cluster (`ray start --head`).
#   MODEL=/path/to/sft-model bash recipes/ppo_agent.sh [extra OpenRLHF flags]
set -euo pipefail
MODEL=${MODEL:?set MODEL to the SFT model directory}
PROMPTS=${PROMPTS:-runs/agent-prompts.jsonl}
OUT=${OUT:-runs/ppo-agent}
mkdir -p "$(dirname "$PROMPTS")"
[ -f "$PROMPTS" ] || tl-prompts "$PROMPTS" --builtin-tasks

python -m openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path "$MODEL" --critic.model_name_or_path "$MODEL" \
  --train.agent_func_path "$(tl-agent-path)" \
  --data.prompt_dataset "$PROMPTS" --data.input_key input --data.label_key label --data.apply_chat_template \
  --actor.adam.lr 2e-6 --critic.adam.lr 1e-6 \
  --rollout.batch_size 32 --train.batch_size 32 --train.micro_batch_size 2 --rollout.micro_batch_size 4 \
  --data.max_len 8192 --train.max_epochs 1 --train.num_episodes 1 \
  --ds.zero_stage 2 --ckpt.output_dir "$OUT" "$@"
