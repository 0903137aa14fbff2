"""`python -m tl_plugin.adapters.train_sft`: OpenRLHF's SFT training with TL-Training's MAE and PKT loss weights.

Takes every flag of `python -m openrlhf.cli.train_sft` (its own parser, see tl_plugin.adapters.openrlhf_cli) plus
  --tl.mae            give erroneous tool-call turns weight 0 (they stay in the context)
  --tl.pkt            weigh the key tokens of tool names by CLIP(|NK|/|K|, 1, wmax)
  --tl.pkt_wmax W     PKT's wmax (default 9)
  --tl.transform NAME a transform of tl_plugin.core.weights' registry (repeatable; register yours before main())
The data are internal trajectories (tl_plugin.data.converters): pass --data.input_key messages --data.multiturn
--data.apply_chat_template. Example, the paper's settings:
  python -m tl_plugin.adapters.train_sft --model.model_name_or_path MODEL --data.dataset data.jsonl \\
    --data.input_key messages --data.multiturn --data.apply_chat_template --adam.lr 1e-6 \\
    --lr_scheduler cosine --lr_warmup_ratio 0.01 --train.batch_size 4 --train.max_epochs 1 --tl.mae --tl.pkt
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from tl_plugin.adapters.openrlhf_cli import openrlhf_finish_args, openrlhf_parser
from tl_plugin.adapters.sft_dataset import ToolSFTDataset

OPENRLHF_SFT = "openrlhf.cli.train_sft"


def build_parser() -> argparse.ArgumentParser:
    """OpenRLHF's SFT parser with the --tl.* flags added."""
    parser = openrlhf_parser(OPENRLHF_SFT)
    parser.prog = "python -m tl_plugin.adapters.train_sft"
    group = parser.add_argument_group("TL-Training loss weights")
    group.add_argument("--tl.mae", action="store_true", default=False, help="weight 0 on erroneous tool-call turns")
    group.add_argument("--tl.pkt", action="store_true", default=False, help="up-weight key tokens of tool names")
    group.add_argument("--tl.pkt_wmax", type=float, default=9.0, help="PKT's largest key-token weight")
    group.add_argument("--tl.transform", action="append", default=[], help="extra registered transform (repeatable)")
    return parser


def parse_args(argv: list[str] | None = None) -> Any:
    """Parse and finish the args as OpenRLHF's own main block does (hierarchized: args.tl.mae, args.adam.lr)."""
    parser = build_parser()
    args = openrlhf_finish_args(OPENRLHF_SFT, parser.parse_args(argv))
    uses_weights = args.tl.mae or args.tl.pkt or args.tl.transform
    if uses_weights and not (args.data.multiturn and args.data.apply_chat_template):
        parser.error("--tl.* weights need whole trajectories: add --data.multiturn --data.apply_chat_template")
    return args


def main(argv: list[str] | None = None, train_module: ModuleType | None = None) -> None:
    """Run OpenRLHF's own `train(args)` with ToolSFTDataset in place of SFTDataset.

    train_module: the module whose `train` runs (default openrlhf.cli.train_sft, which needs the GPU stack).
    OpenRLHF has no hook to choose the dataset class: its train() builds `SFTDataset(...)` from the module-level
    name (for the train and the eval data alike). So that one name is swapped for the duration of the call, and
    restored afterwards; nothing else of OpenRLHF changes."""
    args = parse_args(argv)
    module = train_module or importlib.import_module(OPENRLHF_SFT)
    original = module.SFTDataset
    module.SFTDataset = ToolSFTDataset
    try:
        module.train(args)
    finally:
        module.SFTDataset = original


if __name__ == "__main__":
    main()
