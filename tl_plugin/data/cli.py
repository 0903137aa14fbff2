"""`tl-data`: the training-data tools.

tl-data convert SOURCE IN OUT [--prompt-format F] public data (openai, tooleyes, rotbench, sharegpt, paper) ->
                                                  trajectory JSONL; prints kept / masked / dropped with reasons
Exit codes: 0 done; 1 nothing kept (no output written); 2 the file, or a line of it, could not be read: each
problem is printed to stderr as FILE:LINE: what is wrong (the readable records are still converted and counted).
tl-data stats FILE [--png OUT.png]                share of calls per error category (the paper's Figure 1)
tl-data synth --out FILE [--n N] [--error-rate R] [--seed S] [--prompt-format F]
                                                  scripted-agent trajectories with injected mistakes
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tl_plugin.core.cli import add_log_level, positive_int, progress, run, setup_logging
from tl_plugin.core.formats import FORMATS
from tl_plugin.core.taxonomy import CATEGORIES, Category
from tl_plugin.core.trajectory import call_categories
from tl_plugin.data.converters import CONVERTERS
from tl_plugin.data.sources import FileProblem, Report, convert, read_records, write_jsonl


def category_counts(samples: Iterable[dict]) -> Counter:
    """Calls per category value over all tool calls of the samples (tl_plugin.core.trajectory)."""
    return Counter(category.value for sample in samples for *_, category in call_categories(sample))


def stats_table(counts: Counter) -> str:
    """The category table: calls and share of all calls, every category of the taxonomy, then DE / CE totals."""
    total = sum(counts.values()) or 1
    rows = [f"{'category':<26}{'calls':>8}{'share':>9}"]
    rows += [f"{c:<26}{counts[c]:>8}{counts[c] / total:>9.1%}" for c in CATEGORIES]
    de = sum(n for c, n in counts.items() if Category(c).is_documentation_error)
    ce = sum(n for c, n in counts.items() if Category(c).is_call_error)
    rows += [
        f"{label:<26}{n:>8}{n / total:>9.1%}"
        for label, n in [
            ("documentation errors (DE)", de),
            ("call errors (CE)", ce),
            ("all calls", sum(counts.values())),
        ]
    ]
    return "\n".join(rows)


def stats_png(counts: Counter, path: str | Path, title: str) -> None:
    """A bar chart of the share of calls per category (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    total = sum(counts.values()) or 1
    shares = [100 * counts[c] / total for c in CATEGORIES]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.barh(
        CATEGORIES[::-1], shares[::-1], color=["tab:green" if c == "ok" else "tab:red" for c in CATEGORIES[::-1]]
    )
    ax.bar_label(bars, labels=[f"{s:.1f}%" for s in shares[::-1]], padding=3)
    ax.set_xlabel("share of tool calls (%)")
    ax.set_xlim(0, max(shares + [1]) * 1.15)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def convert_file(source: str, path: str, output: str, prompt_format: str, quiet: bool = False) -> int:
    """`tl-data convert`: the report is always printed, the output written only when a record is kept; returns
    the exit code (see the module docstring). A progress bar shows on a terminal, unless `quiet`."""
    try:
        records = read_records(path)
    except FileProblem as e:
        print(f"{path} -> (nothing written): {Report()}")
        print(e, file=sys.stderr)
        return 2
    records = progress(records, f"convert {Path(path).name}", quiet, unit="record")
    samples, report = convert(records, CONVERTERS[source], prompt_format=prompt_format)
    if samples:
        write_jsonl(output, samples)
    print(f"{path} -> {output if samples else '(nothing written)'}: {report}")
    for line in report.invalid_lines:
        print(f"{path}:{line.line}: {line.problem}", file=sys.stderr)
    return 2 if report.invalid_lines else 0 if samples else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of `tl-data`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="tl-data", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)  # every command's habits
    add_log_level(common)
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("convert", help="public tool-use data -> internal JSONL", parents=[common])
    p.add_argument("source", choices=sorted(CONVERTERS))
    p.add_argument("input", help=".json (a list, or JSON Lines) or .jsonl file")
    p.add_argument("output", help="internal JSONL to write")
    p.add_argument(
        "--prompt-format",
        default="qwen",
        choices=[name for name, fmt in FORMATS.items() if fmt.layout is not None],
        help="the format openai/sharegpt structured calls are written in (and the openai tool list)",
    )
    p = sub.add_parser("stats", help="share of calls per error category (the paper's Figure 1)", parents=[common])
    p.add_argument("file", help="internal JSONL")
    p.add_argument("--png", help="also write the chart to this PNG")
    p = sub.add_parser("synth", help="scripted-agent trajectories with injected mistakes", parents=[common])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=positive_int, default=1217)
    p.add_argument("--error-rate", type=float, default=0.17)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt-format", default="python", choices=list(FORMATS))
    args = parser.parse_args(argv)
    if args.command == "synth" and not 0.0 <= args.error_rate < 0.5:
        parser.error("--error-rate must be in [0, 0.5): at most one mistake precedes each correct call")
    setup_logging(args.log_level)
    return run(lambda: _run(args), "tl_plugin.data")  # anything else unreadable: one ERROR line


def _run(args: argparse.Namespace) -> int:
    if args.command == "convert":
        return convert_file(args.source, args.input, args.output, args.prompt_format, args.quiet)
    if args.command == "stats":
        try:
            counts = category_counts(r for r in read_records(args.file) if isinstance(r, dict))
        except FileProblem as e:
            print(e, file=sys.stderr)
            return 2
        print(stats_table(counts))
        if args.png:
            stats_png(counts, args.png, f"Tool calls per category: {Path(args.file).name}")
            print(f"wrote {args.png}")
        return 0
    from tl_plugin.data.synth import synth  # needs the tool server and the env's tasks

    samples = synth(args.n, args.error_rate, args.seed, args.prompt_format, quiet=args.quiet)
    write_jsonl(args.out, samples)
    counts = category_counts(samples)
    errors = sum(n for c, n in counts.items() if Category(c).is_model_error)
    print(
        f"wrote {len(samples)} trajectories to {args.out}: {sum(counts.values())} calls, {errors} mistakes "
        f"({errors / max(sum(counts.values()), 1):.1%}): {dict(sorted(counts.items()))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
