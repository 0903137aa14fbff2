"""The habits every console script shares: `--log-level` through the standard `logging` module, one log line (never
a traceback) for a bad input, validated numbers, and progress bars (tqdm) that stay quiet under `--quiet` and when
stderr is not a terminal. What the user asked for goes to stdout; logs and bars go to stderr."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
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


def run(job: Callable[[], int | None], logger: str) -> int:
    """A console script's job, its exit status returned: a bad input (a file that is missing or unreadable, a value
    that does not parse) is one ERROR line and status 1; the traceback only under `--log-level DEBUG`."""
    try:
        return job() or 0
    except (OSError, ValueError, KeyError) as exc:
        log, line = logging.getLogger(logger), " ".join(str(exc).split())[:500] or type(exc).__name__
        log.error("%s", line, exc_info=log.isEnabledFor(logging.DEBUG))
        return 1


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {text}")
    return value


def progress(iterable: Iterable[T], desc: str, quiet: bool = False, total: int | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar over `iterable` on stderr: off under `quiet`, and when stderr is not a terminal."""
    disable = True if quiet else not sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, disable=disable, file=sys.stderr, **kwargs)
