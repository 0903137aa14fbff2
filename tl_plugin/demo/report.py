"""What `tl-demo` writes: the ablation table laid out like the paper's Table 5, the learning curves, and the
sample-efficiency table (the steps each variant needs to reach standard SFT's final TS and CF).

`histories`: {variant: [one list of evaluations per seed]}, an evaluation being {"step", "TS", "PI", "CF", "DE",
"CE", "VA"} in percent; every seed of a variant is evaluated at the same steps.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from tl_plugin.eval.report import LOWER_IS_BETTER, table

METRICS = ("TS", "PI", "CF", "DE", "CE", "VA")
BASELINE = "SFT"
History = list[dict[str, float]]


def _mean_curve(runs: list[History]) -> History:
    """The seeds' evaluations averaged step by step (the metrics every seed has at that step)."""
    return [
        {"step": evals[0]["step"], **{m: statistics.fmean(e[m] for e in evals) for m in METRICS if m in evals[0]}}
        for evals in zip(*runs)
    ]


def _spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def ablation_table(histories: dict[str, list[History]]) -> str:
    """Final metrics per variant, mean ±std over seeds, each marked better (▲) or worse (▼) than standard SFT."""
    rows = {v: {m: statistics.fmean(run[-1][m] for run in runs) for m in METRICS} for v, runs in histories.items()}
    spread = {v: {m: _spread([run[-1][m] for run in runs]) for m in METRICS} for v, runs in histories.items()}
    return table(rows, baseline=BASELINE, spread=spread)


def steps_to_reach(curve: History, metric: str, target: float) -> int | None:
    """The first evaluated step at which the curve reaches `target` (None if it never does)."""
    better = (lambda v: v <= target) if metric in LOWER_IS_BETTER else (lambda v: v >= target)
    return next((e["step"] for e in curve if better(e[metric])), None)


def efficiency_table(histories: dict[str, list[History]], sft_steps: int) -> str:
    """Per variant: the steps to reach standard SFT's final TS and CF (seed means), and the paired difference in
    TS against standard SFT at half and three quarters of the SFT steps and at the end of training (mean ±std over
    seeds): a method that learns faster shows it mid-way, before the schedule's end brings SFT up too."""
    base = _mean_curve(histories[BASELINE])
    # the first evaluations at or after 1/2 and 3/4 of the SFT steps (one column when they coincide)
    marks = [min((e["step"] for e in base if e["step"] >= sft_steps * share), default=base[-1]["step"])
             for share in (0.5, 0.75)]  # fmt: skip
    marks = sorted(set(marks))
    lines = [
        f"| | steps to SFT's final TS ({base[-1]['TS']:.1f}) | steps to SFT's final CF ({base[-1]['CF']:.1f}) | "
        + "".join(f"ΔTS at step {step} | " for step in marks)
        + "ΔTS at the end |",
        "|---|---|---|" + "---|" * (len(marks) + 1),
    ]
    for variant, runs in histories.items():
        curve = _mean_curve(runs)
        reach = [steps_to_reach(curve, m, base[-1][m]) for m in ("TS", "CF")]
        deltas = []
        for step in [*marks, None]:
            paired = [_at(run, step)["TS"] - _at(sft, step)["TS"] for run, sft in zip(runs, histories[BASELINE])]
            deltas.append(f"{statistics.fmean(paired):+.1f} ±{_spread(paired):.1f}")
        cells = ["not reached" if r is None else str(r) for r in reach]
        lines.append(f"| {variant} | " + " | ".join(cells + deltas) + " |")
    return "\n".join(lines)


def _at(run: History, step: int | None) -> dict[str, float]:
    """The evaluation at `step`; the last one when `step` is None."""
    return run[-1] if step is None else next(e for e in run if e["step"] == step)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def efficiency_chart(histories: dict[str, list[History]], path: Path) -> None:
    """Bars: the steps each variant needs to reach standard SFT's final TS and CF (seed means); a variant that
    never does gets no bar."""
    plt = _pyplot()
    base = _mean_curve(histories[BASELINE])
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, metric in enumerate(("TS", "CF")):
        steps = [steps_to_reach(_mean_curve(runs), metric, base[-1][metric]) for runs in histories.values()]
        ax.bar([i + 0.4 * k for i in range(len(steps))], [s or 0 for s in steps], width=0.4, label=metric)
    ax.set_xticks([i + 0.2 for i in range(len(histories))], list(histories))
    ax.set_ylabel("steps to reach standard SFT's final value")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves(histories: dict[str, list[History]], path: Path) -> None:
    """One panel per metric, one line per variant (the seed mean), over training steps."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, metric in zip(axes.flat, METRICS):
        for variant, runs in histories.items():
            curve = [e for e in _mean_curve(runs) if metric in e]
            ax.plot([e["step"] for e in curve], [e[metric] for e in curve], marker="o", label=variant)
        ax.set_title(metric + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
        ax.set_xlabel("training step")
        ax.set_ylim(0, 100)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(histories: dict[str, list[History]], sft_steps: int, seeds: int, header: str) -> str:
    """The run's report: the ablation table and the sample-efficiency table."""
    return (
        f"# TL-Training ablation (the paper's Table 5, in small)\n\n{header}\n\n"
        f"## Held-out built-in tasks, after training (mean ±std over {seeds} seed(s))\n\n"
        "TS/PI/CF: the first call, single-turn; DE/CE/VA: whole ToolUse-v0 episodes, played at the end of training "
        "(DE, CE lower is better). "
        "▲/▼: better/worse than standard SFT.\n\n" + ablation_table(histories) + "\n\n"
        "## Sample efficiency\n\n" + efficiency_table(histories, sft_steps) + "\n"
    )
