"""Build time of ToolSFTDataset (MAE + PKT) against OpenRLHF's own SFTDataset (multiturn), same data, same run.

Data: 1,217 trajectories from `tl-data synth` (17% injected mistakes, python prompt format), the paper's training
set size. Tokenizer: the byte-level BPE of tests/helpers.py, trained in code. All datasets are built the same way:
from the same JSONL loaded in memory as OpenRLHF loads it (caching off: nothing to reuse), in one process, with the
chat template, multiturn; builds alternate and each is repeated, the best time kept. Target: ratio <= 1.25.
A third build, ToolSFTDataset with no transforms, shows what MAE and PKT themselves cost: ToolSFTDataset finds the
turns from one tokenization with offsets where SFTDataset re-tokenizes every prefix, which is most of the gap.

Second part, PKT's key offsets a call with 1,000 and 10,000 candidate names (synthetic names sharing prefixes, as
tool names do): `key_offsets` (bisection of the sorted names) against the scan of every candidate it replaced
(the baseline), with identical offsets asserted, and one bisection as the floor. Target: < 0.5 ms a call at 10,000.

    python -m benchmarks.sft_data [--n 1217] [--repeat 3]

(Run it as a module from the repository root: `python benchmarks/sft_data.py` would put benchmarks/ first on
sys.path, where a benchmark module could shadow a package of the same name.)
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import datasets
from openrlhf.datasets import SFTDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import key_offsets_by_scan, train_tokenizer  # noqa: E402

from tl_plugin.adapters.sft_dataset import ToolSFTDataset  # noqa: E402
from tl_plugin.core.weights import key_offsets  # noqa: E402
from tl_plugin.data.sources import write_jsonl  # noqa: E402
from tl_plugin.data.synth import synth  # noqa: E402


def ms_per_call(fn, names: list[str], calls: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for name in calls:
            fn(name, names)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(calls)


def pkt_offsets(repeat: int) -> None:
    rng = random.Random(0)
    verbs = ["get", "search", "list", "create", "update", "delete", "send", "convert", "book", "check"]
    nouns = ["weather", "flight", "hotel", "stock", "email", "currency", "user", "order", "file", "event"]
    print(f"{'candidate names':<18}{'floor ms':>10}{'scan ms':>10}{'bisect ms':>11}{'x floor':>9}{'scan/bisect':>13}")
    for n in (1_000, 10_000):
        names = sorted({f"{rng.choice(verbs)}_{rng.choice(nouns)}_{rng.choice(nouns)}_{i}" for i in range(n)})
        calls = rng.sample(names, 50) + [f"{rng.choice(verbs)}_{rng.choice(nouns)}" for _ in range(10)]
        assert all(key_offsets(name, names) == key_offsets_by_scan(name, names) for name in calls)
        floor = ms_per_call(lambda name, names: bisect.bisect_left(names, name), names, calls, repeat)
        scan = ms_per_call(key_offsets_by_scan, names, calls, repeat)
        ours = ms_per_call(key_offsets, names, calls, repeat)
        verdict = "met" if ours < 0.5 else "NOT met"
        print(f"{n:<18,}{floor:>10.4f}{scan:>10.3f}{ours:>11.4f}{ours / floor:>9.1f}{scan / ours:>13.0f}   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1217)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    datasets.disable_caching()  # every build maps afresh
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:  # loaded as OpenRLHF's blending_datasets loads a .jsonl
        write_jsonl(f"{tmp}/synth.jsonl", synth(args.n, 0.17, seed=0))
        data = datasets.load_dataset("json", data_files=f"{tmp}/synth.jsonl", split="train", keep_in_memory=True)
    tokenizer = train_tokenizer("bpe")
    options = SimpleNamespace(
        input_key="messages", output_key=None, apply_chat_template=True, tokenizer_chat_template=None
    )
    strategy = SimpleNamespace(args=SimpleNamespace(data=options))

    def build(cls, **extra):
        return lambda: cls(data, tokenizer, 4096, strategy, multiturn=True, num_processors=1, **extra)

    builds = {
        "vanilla SFTDataset (multiturn)": build(SFTDataset),
        "ToolSFTDataset (MAE+PKT)": build(ToolSFTDataset, transforms=[("mae", {}), ("pkt", {"wmax": 9.0})]),
        "ToolSFTDataset (no transforms)": build(ToolSFTDataset, transforms=[]),  # what MAE+PKT themselves cost
    }
    times = {name: [] for name in builds}
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits all alike
        for name, build in builds.items():
            start = time.perf_counter()
            dataset = build()
            times[name].append(time.perf_counter() - start)
            assert len(dataset) == args.n, f"{name} kept {len(dataset)} of {args.n} samples"
    best = {name: min(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:<32} best {best[name]:6.2f} s   median {statistics.median(t):6.2f} s   ({args.n} samples)")
    vanilla, ours, bare = best.values()
    print(
        f"ratio ToolSFTDataset (MAE+PKT) / vanilla: {ours / vanilla:.2f}x (target <= 1.25x); "
        f"MAE+PKT over no transforms: {ours / bare:.2f}x"
    )
    pkt_offsets(args.repeat)


if __name__ == "__main__":
    main()
