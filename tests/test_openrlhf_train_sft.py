"""OpenRLHF 0.11.2's own `openrlhf.cli.train_sft.train()` on CPU, through `python -m tl_plugin.adapters.train_sft`.

The real DeepspeedStrategy, Actor, SFTTrainer and SFTLoss train a tiny LLaMA for one optimizer step (CUDA-only spots
shimmed in tests/openrlhf_cpu.py). The loss is read from the trainer's own logged metrics (`gpt_loss`, the value of
the first step, before any update) and the gradient from the trainer's own backward. The expected losses are worked
out here: per-token nll of the checkpoint, computed with transformers on each sample alone, weighted by weights
derived by hand from the tokenizer's character offsets and the PKT definition (CLIP(|NK|/|K|, 1, wmax)).
"""

import json
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from helpers import free_port, tiny_checkpoint
from openrlhf_cpu import cpu_openrlhf
from transformers import LlamaForCausalLM

from tl_plugin.adapters.train_sft import main

TOOLS = [{"name": n} for n in ["get_weather_current", "get_weather_forecast", "get_exchange_rate"]]
SYSTEM = {"role": "system", "content": "You can call get_weather_current, get_weather_forecast, get_exchange_rate."}
WRONG, RIGHT, RATE = (
    'get_weather_forcast(city="Paris")',
    'get_weather_forecast(city="Paris")',
    'get_exchange_rate(base="EUR", target="JPY")',
)
SAMPLES = [
    {
        "tools": TOOLS,
        "messages": [
            SYSTEM,
            {"role": "user", "content": "Will it rain in Paris tomorrow?"},
            {"role": "assistant", "content": WRONG, "tool_calls": [{"name": "get_weather_forcast", "arguments": {}}]},
            {"role": "tool", "content": "name 'get_weather_forcast' is not defined"},
            {"role": "assistant", "content": RIGHT, "tool_calls": [{"name": "get_weather_forecast", "arguments": {}}]},
            {"role": "tool", "content": '{"rain": true}'},
            {"role": "assistant", "content": "Yes, it will rain in Paris tomorrow."},
        ],
    },
    {
        "tools": TOOLS,
        "messages": [
            SYSTEM,
            {"role": "user", "content": "How many yen for one euro?"},
            {"role": "assistant", "content": RATE, "tool_calls": [{"name": "get_exchange_rate", "arguments": {}}]},
            {"role": "tool", "content": '{"rate": 160}'},
            {"role": "assistant", "content": "One euro is 160 yen."},
        ],
    },
]
# PKT's key characters, by hand: the name's first character and where it stops sharing a prefix with another listed
# tool: "get_" (4) with get_exchange_rate / get_weather_*, "get_weather_" (12), "get_weather_for" (15).
KEY_CHARS = {WRONG: [0, 4, 12, 15], RIGHT: [0, 4, 12], RATE: [0, 4]}
END_OF_TURN = "<|im_end|>\n"  # tests/helpers.py's chat template closes every message with it


def token_weights(tokenizer, sample, mae=False, wmax=None):
    """(token ids, weight of each token) of a sample as rendered for training: 1 on the tokens of each assistant
    message's "content<|im_end|>\\n", 0 elsewhere; MAE: 0 on the wrong call's turn; PKT (wmax): the tokens holding
    a call's key characters get CLIP(|NK|/|K|, 1, wmax), K and NK counted over the call's turn."""
    messages = [{"role": m["role"], "content": m["content"]} for m in sample["messages"]]
    text = tokenizer.apply_chat_template(messages, tokenize=False).rstrip("\n")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets, cursor = encoded["offset_mapping"], 0
    weights = [0.0] * len(offsets)
    for message in (m for m in messages if m["role"] == "assistant"):
        begin = text.index(message["content"], cursor)
        cursor = end = begin + len(message["content"] + END_OF_TURN)
        turn = [t for t, (s, e) in enumerate(offsets) if s < end and e > begin]
        for t in turn:
            weights[t] = 0.0 if mae and message["content"] == WRONG else 1.0
        if wmax is not None and message["content"] in KEY_CHARS and weights[turn[0]]:
            keys = {next(t for t in turn if offsets[t][1] > begin + c) for c in KEY_CHARS[message["content"]]}
            for t in keys:
                weights[t] = min(max((len(turn) - len(keys)) / len(keys), 1.0), wmax)
    return encoded["input_ids"], weights


def expected_loss(model_dir, tokenizer, **options):
    """sum(w * nll) / sum(w) over both samples: each token's nll under the checkpoint as the trainer loads it
    (bf16, eager attention), each sample on its own."""
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, attn_implementation="eager")
    total = weight_sum = 0.0
    for sample in SAMPLES:
        ids, weights = token_weights(tokenizer, sample, **options)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
        nll = -torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
        total += float((nll * torch.tensor(weights[1:])).sum())
        weight_sum += sum(weights[1:])
    return total / weight_sum


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("openrlhf_sft")
    _, tokenizer = tiny_checkpoint(root / "model")
    data = root / "train.jsonl"
    data.write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    # One process group for all the runs of this module: DeepSpeed keeps its groups across initialize() calls.
    with cpu_openrlhf(free_port()):
        yield SimpleNamespace(root=root, tokenizer=tokenizer, model=str(root / "model"), data=str(data))


RUNS = {"plain": [], "pkt": ["--tl.pkt"], "pkt_wmax1": ["--tl.pkt", "--tl.pkt_wmax", "1"], "mae": ["--tl.mae"]}


def train(setup, name, flags):
    """One optimizer step of OpenRLHF's train() on both samples (batch 2, one micro-batch) through our entry point.
    Returns the step's logged `gpt_loss` (loss), the gradient of that loss wrt the model's logits (logits_grad) and
    the batch's input ids (inputs: the 2 samples in the order the sampler drew them, right-padded)."""
    argv = [
        *("--model.model_name_or_path", setup.model, "--data.dataset", setup.data, "--data.input_key", "messages"),
        *("--data.multiturn", "--data.apply_chat_template", "--ds.attn_implementation", "eager"),
        *("--ds.zero_stage", "0", "--train.batch_size", "2", "--train.micro_batch_size", "2"),
        *("--train.max_epochs", "1", "--adam.lr", "1e-6", "--lr_scheduler", "cosine", "--lr_warmup_ratio", "0.01"),
        *("--ckpt.output_dir", str(setup.root / name), *flags),
    ]
    seen = SimpleNamespace(logs=[], grads=[], inputs=[])

    def keep_logits_grad(module, args, kwargs, output):
        if isinstance(module, LlamaForCausalLM) and module.training:
            seen.inputs.append(args[0] if args else kwargs["input_ids"])
            output.logits.register_hook(seen.grads.append)

    from openrlhf.trainer.sft_trainer import SFTTrainer

    original = SFTTrainer.save_logs_and_checkpoints

    def keep_logs(trainer, args, global_step, step_bar, logs_dict=None, client_states=None):
        seen.logs.append(dict(logs_dict))
        return original(trainer, args, global_step, step_bar, logs_dict, client_states)

    hook = torch.nn.modules.module.register_module_forward_hook(keep_logits_grad, with_kwargs=True)
    try:
        with mock.patch.object(SFTTrainer, "save_logs_and_checkpoints", keep_logs):
            main(argv)
    finally:
        hook.remove()
    assert len(seen.logs) == len(seen.grads) == 1, "one optimizer step of one micro-batch"
    assert (setup.root / name / "model.safetensors").exists(), "train() ran to its end and saved the model"
    return SimpleNamespace(loss=seen.logs[0]["gpt_loss"], logits_grad=seen.grads[0], inputs=seen.inputs[0])


@pytest.fixture(scope="module")
def runs(setup):
    return {name: train(setup, name, flags) for name, flags in RUNS.items()}


def test_pkt_changes_the_first_loss_by_what_its_weights_predict(setup, runs):
    want_plain = expected_loss(setup.model, setup.tokenizer)
    want_pkt = expected_loss(setup.model, setup.tokenizer, wmax=9.0)
    assert abs(want_pkt - want_plain) > 0.05, "the samples must make PKT visible"
    assert runs["plain"].loss == pytest.approx(want_plain, abs=1e-4)
    assert runs["pkt"].loss == pytest.approx(want_pkt, abs=1e-4)


def test_pkt_with_wmax_1_is_plain_sft(runs):
    assert runs["pkt_wmax1"].loss == runs["plain"].loss
    assert torch.equal(runs["pkt_wmax1"].logits_grad, runs["plain"].logits_grad)


def test_mae_masked_tokens_get_no_gradient(setup, runs):
    assert runs["mae"].loss == pytest.approx(expected_loss(setup.model, setup.tokenizer, mae=True), abs=1e-4)
    # The logits at position t - 1 score token t: the rows of the wrong call's turn, and of the turns MAE keeps.
    ids, plain_weights = token_weights(setup.tokenizer, SAMPLES[0])
    _, mae_weights = token_weights(setup.tokenizer, SAMPLES[0], mae=True)
    masked = [t - 1 for t in range(1, len(ids)) if plain_weights[t] and not mae_weights[t]]
    kept = [t - 1 for t in range(1, len(ids)) if mae_weights[t]]
    assert len(masked) > 5 and len(kept) > 5

    def rows(run):
        (row,) = [r for r in range(len(run.inputs)) if run.inputs[r, : len(ids)].tolist() == ids]
        return run.logits_grad[row, masked], run.logits_grad[row, kept]

    plain_masked, plain_kept = rows(runs["plain"])
    mae_masked, mae_kept = rows(runs["mae"])
    assert plain_masked.abs().sum(-1).min() > 0, "plain SFT trains every token of the wrong call"
    assert mae_kept.abs().sum(-1).min() > 0 and plain_kept.abs().sum(-1).min() > 0
    assert torch.count_nonzero(mae_masked) == 0, "MAE: no gradient from the wrong call's tokens"
