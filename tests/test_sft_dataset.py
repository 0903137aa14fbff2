"""ToolSFTDataset on the real OpenRLHF SFTDataset base class, with tokenizers of two families trained in the test.

The expected weights are worked out here from the tokenizer's own character offsets and hand-written key
characters, independently of tl_plugin.core.weights.
"""

import json

import datasets
import pytest
import torch
from helpers import sft_strategy, train_tokenizer
from openrlhf.datasets import SFTDataset

from tl_plugin.adapters.sft_dataset import ToolSFTDataset
from tl_plugin.core.weights import TRANSFORMS, register

NAMES = ["get_weather_current", "get_weather_forecast", "get_exchange_rate"]
TOOLS = [
    {"name": n, "description": "", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    for n in NAMES
]
WRONG = 'get_weather_forcast(city="Paris")'
RIGHT = 'get_weather_forecast(city="Paris")'
SAMPLE = {
    "tools": TOOLS,
    "messages": [
        {"role": "system", "content": "You can call get_weather_current, get_weather_forecast, get_exchange_rate."},
        {"role": "user", "content": "Will it rain in Paris tomorrow?"},
        {
            "role": "assistant",
            "content": WRONG,
            "tool_calls": [{"name": "get_weather_forcast", "arguments": {"city": "Paris"}}],
        },
        {"role": "tool", "content": "name 'get_weather_forcast' is not defined"},
        {
            "role": "assistant",
            "content": RIGHT,
            "tool_calls": [{"name": "get_weather_forecast", "arguments": {"city": "Paris"}}],
        },
        {"role": "tool", "content": '{"days": [{"rain": true}]}'},
        {"role": "assistant", "content": "Yes, it will rain in Paris tomorrow."},
    ],
}
# Key characters of the good call, by hand: the name's first character, where it leaves get_exchange_rate
# ("get_" shared: index 4) and get_weather_current ("get_weather_" shared: index 12).
KEY_CHARS = [0, 4, 12]
END_OF_TURN = "<|im_end|>\n"  # tests/helpers.py's template closes every message with it


def load(tmp_path, samples):
    """The samples as OpenRLHF's blending_datasets loads a .jsonl file."""
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))


def build(tmp_path, tokenizer, transforms, samples=(SAMPLE,), cls=ToolSFTDataset, max_length=1024):
    extra = {} if cls is SFTDataset else {"transforms": transforms}
    return cls(
        load(tmp_path, list(samples)), tokenizer, max_length, sft_strategy(), multiturn=True, num_processors=1, **extra
    )


def expected_weights(tokenizer, ids, mae=True, pkt=True, wmax=9.0):
    """Weight of each token of `ids` worked out from offsets: assistant turns are the tokens overlapping
    "content<|im_end|>\\n" of each assistant message; the wrong call's turn is 0 under MAE; under PKT the tokens
    holding the right call's KEY_CHARS get CLIP(|NK|/|K|, 1, wmax)."""
    text = tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m["content"]} for m in SAMPLE["messages"]], tokenize=False
    ).rstrip("\n")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert encoded["input_ids"] == ids, "the dataset tokenizes the rendered trajectory"
    offsets, weights, cursor = encoded["offset_mapping"], [0.0] * len(ids), 0
    for message in SAMPLE["messages"]:
        if message["role"] != "assistant":
            continue
        begin = text.index(message["content"], cursor)
        cursor = end = begin + len(message["content"] + END_OF_TURN)
        turn = [t for t, (s, e) in enumerate(offsets) if s < end and e > begin]
        keys = {next(t for t in turn if offsets[t][1] > begin + c) for c in KEY_CHARS}
        weight = 0.0 if mae and message["content"] == WRONG else 1.0
        for t in turn:
            weights[t] = weight
        if pkt and message["content"] == RIGHT:
            for t in keys:
                weights[t] = min(max((len(turn) - len(keys)) / len(keys), 1.0), wmax)
    return weights


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_weights_land_on_the_intended_tokens(tmp_path, kind):
    tokenizer = train_tokenizer(kind)
    dataset = build(tmp_path, tokenizer, [("mae", {}), ("pkt", {"wmax": 9.0})])
    assert isinstance(dataset, SFTDataset)
    input_ids, _, loss_mask = dataset[0]
    ids = input_ids[0].tolist()
    want = expected_weights(tokenizer, ids)
    # OpenRLHF's layout: the weight of token t sits at position t - 1; the last position predicts nothing.
    assert loss_mask.dtype == torch.float32
    assert loss_mask[0, :-1].tolist() == pytest.approx(want[1:])
    assert loss_mask[0, -1].item() == 0.0
    key_weight = max(want)
    assert key_weight > 1.0
    keys = [tokenizer.convert_ids_to_tokens(ids[t]) for t, w in enumerate(want) if w == key_weight]
    assert 2 <= len(keys) <= 3 and "".join(keys).lstrip("Ġ▁").startswith("g")


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_mae_alone_zeroes_only_the_erroneous_turn(tmp_path, kind):
    tokenizer = train_tokenizer(kind)
    input_ids, _, loss_mask = build(tmp_path, tokenizer, [("mae", {})])[0]
    want = expected_weights(tokenizer, input_ids[0].tolist(), mae=True, pkt=False)
    assert loss_mask[0, :-1].tolist() == want[1:]
    assert set(want) == {0.0, 1.0}
    without = build(tmp_path, tokenizer, [])[0][2]
    assert without.sum() > loss_mask.sum(), "the wrong call is trained on when MAE is off"


def test_without_transforms_the_mask_is_openrlhfs(tmp_path):
    """On byte-level BPE, OpenRLHF's prefix re-tokenization is exact, and so is ours: the positions the trainer
    uses (loss_mask[:, :-1]) are identical."""
    tokenizer = train_tokenizer("bpe")
    ours, vanilla = build(tmp_path, tokenizer, []), build(tmp_path, tokenizer, None, cls=SFTDataset)
    for (ids_a, att_a, mask_a), (ids_b, att_b, mask_b) in zip(ours, vanilla):
        assert torch.equal(ids_a, ids_b) and torch.equal(att_a, att_b)
        assert torch.equal(mask_a[:, :-1], mask_b[:, :-1])


def test_a_registered_transform_is_applied(tmp_path):
    @register("tests_first_token_x3")
    def first_token_x3(turn):
        turn.weights[0] *= 3.0

    try:
        tokenizer = train_tokenizer("bpe")
        _, _, mask = build(tmp_path, tokenizer, [("mae", {}), ("tests_first_token_x3", {})])[0]
        want = expected_weights(tokenizer, build(tmp_path, tokenizer, [])[0][0][0].tolist(), pkt=False)
        starts = [t for t in range(1, len(want)) if want[t] and not want[t - 1]]
        assert [mask[0, t - 1].item() for t in starts] == [3.0, 3.0]  # the two unmasked turns
    finally:
        del TRANSFORMS["tests_first_token_x3"]


def test_truncation_and_bad_setups(tmp_path):
    tokenizer = train_tokenizer("bpe")
    full = build(tmp_path, tokenizer, [("mae", {}), ("pkt", {})])[0][0].shape[1]
    ids, _, mask = build(tmp_path, tokenizer, [("mae", {}), ("pkt", {})], max_length=full - 5)[0]
    assert mask.shape == ids.shape and mask[0, -1] == 0
    with pytest.raises(ValueError, match="multiturn"):
        ToolSFTDataset(load(tmp_path, [SAMPLE]), tokenizer, 512, sft_strategy(), transforms=[], num_processors=1)
    with pytest.raises(ValueError, match="unknown loss-weight transform"):
        build(tmp_path, tokenizer, [("nope", {})])
