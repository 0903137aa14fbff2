"""tl-demo: the whole ablation at a smoke size, its pieces against outside oracles, and its tables by hand."""

from __future__ import annotations

import json
import math

import pytest
import torch
from openrlhf_cpu import flash_attn_stubbed

from tl_plugin.core.formats import FORMATS
from tl_plugin.demo import cli, data, report
from tl_plugin.demo.train import irm_rewards, weighted_nll

MESSAGES = [
    {"role": "system", "content": "def f(x: int): F."},
    {"role": "user", "content": "Call f."},
    {"role": "assistant", "content": "f(x=1)"},
    {"role": "tool", "content": '{"y": 2}'},
    {"role": "assistant", "content": "finish(answer='2')"},
]


@pytest.mark.parametrize("name", [n for n, f in FORMATS.items() if f.layout is not None])
def test_chat_template_writes_the_format_layout(name):
    """The tokenizer's template and the env's layout must give the same text, or SFT trains on other text than
    the env shows at evaluation."""
    tokenizer = data.train_tokenizer(["f(x=1) finish answer"], 300)
    tokenizer.chat_template = data.chat_template(name)
    fmt = FORMATS[name]
    assert tokenizer.apply_chat_template(MESSAGES, tokenize=False) == fmt.render(MESSAGES, add_generation_prompt=False)
    assert tokenizer.apply_chat_template(MESSAGES[:2], tokenize=False, add_generation_prompt=True) == fmt.render(
        MESSAGES[:2]
    )


def test_python_brief_generation_prompt_ends_on_a_token_boundary():
    """The first token of a call is the same whether the text goes on or the prompt ends (no lone space)."""
    text = FORMATS["python_brief"].render(MESSAGES[:3], add_generation_prompt=False)
    tokenizer = data.train_tokenizer([text] * 20, 300)
    prompt = FORMATS["python_brief"].render(MESSAGES[:2])
    whole, head = tokenizer(text)["input_ids"], tokenizer(prompt)["input_ids"]
    assert whole[: len(head)] == head


def test_weighted_nll_is_openrlhf_sft_loss():
    """OpenRLHF's own SFTLoss (token level) on the same log-probs and float mask, and a value worked by hand."""
    with flash_attn_stubbed():
        from openrlhf.models.loss import SFTLoss
    torch.manual_seed(0)
    logits, ids = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))
    mask = torch.tensor([[0, 1, 9, 0, 0], [1, 1, 0, 0.5, 0]])
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    assert torch.allclose(weighted_nll(logits, ids, mask), SFTLoss()(logp, mask[:, :-1]))
    by_hand = -(logp[0, 1] + 9 * logp[0, 2] + logp[1, 0] + logp[1, 1] + 0.5 * logp[1, 3]) / 12.5
    assert math.isclose(weighted_nll(logits, ids, mask).item(), by_hand.item(), rel_tol=1e-5)


def test_irm_rewards_are_the_paper_values_on_a_builtin_label():
    train, _ = data.split_tasks(0, 0.3)
    task = next(t for t in train if t.gold_calls[0]["name"] == "get_weather_current" and len(t.gold_calls) == 1)
    row = data.rl_prompts([task])[0]
    city = task.gold_calls[0]["arguments"]["city"]
    completions = [
        f"get_weather_current(city='{city}')\nOutput: whatever the model goes on to write",
        f"get_weather_forecast(city='{city}')\n",
        "get_weather_now()\n",
        "not a call at all",
    ]
    rewards = irm_rewards([row["prompt"]] * 4, completions, [row["label"]] * 4)
    assert rewards[0] == 1.0 if task.gold_calls[0]["arguments"] == {"city": city} else rewards[0] < 1.0
    assert rewards[1:] == [-1.5, -2.0, -2.0]  # wrong tool, hallucinated tool, unparseable (the paper's table)


def test_split_keeps_scenarios_and_is_seeded():
    train, test = data.split_tasks(3, 0.3)
    assert not {t.id for t in train} & {t.id for t in test}
    assert {t.scenario for t in test} == {"single", "multi"}
    assert [t.id for t in data.split_tasks(3, 0.3)[1]] == [t.id for t in test]
    assert [t.id for t in data.split_tasks(4, 0.3)[1]] != [t.id for t in test]


def _history(values):
    return [{"step": s, **dict.fromkeys(report.METRICS, 0.0), **v} for s, v in values]


def test_efficiency_and_ablation_tables_by_hand():
    sft = _history([(0, {}), (10, {"TS": 20, "CF": 5}), (20, {"TS": 40, "CF": 10, "DE": 30})])
    pkt = _history([(0, {}), (10, {"TS": 50, "CF": 4}), (20, {"TS": 60, "CF": 12, "DE": 20})])
    histories = {"SFT": [sft], "+PKT": [pkt]}
    assert report.steps_to_reach(report._mean_curve([pkt]), "TS", 40) == 10
    assert report.steps_to_reach(report._mean_curve([pkt]), "CF", 10) == 20
    assert report.steps_to_reach(report._mean_curve([sft]), "TS", 41) is None
    assert report.steps_to_reach(report._mean_curve([pkt]), "DE", 25) == 0  # lower is better: step 0 has no calls
    rows = report.efficiency_table(histories, 20).splitlines()
    header = "| | steps to SFT's final TS (40.0) | steps to SFT's final CF (10.0) | ΔTS at step 10 | ΔTS at step 20 |"
    assert rows[0] == header + " ΔTS at the end |"
    assert rows[2] == "| SFT | 20 | 20 | +0.0 ±0.0 | +0.0 ±0.0 | +0.0 ±0.0 |"
    assert rows[3] == "| +PKT | 10 | 20 | +30.0 ±0.0 | +20.0 ±0.0 | +20.0 ±0.0 |"
    ablation = report.ablation_table(histories)
    assert "| +PKT | 60.00 ±0.0 ▲ |" in ablation and "20.00 ±0.0 ▲" in ablation  # DE lower: better


def test_demo_runs_end_to_end_at_the_smoke_size(tmp_path, capsys):
    assert cli.main(["--size", "tiny", "--out", str(tmp_path), "--quiet", "--log-level", "WARNING"]) == 0
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["histories"]) == set(cli.VARIANTS)
    tiny = data.CONFIGS["tiny"]
    for variant, (_, with_irm) in cli.VARIANTS.items():
        (run,) = results["histories"][variant]
        steps = [e["step"] for e in run]
        sft_steps = list(range(tiny.eval_every, tiny.sft_steps + 1, tiny.eval_every))
        rl_steps = list(range(tiny.sft_steps + tiny.eval_every, tiny.sft_steps + tiny.rl_steps + 1, tiny.eval_every))
        assert steps == sft_steps + (rl_steps if with_irm else [])
        assert all(0 <= e[m] <= 100 for e in run for m in ("TS", "PI", "CF"))
        assert all(0 <= run[-1][m] <= 100 for m in report.METRICS)  # episodes at the end
        assert (tmp_path / "seed-0" / variant.strip("+").replace("+", "_").lower() / "model").is_dir()
    assert "| +MAE+PKT |" in printed and "Sample efficiency" in printed and "documentation errors" in printed
    assert (tmp_path / "curves.png").stat().st_size > 0 and (tmp_path / "efficiency.png").stat().st_size > 0
    assert (tmp_path / "report.md").read_text().startswith("# TL-Training ablation")
    # the trajectories carry the share of erroneous calls asked for, as the env reported them
    samples = [json.loads(line) for line in (tmp_path / "seed-0" / "sft.jsonl").read_text().splitlines()]
    assert len(samples) == tiny.trajectories and any(s["injected"] for s in samples)


def test_cli_rejects_bad_arguments(tmp_path):
    bad_arguments = (["--seeds", "0"], ["--wmax", "0.5"], ["--wmax", "0"], ["--sft-steps", "0"], ["--first-seed", "-1"])
    for bad in bad_arguments:
        with pytest.raises(SystemExit):
            cli.main(["--out", str(tmp_path), *bad])
