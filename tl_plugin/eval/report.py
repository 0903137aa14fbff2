"""What `tl-eval` writes and prints: results.json, a markdown report laid out like the paper's tables, a PNG chart,
and `compare`, several runs side by side (the ablation table).

results.json: {"benchmark", "model", "prompt_format", "single_turn": {level: {reading: {subset: scores}}},
"multi_turn": {"DE", "CE", "VA", "success"?, ...} or absent}. Levels are the noise levels run ("clean" without
--noise). Scores are percentages (tl_plugin.eval.scoring.aggregate).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SINGLE_METRICS = ("TS", "PI", "CF", "accuracy")
MULTI_METRICS = ("DE", "CE", "VA", "success")
LOWER_IS_BETTER = {"DE", "CE"}  # error rates; every other metric is better higher


def columns(results: dict[str, Any], level: str = "clean", reading: str = "official") -> dict[str, float]:
    """One run's numbers as flat columns: "subset TS", ... and the multi-turn "DE", ...; missing parts skipped."""
    flat = {}
    for subset, scores in results.get("single_turn", {}).get(level, {}).get(reading, {}).items():
        flat.update({f"{subset} {m}": scores[m] for m in SINGLE_METRICS if m in scores})
    flat.update({m: results["multi_turn"][m] for m in MULTI_METRICS if m in results.get("multi_turn", {})})
    return flat


def table(
    rows: dict[str, dict[str, float]],
    baseline: str | None = None,
    spread: dict[str, dict[str, float]] | None = None,
) -> str:
    """A markdown table, one row per name; with a baseline row, others are marked better (▲) or worse (▼); with
    `spread` (same keys), each value is followed by ±spread."""
    heads = list(dict.fromkeys(key for row in rows.values() for key in row))
    lines = ["| | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for name, row in rows.items():
        cells = []
        for head in heads:
            value = row.get(head)
            mark = ""
            if baseline and name != baseline and value is not None and rows[baseline].get(head) is not None:
                delta = value - rows[baseline][head]
                delta = -delta if head.split()[-1] in LOWER_IS_BETTER else delta
                mark = " ▲" if delta > 0 else " ▼" if delta < 0 else ""
            pm = (spread or {}).get(name, {}).get(head)
            cells.append("" if value is None else f"{value:.2f}" + ("" if pm is None else f" ±{pm:.1f}") + mark)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The run's report: single-turn scores per subset (Table 3's layout: TS/PI/CF, BFCL AST accuracy), the tolerant
    reading in its own table, per-scenario breakdowns, the noise levels (Figure 4's data) and multi-turn (Table 4)."""
    model = results.get("model", "model")
    parts = [f"# tl-eval: {results['benchmark']} · {model} · prompt format {results.get('prompt_format')}"]
    single = results.get("single_turn", {})
    if "clean" in single:
        parts.append("## Single-turn (official scorers)\n\n" + table({model: columns(results)}))
        if "tolerant" in single["clean"]:
            parts.append("## Single-turn, tolerant reading (ours, not comparable with the official numbers)\n\n")
            parts[-1] += table({model: columns(results, reading="tolerant")})
        for subset, scores in single["clean"]["official"].items():
            if "scenarios" in scores:
                rows = {name: _metrics(s) for name, s in scores["scenarios"].items()}
                parts.append(f"### {subset} by scenario\n\n" + table(rows))
    if len(single) > 1:
        rows = {level: columns({"single_turn": single}, level) for level in single}
        parts.append("## Documentation noise (RoTBench levels)\n\n" + table(rows, baseline="clean"))
    if "multi_turn" in results:
        multi = results["multi_turn"]
        parts.append("## Multi-turn in ToolUse-v0 (DE, CE: % of calls; VA, success: % of episodes)\n\n")
        parts[-1] += table({model: {m: multi[m] for m in MULTI_METRICS if m in multi}})
        if multi.get("scenarios"):
            rows = {name: {m: s[m] for m in MULTI_METRICS if m in s} for name, s in multi["scenarios"].items()}
            parts.append("### Multi-turn by scenario\n\n" + table(rows))
    return "\n\n".join(parts) + "\n"


def _metrics(scores: dict[str, Any]) -> dict[str, float]:
    return {m: scores[m] for m in SINGLE_METRICS if m in scores}


def chart(results: dict[str, Any], path: Path) -> None:
    """Bars of the official single-turn metrics per subset, and lines over the noise levels when several ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = results.get("single_turn", {})
    levels = list(single)
    flat = columns(results, levels[0]) if levels else columns(results)
    fig, axes = plt.subplots(1, 2 if len(levels) > 1 else 1, figsize=(12 if len(levels) > 1 else 7, 4), squeeze=False)
    names = list(flat)
    axes[0][0].barh(names, [flat[n] for n in names])
    axes[0][0].set_xlim(0, 100)
    axes[0][0].set_xlabel("%")
    axes[0][0].set_title(f"{results['benchmark']} ({levels[0] if levels else 'multi-turn'})")
    if len(levels) > 1:
        for name in names:
            if name.split()[-1] in SINGLE_METRICS:
                axes[0][1].plot(levels, [columns(results, level).get(name) for level in levels], marker="o", label=name)
        axes[0][1].set_ylim(0, 100)
        axes[0][1].set_title("under documentation noise")
        axes[0][1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> None:
    """results.json, report.md and chart.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(results), encoding="utf-8")
    chart(results, out / "chart.png")


def compare(run_dirs: list[Path], level: str = "clean") -> str:
    """The runs' official numbers side by side, each marked against the first run (the baseline)."""
    rows = {}
    for run in run_dirs:
        path = Path(run) / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not a tl-eval run directory (no results.json)")
        rows[Path(run).name] = columns(json.loads(path.read_text(encoding="utf-8")), level)
    return table(rows, baseline=next(iter(rows)))
