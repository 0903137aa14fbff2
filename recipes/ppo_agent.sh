#!/usr/bin/env bash
# Multi-turn PPO on OpenRLHF in the ToolUse-v0 environment: each prompt's label is a task; the agent
# (tl_plugin/adapters/agent.py, given as --train.agent_func_path) runs the episode against the tool server and
# returns the env's turn-level, category-coded rewards, with the paper's PPO settings (actor lr 2e-6, critic lr 1e-6,
# batch 8, 3 epochs). TL_AGENT_MASK_ERRORS=1 keeps erroneous turns out of the PPO loss (MAE for RL);
# TL_AGENT_FAULT_RATE=0.1 injects tool instability; TL_AGENT_SERVER_URLS=http://host:port,... uses standalone
# `tl-tool-server` replicas instead of one embedded server per vLLM engine.
# Needs GPUS (default 8; 1, 2, 4 or 8) GPUs per node on NODES (default 1) nodes, all models colocated, and
# `pip install "tl-training[openrlhf]"`. See recipes/README.md.
#   MODEL=/path/to/sft-model [GPUS=8] bash recipes/ppo_agent.sh [extra OpenRLHF flags]
set -euo pipefail
MODEL=${MODEL:?set MODEL to the SFT model directory}
GPUS=${GPUS:-8}
NODES=${NODES:-1}
PROMPTS=${PROMPTS:-runs/agent-prompts.jsonl}
OUT=${OUT:-runs/ppo-agent}
mkdir -p "$(dirname "$PROMPTS")"
[ -f "$PROMPTS" ] || tl-prompts "$PROMPTS" --builtin-tasks

python -m openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path "$MODEL" --critic.model_name_or_path "$MODEL" \
  --train.agent_func_path "$(tl-agent-path)" \
  --data.prompt_dataset "$PROMPTS" --data.input_key input --data.label_key label --data.apply_chat_template \
  --actor.adam.lr 2e-6 --critic.adam.lr 1e-6 \
  --rollout.batch_size 8 --train.batch_size 8 --train.max_epochs 3 --train.num_episodes 1 \
  --train.micro_batch_size 1 --rollout.micro_batch_size 1 --data.max_len 8192 \
  --actor.num_nodes "$NODES" --actor.num_gpus_per_node "$GPUS" --ref.num_nodes "$NODES" \
  --ref.num_gpus_per_node "$GPUS" --critic.num_nodes "$NODES" --critic.num_gpus_per_node "$GPUS" \
  --vllm.num_engines "$((NODES * GPUS))" --vllm.tensor_parallel_size 1 --vllm.gpu_memory_utilization 0.5 \
  --train.colocate_all --vllm.enable_sleep --ds.enable_sleep \
  --ds.zero_stage 2 --ckpt.output_dir "$OUT" "$@"
