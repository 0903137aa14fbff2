"""`tl-eval`: evaluate a model on the paper's test sets (run), score saved outputs (score), lay runs side by side
(compare).

  tl-eval run --benchmark rotbench|bfcl|toolalpaca|tooleyes|builtin --model PATH_OR_URL --out DIR
              [--noise slight|medium|heavy|union|all] [--limit N] [--data FILE ...] [--prompt-format react]
  tl-eval score --benchmark rotbench|bfcl|toolalpaca --data FILE --predictions FILE [--per-item OUT.jsonl]
  tl-eval compare DIR [DIR ...]

run: single-turn benchmarks generate one answer per item (predictions-<level>.jsonl, appended as batches finish, so
an interrupted run resumes where it stopped); tooleyes and builtin run ToolUse-v0 episodes (builtin also its
single-turn first calls). Writes results.json, per_item.jsonl, report.md and chart.png. The official reading
decides every reported number; the tolerant reading is reported beside it, in its own table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tl_plugin.core.cli import positive_int
from tl_plugin.core.cli import run as one_line_errors
from tl_plugin.core.judge import READINGS
from tl_plugin.data.sources import read_records, write_jsonl
from tl_plugin.eval import report
from tl_plugin.eval.scoring import aggregate, score_items
from tl_plugin.eval.suites import BENCHMARKS, DEFAULT_FILES, SINGLE_TURN, Item, load, with_noise
from tool_server.noise import LEVELS

logger = logging.getLogger("tl_plugin.eval")
REPO = Path(__file__).resolve().parents[2]


def _items(benchmark: str, files: list[str], prompt_format: str, limit: int | None) -> list[Item]:
    items = []
    for path in files or [None]:
        loaded, read_report = load(benchmark, path, prompt_format)
        logger.info("%s: %s", path or benchmark, read_report)
        items += loaded[:limit]
    if not items:
        raise SystemExit(f"no {benchmark} items could be read from {files}")
    return items


def _generate(backend: Any, items: list[Item], path: Path, batch_size: int, quiet: bool = False) -> list[str]:
    """Predictions for the items, resumed from `path` (JSONL of {"id", "prediction"}) and appended to it."""
    done = {}
    if path.is_file():
        done = {r["id"]: r["prediction"] for r in read_records(path) if isinstance(r, dict) and "prediction" in r}
        logger.info("%s: resuming, %d of %d predictions already made", path.name, len(done), len(items))
    todo = [item for item in items if item.id not in done]
    with (
        open(path, "a", encoding="utf-8") as f,
        tqdm(total=len(todo), desc=path.stem, disable=quiet or not sys.stderr.isatty()) as bar,
    ):
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            texts = backend.generate([item.messages for item in batch], [item.tools for item in batch])
            for item, text in zip(batch, texts):
                done[item.id] = text
                f.write(json.dumps({"id": item.id, "prediction": text}, ensure_ascii=False) + "\n")
            f.flush()
            bar.update(len(batch))
    return [done[item.id] for item in items]


def _single_turn(args: argparse.Namespace, backend: Any, out: Path) -> dict[str, Any]:
    files = args.data or [str(Path(args.data_dir) / f) for f in DEFAULT_FILES.get(args.benchmark, [])]
    clean = _items(args.benchmark, files, args.prompt_format, args.limit)
    levels = ["clean"] + (
        [lv for lv in LEVELS if lv != "clean"] if args.noise == "all" else [args.noise] * bool(args.noise)
    )
    results, per_item = {}, []
    for level in levels:
        items = [with_noise(item, level) for item in clean]
        predictions = _generate(backend, items, out / f"predictions-{level}.jsonl", args.batch_size, args.quiet)
        scores = {reading: score_items(items, predictions, reading) for reading in READINGS}
        results[level] = {reading: aggregate(items, s) for reading, s in scores.items()}
        for n, (item, prediction) in enumerate(zip(items, predictions)):
            official, tolerant = (dict(scores[r][n]) for r in READINGS)
            per_item.append(
                {
                    "level": level,
                    "id": item.id,
                    "subset": item.subset,
                    "prediction": prediction,
                    **official,
                    "tolerant": {k: v for k, v in tolerant.items() if k != "index"},
                }
            )
    write_jsonl(out / "per_item.jsonl", per_item)
    return results


def _multi_turn(args: argparse.Namespace, backend: Any, out: Path) -> dict[str, Any]:
    from envs.builtin_tasks import builtin_tasks
    from envs.tasks import tooleyes_tasks
    from tl_plugin.eval.episodes import episode_metrics, run_episodes
    from tool_server import ToolServer, load_catalog

    if args.benchmark == "tooleyes":
        tasks = tooleyes_tasks(args.data_dir)
        server = ToolServer(load_catalog(Path(args.data_dir) / "tooleyes" / "catalog"))
    else:
        tasks, server = list(builtin_tasks()), None
    tasks = tasks[: args.limit]
    records = run_episodes(backend, tasks, args.prompt_format, batch_size=args.batch_size, server=server)
    write_jsonl(out / "episodes.jsonl", (asdict(r) for r in records))
    metrics = episode_metrics(records)
    by_scenario = defaultdict(list)
    for record in records:
        by_scenario[record.scenario].append(record)
    if len(by_scenario) > 1:
        metrics["scenarios"] = {name: episode_metrics(rs) for name, rs in sorted(by_scenario.items())}
    return metrics


def run(args: argparse.Namespace) -> int:
    from tl_plugin.eval.backends import load_backend
    from tl_plugin.eval.episodes import STOP

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backend = load_backend(
        args.model,
        args.prompt_format,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        stop=STOP.get(args.prompt_format, ()),
        engine=args.engine,
        quiet=args.quiet,
    )
    started = time.perf_counter()
    results: dict[str, Any] = {"benchmark": args.benchmark, "model": args.model, "prompt_format": args.prompt_format}
    if args.benchmark in SINGLE_TURN:
        results["single_turn"] = _single_turn(args, backend, out)
    if args.benchmark in ("tooleyes", "builtin"):
        results["multi_turn"] = _multi_turn(args, backend, out)
    results["seconds"] = round(time.perf_counter() - started, 1)
    report.write(results, out)
    print(report.markdown(results))
    print(f"wrote {out}/results.json, per_item.jsonl, report.md, chart.png")
    return 0


def score(args: argparse.Namespace) -> int:
    items, read_report = load(args.benchmark, args.data, "react")
    logger.info("%s: %s", args.data, read_report)
    if read_report.dropped:  # predictions align with the file's items: a dropped item would shift them all
        raise SystemExit(f"{args.data}: {read_report}; scoring needs every item readable")
    predictions = read_records(args.predictions)
    try:
        scores = score_items(items, predictions, args.reading)
    except ValueError as e:
        raise SystemExit(f"{args.predictions}: {e}") from None
    if args.per_item:
        write_jsonl(args.per_item, scores)
    for subset, result in aggregate(items, scores).items():
        print(f"{subset} ({args.reading} reading, {result['n']} items):")
        for name in report.SINGLE_METRICS:
            if name in result:
                print(f"  {name}: {result[name]:.2f}")
        for scenario, s in result.get("scenarios", {}).items():
            print(f"  {scenario}: " + "  ".join(f"{m} {s[m]:.2f}" for m in report.SINGLE_METRICS if m in s))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tl-eval", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("run", help="generate with a model and score")
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    p.add_argument("--model", required=True, help="a Hugging Face checkpoint directory or an OpenAI-compatible URL")
    p.add_argument("--out", required=True, help="the run directory")
    p.add_argument("--noise", choices=[lv for lv in LEVELS if lv != "clean"] + ["all"], help="documentation noise")
    p.add_argument("--limit", type=positive_int, help="the first N items of each file (N tasks for episodes)")
    p.add_argument("--data", nargs="*", default=[], help="benchmark files (default: the paper's, under --data-dir)")
    default_data = os.environ.get("TL_DATA_DIR", str(REPO.parent / "shared" / "data"))
    p.add_argument("--data-dir", default=default_data, help="the benchmark data (default ../shared/data, TL_DATA_DIR)")
    p.add_argument("--prompt-format", default="react", help="how the model's chat is laid out (tl_plugin.core.formats)")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--max-new-tokens", type=positive_int, default=256)
    p.add_argument("--engine", default="auto", choices=["auto", "hf", "vllm"])
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p = commands.add_parser("score", help="score saved model outputs, no model needed")
    p.add_argument("--benchmark", required=True, choices=["rotbench", "bfcl", "toolalpaca"])
    p.add_argument("--data", required=True, help="the benchmark file the predictions answer")
    p.add_argument("--predictions", required=True, help="a JSON list or JSONL of strings, one per item")
    p.add_argument("--per-item", help="write per-item scores here (JSONL)")
    p.add_argument("--reading", default="official", choices=READINGS)
    p = commands.add_parser("compare", help="runs side by side, each against the first")
    p.add_argument("runs", nargs="+", help="run directories of tl-eval run")
    p.add_argument("--level", default="clean", help="the noise level to compare")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "compare":
        try:
            print(report.compare([Path(r) for r in args.runs], args.level))
        except FileNotFoundError as e:
            raise SystemExit(str(e)) from None
        return 0
    # A missing or unreadable file is one ERROR line, not a traceback (that only under --log-level DEBUG).
    return one_line_errors(lambda: run(args) if args.command == "run" else score(args), "tl_plugin.eval")


if __name__ == "__main__":
    sys.exit(main())
