"""`tl-tool-server` (also `python -m tool_server`): serve a catalog over HTTP with uvicorn, on 127.0.0.1 by default.

Every limit has a flag; the defaults are in `--help` and the README. Beyond loopback, set a token (--token or the
TL_TOOL_SERVER_TOKEN environment variable, which RemoteToolServer also reads) and name the hosts clients use.
`--mcp` (or `--mcp stdio`) serves MCP on stdin/stdout instead; `--mcp http` adds MCP's streamable HTTP at /mcp
beside the REST API, behind the same Host and token checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tl_plugin.core.cli import add_log_level, port, setup_logging


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    """Parse the flags (a bad one exits with status 2 and the usage), then serve until interrupted."""
    from tool_server.app import MAX_BODY_BYTES
    from tool_server.client import TOKEN_VARIABLE
    from tool_server.http import add_edge_flags, allowed_hosts, positive_bytes
    from tool_server.server import MAX_RECORD_BYTES, MAX_SESSION_BYTES, MAX_TOTAL_SESSION_BYTES
    from tool_server.validate import MAX_ARGUMENT_BYTES

    parser = argparse.ArgumentParser(prog="tl-tool-server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=port, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: loopback only)")
    parser.add_argument(
        "--catalog", type=Path, help="JSON file or directory of OpenAI tool schemas (default: built-in)"
    )
    parser.add_argument("--fault-rate", type=_rate, default=0.0, help="rate of injected tool_instability, 0 to 1")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-call timeout in seconds (default 5)")
    add_edge_flags(parser, MAX_BODY_BYTES, TOKEN_VARIABLE)
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-argument-bytes",
        type=positive_bytes,
        default=MAX_ARGUMENT_BYTES,
        help=f"largest arguments of one call, beyond: format_error (default {MAX_ARGUMENT_BYTES})",
    )
    limits.add_argument(
        "--max-session-bytes",
        type=positive_bytes,
        default=MAX_SESSION_BYTES,
        help=f"what one session may store (default {MAX_SESSION_BYTES})",
    )
    limits.add_argument(
        "--max-total-session-bytes",
        type=positive_bytes,
        default=MAX_TOTAL_SESSION_BYTES,
        help=f"what all sessions may store (default {MAX_TOTAL_SESSION_BYTES})",
    )
    limits.add_argument(
        "--max-record-bytes",
        type=positive_bytes,
        default=MAX_RECORD_BYTES,
        help=f"largest --record file (default {MAX_RECORD_BYTES})",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--record", type=Path, help="append every answer to this JSONL cache")
    cache.add_argument("--replay", type=Path, help="answer from this JSONL cache (written by --record)")
    parser.add_argument(
        "--mcp", nargs="?", const="stdio", choices=["stdio", "http"],
        help="serve MCP: on stdin/stdout (stdio, the default) or at /mcp beside the REST API (http)",
    )  # fmt: skip
    add_log_level(parser, default="WARNING")
    args = parser.parse_args(argv)
    if args.catalog is not None and not args.catalog.exists():
        parser.error(f"--catalog: {args.catalog} does not exist")
    if args.replay is not None and not args.replay.is_file():
        parser.error(f"--replay: {args.replay} is not a file")

    from tool_server.app import create_app
    from tool_server.http import serve, uvicorn_config
    from tool_server.mcp_server import serve_stdio, with_mcp
    from tool_server.server import ToolServer

    try:
        server = ToolServer(
            args.catalog,
            seed=args.seed,
            fault_rate=args.fault_rate,
            call_timeout_s=args.timeout,
            replay=args.replay,
            record=args.record,
            max_argument_bytes=args.max_argument_bytes,
            max_session_bytes=args.max_session_bytes,
            max_total_session_bytes=args.max_total_session_bytes,
            max_record_bytes=args.max_record_bytes,
        )
    except ValueError as exc:  # a catalog or cache that cannot be read
        parser.error(str(exc))
    setup_logging(args.log_level)
    try:
        if args.mcp == "stdio":  # stdout is the MCP wire: nothing else may be printed there
            print(f"tl-tool-server: {len(server.catalog)} tools over MCP on stdio", file=sys.stderr, flush=True)
            return serve_stdio(server)
        app = create_app(server, args.max_body_bytes, token=args.token, allowed_hosts=allowed_hosts(args))
        if args.mcp == "http":
            app = with_mcp(app, server)
        where = f"http://{args.host}:{args.port}" + (" (MCP at /mcp)" if args.mcp else "")
        print(f"tl-tool-server: {len(server.catalog)} tools on {where}", file=sys.stderr, flush=True)
        config = uvicorn_config(
            app,
            args.host,
            args.port,
            token=args.token,
            header_timeout_s=args.header_timeout,
            body_timeout_s=args.body_timeout,
            log_level=args.log_level.lower(),
            access_log=args.log_level in ("DEBUG", "INFO"),  # one line per request, the refused ones too
        )
        serve(config)
    finally:
        server.close()


if __name__ == "__main__":
    main()
