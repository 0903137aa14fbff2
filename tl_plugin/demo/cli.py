"""`tl-demo`: TL-Training shown working end to end, the paper's ablation (Table 5) in small.

  tl-demo [--out runs/demo] [--seeds N] [--first-seed S] [--size cpu|gpu|tiny] [--wmax W] [--sft-steps N] [--quiet]

Per seed: the built-in tasks split into training and held-out ones; synthetic trajectories of the training tasks
from scripted agents in ToolUse-v0 (17% erroneous calls, each followed by the env's feedback and a correct retry);
a BPE tokenizer trained on them and a tiny LLaMA from a config; then six variants from the same initial weights:
standard SFT, +MAE, +PKT, +MAE+PKT (SFT through ToolSFTDataset's weights), +IRM and +All (GRPO on the IRM
reward after SFT and after MAE+PKT SFT). Each is evaluated on the held-out tasks every `eval_every` steps.
Writes under --out: results.json, report.md (the ablation and sample-efficiency tables), curves.png,
efficiency.png (steps to standard SFT's final TS and CF), and per seed the trajectories (sft.jsonl), the
tokenizer and every variant's final model.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from tqdm import tqdm

from tl_plugin.core.formats import get_format
from tl_plugin.data.cli import category_counts, stats_table
from tl_plugin.data.sources import write_jsonl
from tl_plugin.data.synth import synth
from tl_plugin.demo import data, report
from tl_plugin.eval.suites import load

logger = logging.getLogger("tl_plugin.demo")
ERROR_RATE = 0.17  # the paper's share of erroneous calls in RoTLLaMA's training data (its Figure 1)
# variant: (loss-weight transforms, then GRPO on the IRM reward?). An RL variant starts from the SFT variant
# with the same transforms, so +IRM is SFT followed by IRM and +All is MAE+PKT followed by IRM.
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "SFT": ((), False),
    "+MAE": (("mae",), False),
    "+PKT": (("pkt",), False),
    "+MAE+PKT": (("mae", "pkt"), False),
    "+IRM": ((), True),
    "+All": (("mae", "pkt"), True),
}


def run_seed(seed: int, config: data.Config, out: Path, bar: tqdm, progress: bool = True) -> dict[str, list[dict]]:
    """Every variant for one seed; returns {variant: its evaluations}."""
    from tl_plugin.demo.train import evaluator, train_irm, train_sft

    train_tasks, test_tasks = data.split_tasks(seed, config.held_out)
    samples = synth(config.trajectories, ERROR_RATE, seed, data.FORMAT, train_tasks)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "sft.jsonl", samples)
    logger.info("seed %d: %d training tasks, %d held out; %d trajectories", seed, len(train_tasks),
                len(test_tasks), len(samples))  # fmt: skip
    print(f"seed {seed}: tool calls of the training trajectories per category (the paper's Figure 1)")
    print(stats_table(category_counts(samples)))
    texts = [get_format(data.FORMAT).render(s["messages"], add_generation_prompt=False) for s in samples]
    tokenizer = data.train_tokenizer(texts, config.vocab)
    tokenizer.save_pretrained(out / "tokenizer")
    held_out = {task.id for task in test_tasks}
    items = [item for item in load("builtin", prompt_format=data.FORMAT)[0] if item.id in held_out]
    every = -(-len(test_tasks) // (config.episode_tasks or len(test_tasks)))  # spread over the scenarios
    evaluate = evaluator(tokenizer, items, test_tasks[::every], config)
    initial = data.tiny_model(tokenizer, config, seed)
    prompts = data.rl_prompts(train_tasks)
    histories, trained = {}, {}
    for variant, (names, with_irm) in VARIANTS.items():
        bar.set_postfix_str(f"seed {seed} {variant}")
        where = out / variant.strip("+").replace("+", "_").lower()
        if not with_irm:
            model = copy.deepcopy(initial)
            transforms = [(name, {"wmax": config.wmax} if name == "pkt" else {}) for name in names]
            dataset = data.sft_dataset(out / "sft.jsonl", tokenizer, transforms, config.max_length)
            history = train_sft(model, dataset, config, where, seed, evaluate, progress)
            trained[names] = (model, history)
        else:
            sft_model, sft_history = trained[names]
            model = copy.deepcopy(sft_model)
            history = sft_history + train_irm(model, tokenizer, prompts, config, where, seed, evaluate, progress)
        model.save_pretrained(where / "model")
        histories[variant] = history
        logger.info("seed %d %s: %s", seed, variant, history[-1])
        bar.update()
    return histories


def main(argv: list[str] | None = None) -> int:
    import torch

    p = argparse.ArgumentParser(
        prog="tl-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    p.add_argument("--size", choices=sorted(data.CONFIGS), default="gpu" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seeds", type=int, default=None, help="seeds to run (default: 1 on cpu, 3 on gpu)")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0): --seeds N runs N from it")
    p.add_argument("--wmax", type=float, default=None, help="PKT's weight cap (default: the size's; the paper's is 9)")
    p.add_argument("--sft-steps", type=int, default=None, help="override the size's SFT steps")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = p.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (3 if args.size == "gpu" else 1)
    too_small = (args.wmax is not None and args.wmax < 1) or (args.sft_steps is not None and args.sft_steps < 1)
    if seeds < 1 or args.first_seed < 0 or too_small:
        p.error("--seeds and --sft-steps must be positive, --first-seed at least 0 and --wmax at least 1")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = data.CONFIGS[args.size]
    config = config if args.sft_steps is None else replace(config, sft_steps=args.sft_steps)
    config = config if args.wmax is None else replace(config, wmax=args.wmax)
    out = Path(args.out)
    run_seeds = list(range(args.first_seed, args.first_seed + seeds))
    started = time.perf_counter()
    histories: dict[str, list] = {variant: [] for variant in VARIANTS}
    quiet = args.quiet or not sys.stderr.isatty()
    with tqdm(total=seeds * len(VARIANTS), desc="tl-demo", unit="variant", disable=quiet) as bar:
        for seed in run_seeds:
            for variant, history in run_seed(seed, config, out / f"seed-{seed}", bar, not quiet).items():
                histories[variant].append(history)
    seconds = time.perf_counter() - started
    header = (
        f"{seeds} seed(s) ({', '.join(map(str, run_seeds))}), size {args.size} ({config.hidden}x{config.layers} "
        f"LLaMA, {config.sft_steps} SFT steps, {config.rl_steps} GRPO steps), PKT wmax {config.wmax}, "
        f"{seconds / 60:.1f} min."
    )
    text = report.markdown(histories, config.sft_steps, seeds, header)
    results = {"config": asdict(config), "seeds": seeds, "first_seed": args.first_seed, "wmax": config.wmax,
               "seconds": round(seconds, 1), "histories": histories}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (out / "report.md").write_text(text, encoding="utf-8")
    report.curves(histories, out / "curves.png")
    report.efficiency_chart(histories, out / "efficiency.png")
    print(text)
    print(f"wrote {out}/results.json, report.md, curves.png, efficiency.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
