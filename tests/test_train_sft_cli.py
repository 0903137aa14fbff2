"""The SFT entry point: OpenRLHF's own parser on CPU plus --tl.*, and train() running with ToolSFTDataset."""

import importlib.util
import json
import re
import types

import pytest
from helpers import train_tokenizer
from openrlhf.datasets import SFTDataset

from tl_plugin.adapters.sft_dataset import ToolSFTDataset
from tl_plugin.adapters.train_sft import build_parser, main, parse_args

PAPER = (
    "--adam.lr 1e-6 --lr_scheduler cosine --lr_warmup_ratio 0.01 --train.batch_size 4 --train.max_epochs 1 "
    "--data.multiturn --data.apply_chat_template --data.input_key messages --tl.mae --tl.pkt --tl.pkt_wmax 9"
)


def test_paper_settings_parse_with_openrlhfs_parser():
    args = parse_args(PAPER.split())
    assert (args.adam.lr, args.lr_scheduler, args.lr_warmup_ratio) == (1e-6, "cosine", 0.01)
    assert (args.train.batch_size, args.train.max_epochs) == (4, 1)
    assert (args.tl.mae, args.tl.pkt, args.tl.pkt_wmax, args.tl.transform) == (True, True, 9.0, [])
    assert (args.ds.zero_stage, args.data.max_len, args.train.micro_batch_size) == (2, 2048, 8)  # OpenRLHF's defaults
    assert parse_args([]).tl.pkt_wmax == 9.0


def test_every_openrlhf_flag_is_accepted():
    """The parser is OpenRLHF's, built from its installed source: every flag that source declares is there."""
    source = open(importlib.util.find_spec("openrlhf.cli.train_sft").origin).read()
    declared = set(re.findall(r"add_argument\(\s*\"(--[\w.]+)\"", source))
    assert len(declared) > 70
    assert declared <= set(build_parser()._option_string_actions)


def test_bad_flags_are_rejected(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--adam.learning_rate", "1e-6"])
    assert "unrecognized arguments: --adam.learning_rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--tl.pkt"])
    assert "--data.multiturn --data.apply_chat_template" in capsys.readouterr().err


# A stand-in for openrlhf/cli/train_sft.py that builds its dataset the way OpenRLHF's train() does, from the
# module-level name SFTDataset and the same arguments: quick, and it can fail on cue. The real train() runs in
# tests/test_openrlhf_train_sft.py.
FAKE_TRAIN_MODULE = """
from types import SimpleNamespace
from openrlhf.datasets import SFTDataset
from openrlhf.datasets.utils import blending_datasets

def train(args):
    strategy = SimpleNamespace(args=args, print=lambda *a: None, is_rank_0=lambda: True)
    train_data = blending_datasets(args.data.dataset, args.data.dataset_probs, strategy, args.train.seed,
                                   max_count=args.data.max_samples, dataset_split=args.data.dataset_split)
    train_dataset = SFTDataset(train_data, TOKENIZER, args.data.max_len, strategy,
                               pretrain_mode=args.model.pretrain_mode_enable, input_template=args.data.input_template,
                               multiturn=args.data.multiturn)
    BUILT.append(train_dataset)
    if FAIL:
        raise RuntimeError("training failed")
"""


def fake_train_module(fail=False):
    module = types.ModuleType("fake_train_sft")
    module.TOKENIZER, module.BUILT, module.FAIL = train_tokenizer("bpe"), [], fail
    exec(FAKE_TRAIN_MODULE, module.__dict__)
    return module


def test_train_receives_tool_sft_dataset(tmp_path):
    sample = {
        "tools": [{"name": "get_weather_current"}, {"name": "get_weather_forecast"}],
        "messages": [
            {"role": "user", "content": "Rain in Paris tomorrow?"},
            {
                "role": "assistant",
                "content": "get_weather_forcast(city='Paris')",
                "tool_calls": [{"name": "get_weather_forcast", "arguments": {"city": "Paris"}}],
            },
            {"role": "tool", "content": "name 'get_weather_forcast' is not defined"},
            {
                "role": "assistant",
                "content": "get_weather_forecast(city='Paris')",
                "tool_calls": [{"name": "get_weather_forecast", "arguments": {"city": "Paris"}}],
            },
            {"role": "tool", "content": '{"rain": true}'},
            {"role": "assistant", "content": "Yes."},
        ],
    }
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(sample) + "\n")
    module = fake_train_module()
    main([*PAPER.split(), "--data.dataset", str(data)], train_module=module)

    (dataset,) = module.BUILT
    assert type(dataset) is ToolSFTDataset
    assert dataset.transforms == [("mae", {}), ("pkt", {"wmax": 9.0})]
    weights = set(dataset[0][2][0].tolist())
    assert 0.0 in weights and 1.0 in weights and max(weights) > 1.0
    assert module.SFTDataset is SFTDataset, "the swap ends with the call"

    failing = fake_train_module(fail=True)
    with pytest.raises(RuntimeError):
        main([*PAPER.split(), "--data.dataset", str(data)], train_module=failing)
    assert type(failing.BUILT[0]) is ToolSFTDataset and failing.SFTDataset is SFTDataset
