"""`tl-tool-server` (also `python -m tool_server`): serve a catalog over HTTP with uvicorn, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    """Parse the flags (a bad one exits with status 2 and the usage), then serve until interrupted."""
    parser = argparse.ArgumentParser(prog="tl-tool-server", description=__doc__)
    parser.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: loopback only)")
    parser.add_argument(
        "--catalog", type=Path, help="JSON file or directory of OpenAI tool schemas (default: built-in)"
    )
    parser.add_argument("--fault-rate", type=_rate, default=0.0, help="rate of injected tool_instability, 0 to 1")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-call timeout in seconds (default 5)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--record", type=Path, help="append every answer to this JSONL cache")
    cache.add_argument("--replay", type=Path, help="answer from this JSONL cache (written by --record)")
    args = parser.parse_args(argv)
    if args.catalog is not None and not args.catalog.exists():
        parser.error(f"--catalog: {args.catalog} does not exist")
    if args.replay is not None and not args.replay.is_file():
        parser.error(f"--replay: {args.replay} is not a file")

    import uvicorn  # after parsing: `--help` and flag errors answer at once

    from tool_server.app import create_app
    from tool_server.server import ToolServer

    try:
        server = ToolServer(
            args.catalog, seed=args.seed, fault_rate=args.fault_rate, call_timeout_s=args.timeout,
            replay=args.replay, record=args.record,
        )  # fmt: skip
    except ValueError as exc:  # a catalog or cache that cannot be read
        parser.error(str(exc))
    print(f"tl-tool-server: {len(server.catalog)} tools on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        uvicorn.run(create_app(server), host=args.host, port=args.port, log_level="warning", workers=1)
    finally:
        server.close()


if __name__ == "__main__":
    main()
