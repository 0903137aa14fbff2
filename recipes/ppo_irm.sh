#!/usr/bin/env bash
# TL-Training's PPO stage on OpenRLHF with the IRM reward (Section 3.3): -2 unparseable or hallucinated tool,
# -1.5 wrong tool, -0.8/-0.5/-0.5 hallucinated/redundant/missing parameters (summed), -0.25 wrong value, +1 correct.
# OpenRLHF loads tl_plugin/adapters/reward.py by path; `TL_IRM_TABLE=table.json` changes the values for ablations.
# Needs a GPU machine with `pip install "tl-training[openrlhf]"` and a running Ray cluster (`ray start --head`).
#   MODEL=/path/to/sft-model bash recipes/ppo_irm.sh [extra OpenRLHF flags]
set -euo pipefail
MODEL=${MODEL:?set MODEL to the SFT model directory}
TL_DATA_DIR=${TL_DATA_DIR:-../shared/data}
PROMPTS=${PROMPTS:-runs/irm-prompts.jsonl}
OUT=${OUT:-runs/ppo-irm}
mkdir -p "$(dirname "$PROMPTS")"
[ -f "$PROMPTS" ] || tl-prompts "$PROMPTS" --rotbench "$TL_DATA_DIR/rotbench/first_turn_clean.json"

python -m openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path "$MODEL" --critic.model_name_or_path "$MODEL" \
  --reward.remote_url "$(tl-reward-path)" \
  --data.prompt_dataset "$PROMPTS" --data.input_key input --data.label_key label --data.apply_chat_template \
  --actor.adam.lr 2e-6 --critic.adam.lr 1e-6 \
  --rollout.batch_size 32 --train.batch_size 32 --train.micro_batch_size 2 --rollout.micro_batch_size 4 \
  --data.max_len 4096 --train.max_epochs 1 --train.num_episodes 1 \
  --ds.zero_stage 2 --ckpt.output_dir "$OUT" "$@"
