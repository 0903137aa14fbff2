#!/usr/bin/env bash
# TL-Training's SFT stage on OpenRLHF: MAE (erroneous tool-call turns get weight 0) and PKT (key tokens of tool
# names weighted by CLIP(|NK|/|K|, 1, 9)), with the paper's settings: lr 1e-6 cosine, warmup 0.01, batch 4, 1 epoch.
# Needs 1, 2 or 4 GPUs on one machine (GPUS, default 4: the global batch of 4 splits evenly over them) and
# `pip install "tl-training[openrlhf]"`. See recipes/README.md.
#   MODEL=/path/to/hf-model [GPUS=4] bash recipes/sft_mae_pkt.sh [extra OpenRLHF flags]
# DATA defaults to 1,217 synthetic trajectories (17% erroneous calls, each followed by a correct retry).
set -euo pipefail
MODEL=${MODEL:?set MODEL to a local Hugging Face model directory}
GPUS=${GPUS:-4}
DATA=${DATA:-runs/synth.jsonl}
OUT=${OUT:-runs/sft-tl}
mkdir -p "$(dirname "$DATA")"
[ -f "$DATA" ] || tl-data synth --out "$DATA" --n 1217 --error-rate 0.17 --seed 0
tl-data stats "$DATA" --png "${DATA%.jsonl}-stats.png"

deepspeed --num_gpus "$GPUS" --module tl_plugin.adapters.train_sft \
  --model.model_name_or_path "$MODEL" \
  --data.dataset "$DATA" --data.input_key messages --data.multiturn --data.apply_chat_template --data.max_len 4096 \
  --adam.lr 1e-6 --lr_scheduler cosine --lr_warmup_ratio 0.01 \
  --train.batch_size 4 --train.micro_batch_size 1 --train.max_epochs 1 \
  --ds.zero_stage 2 --ckpt.output_dir "$OUT" \
  --tl.mae --tl.pkt --tl.pkt_wmax 9 "$@"
