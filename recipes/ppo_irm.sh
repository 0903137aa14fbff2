#!/usr/bin/env bash
# TL-Training's PPO stage on OpenRLHF with the IRM reward (Section 3.3): -2 unparseable or hallucinated tool,
# -1.5 wrong tool, -0.8/-0.5/-0.5 hallucinated/redundant/missing parameters (summed), -0.25 wrong value, +1 correct.
# The paper's settings: actor lr 2e-6, critic lr 1e-6, batch 8, 3 epochs. OpenRLHF loads
# tl_plugin/adapters/reward.py by path; REWARD_URL=http://host:port/[,...] uses `tl-reward-server` replicas instead;
# `TL_IRM_TABLE=table.json` changes the values for ablations.
# Needs GPUS (default 8; 1, 2, 4 or 8) GPUs per node on NODES (default 1) nodes, all models colocated, and
# `pip install "tl-training[openrlhf]"`. See recipes/README.md.
#   MODEL=/path/to/sft-model [GPUS=8] bash recipes/ppo_irm.sh [extra OpenRLHF flags]
set -euo pipefail
MODEL=${MODEL:?set MODEL to the SFT model directory}
GPUS=${GPUS:-8}
NODES=${NODES:-1}
TL_DATA_DIR=${TL_DATA_DIR:-../shared/data}
PROMPTS=${PROMPTS:-runs/irm-prompts.jsonl}
OUT=${OUT:-runs/ppo-irm}
REWARD_URL=${REWARD_URL:-$(tl-reward-path)}
mkdir -p "$(dirname "$PROMPTS")"
[ -f "$PROMPTS" ] || tl-prompts "$PROMPTS" --rotbench "$TL_DATA_DIR/rotbench/first_turn_clean.json"

python -m openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path "$MODEL" --critic.model_name_or_path "$MODEL" \
  --reward.remote_url "$REWARD_URL" \
  --data.prompt_dataset "$PROMPTS" --data.input_key input --data.label_key label --data.apply_chat_template \
  --actor.adam.lr 2e-6 --critic.adam.lr 1e-6 \
  --rollout.batch_size 8 --train.batch_size 8 --train.max_epochs 3 --train.num_episodes 1 \
  --train.micro_batch_size 1 --rollout.micro_batch_size 1 --data.max_len 4096 \
  --actor.num_nodes "$NODES" --actor.num_gpus_per_node "$GPUS" --ref.num_nodes "$NODES" \
  --ref.num_gpus_per_node "$GPUS" --critic.num_nodes "$NODES" --critic.num_gpus_per_node "$GPUS" \
  --vllm.num_engines "$((NODES * GPUS))" --vllm.tensor_parallel_size 1 --vllm.gpu_memory_utilization 0.5 \
  --train.colocate_all --vllm.enable_sleep --ds.enable_sleep \
  --ds.zero_stage 2 --ckpt.output_dir "$OUT" "$@"
