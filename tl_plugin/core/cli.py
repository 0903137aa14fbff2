"""The habits every console script shares: `--log-level` through the standard `logging` module, and progress bars
(tqdm) that stay quiet under `--quiet` and when stderr is not a terminal. Output meant for the user goes to stdout,
logs and bars to stderr."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
T = TypeVar("T")


def add_log_level(parser: argparse.ArgumentParser, default: str = "INFO") -> None:
    """Give `parser` the `--log-level` flag (case-insensitive)."""
    parser.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS, default=default, help=f"what to log (default {default})"
    )


def setup_logging(level: str) -> None:
    """One line per message on stderr: `LEVEL logger: message`."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


def progress(iterable: Iterable[T], desc: str, quiet: bool = False, total: int | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar over `iterable` on stderr: off under `quiet`, and when stderr is not a terminal."""
    disable = True if quiet else not sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, disable=disable, file=sys.stderr, **kwargs)
