"""The HTTP edge of our servers (the tool server and the reward server): the one place that bounds and decodes
what comes in and writes what goes out.

A request passes, in order: the Host header against an allow-list (loopback names by default, so that a page
open in a local browser cannot reach the server by DNS rebinding), the bearer token when one is set (on every
endpoint), the route and method, and for POST a JSON Content-Type and a body of at most max_body_bytes, decoded
as UTF-8 by Python's json (which reads NaN and lone surrogate escapes: the server, not the transport, judges
them). Every answer is JSON, never with NaN or Infinity (written as null). A client that goes away mid-body
costs one log line. `uvicorn_config` adds read deadlines on headers and bodies (against slowloris) and warns
when the server binds beyond loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hmac
import ipaddress
import json
import logging
import math
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
HEADER_TIMEOUT_S = 10.0  # from a request's first byte to the end of its headers
BODY_TIMEOUT_S = 10.0  # from the end of the headers to the end of the body
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this (uvicorn's default)

# A handler gets the decoded JSON body (POST "json"), the raw body (POST "raw") or the query (GET) and answers
# (status, content): bytes are sent as they are, anything else is written as JSON.
Handler = Callable[[Any], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class Route:
    method: str
    handler: Handler
    body: str = "json"  # "json" or "raw"; GET routes get the query as a dict


@dataclass(frozen=True)
class Edge:
    """What comes in: the largest body, the token every request must bear (None: no token), the names the Host
    header may carry ("*": any)."""

    max_body_bytes: int
    token: str | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS


class JsonApp:
    """An ASGI app of JSON routes behind the edge checks. `error(status, message)` is the body of a refusal,
    in the app's own shape; `openapi` is served at GET /openapi.json."""

    def __init__(self, routes: dict[str, Route], edge: Edge, error: Callable[[int, str], dict], openapi: dict):
        self.routes, self.edge, self.error = routes, edge, error
        self._openapi = encode(openapi)
        self._token = b"Bearer " + edge.token.encode() if edge.token else None
        self._any_host = "*" in edge.allowed_hosts
        self._hosts = {host.lower().strip("[]") for host in edge.allowed_hosts}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        host = authorization = content_type = length = b""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
        if not self._any_host and _host_name(host) not in self._hosts:
            return await self._refuse(send, 400, f"Host {host.decode('latin-1')!r} is not allowed here")
        if self._token and not hmac.compare_digest(authorization, self._token):
            return await self._refuse(send, 401, "a valid bearer token is required", [(b"www-authenticate", b"Bearer")])
        path, method = scope["path"], scope["method"]
        route = self.routes.get(path)
        if path == "/openapi.json" and method == "GET":
            return await _respond(send, 200, self._openapi)
        if route is None:
            return await self._refuse(send, 404, f"no endpoint {path}")
        if method != route.method:
            return await self._refuse(
                send, 405, f"{path} answers {route.method} only", [(b"allow", route.method.encode())]
            )
        if method == "GET":
            data: Any = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        else:
            if content_type.split(b";")[0].strip().lower() != b"application/json":
                return await self._refuse(send, 415, "the body must be JSON, sent with Content-Type: application/json")
            data = await self._body(scope, receive, length)
            if data is None:  # the client went away
                return None
            if isinstance(data, int):
                return await self._refuse(send, data, f"request body larger than {self.edge.max_body_bytes} bytes")
            if route.body == "json":
                try:
                    data = json.loads(data.decode("utf-8"))
                except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested too deep to read
                    return await self._refuse(send, 400, f"request body is not valid JSON: {str(exc)[:200]}")
        try:
            status, content = await route.handler(data)
            body = content if isinstance(content, bytes) else encode(content)
        except Exception:  # a bug of ours: said in the log, answered as JSON
            log.exception("%s %s failed", method, path)
            status, body = 500, encode(self.error(500, "internal error"))
        await _respond(send, status, body)

    async def _body(self, scope: dict, receive: Callable, length: bytes) -> bytes | int | None:
        """The body; 413 once it is known to exceed the limit (by its Content-Length or as it streams); None
        when the client disconnected first (logged, one line)."""
        limit = self.edge.max_body_bytes
        if length.isdigit() and int(length) > limit:
            return 413
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                client = ":".join(map(str, scope.get("client") or ("?", "?")))
                log.warning("client %s went away after %d bytes of its request body", client, size)
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return 413
            if not message.get("more_body"):
                return b"".join([*chunks, chunk]) if chunks else chunk
            chunks.append(chunk)

    async def _refuse(self, send: Callable, status: int, message: str, headers: Iterable = ()) -> None:
        # A refused body may still be on its way: close the connection rather than read it.
        closing = [(b"connection", b"close")] if status in (400, 413) else []
        await _respond(send, status, encode(self.error(status, message)), [*headers, *closing])


def encode(content: Any) -> bytes:
    """JSON of an answer. NaN and infinities are written as null; lone surrogates as ASCII escapes (they may be
    echoed from a request), integers beyond 64 bits and non-JSON objects as Python's json writes them."""
    try:
        return orjson.dumps(content)  # writes NaN and infinities as null
    except TypeError:  # a lone surrogate, an integer beyond 64 bits, a key that is not a string, an object
        pass
    try:
        return json.dumps(content, default=str, allow_nan=False).encode()
    except ValueError:
        return json.dumps(finite(content), default=str).encode()


def finite(value: Any) -> Any:
    """`value` with NaN and infinities as None (the null orjson writes for them)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _host_name(host: bytes) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


async def _respond(send: Callable, status: int, body: bytes, headers: Iterable = ()) -> None:
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def positive_bytes(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of bytes, got {text}")
    return value


def add_edge_flags(parser: argparse.ArgumentParser, max_body_bytes: int, token_variable: str) -> None:
    """The flags of the HTTP edge (tool_server.http), shared by our servers."""
    parser.add_argument(
        "--token",
        default=os.environ.get(token_variable),
        help=f"bearer token every request must bear (default: ${token_variable}, else none)",
    )
    parser.add_argument(
        "--allowed-hosts",
        help="comma-separated names the Host header may carry, '*' for any (default: loopback names and --host)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=positive_bytes,
        default=max_body_bytes,
        help=f"largest request body (default {max_body_bytes})",
    )
    parser.add_argument(
        "--header-timeout",
        type=_positive,
        default=HEADER_TIMEOUT_S,
        help=f"seconds for a request's headers (default {HEADER_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=_positive,
        default=BODY_TIMEOUT_S,
        help=f"seconds for a request's body (default {BODY_TIMEOUT_S:g})",
    )


def allowed_hosts(args: argparse.Namespace) -> tuple[str, ...]:
    """--allowed-hosts, or the loopback names plus the address bound when it is a single one."""
    if args.allowed_hosts:
        return tuple(name.strip() for name in args.allowed_hosts.split(",") if name.strip())
    return LOOPBACK_HOSTS if args.host in ("0.0.0.0", "::", "") else (*LOOPBACK_HOSTS, args.host)


def uvicorn_config(
    app: Callable,
    host: str,
    port: int,
    *,
    token: str | None = None,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_timeout_s: float = BODY_TIMEOUT_S,
    log_level: str = "warning",
    http: str = "auto",
    loop: str = "auto",
    access_log: bool = False,
) -> Any:
    """uvicorn's Config for one of our apps: uvloop and httptools where installed (`http`, `loop`: uvicorn's
    names to choose), access log off unless asked for, uvicorn's lines through the process's `logging` (to
    stderr), and read deadlines: a connection whose request headers take longer than
    header_timeout_s from their first byte, or whose body takes longer than body_timeout_s after them, is
    closed. Binding beyond loopback is said in the log, with or without a token."""
    import uvicorn
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string

    if not is_loopback(host):
        guard = "every request must bear the token" if token else "no token is set: anyone who can reach it may use it"
        log.warning("listening on %s, beyond loopback: %s (see --token and --allowed-hosts)", host, guard)
    protocol = _with_deadlines(import_from_string(HTTP_PROTOCOLS[http]), header_timeout_s, body_timeout_s)
    return uvicorn.Config(
        app, host=host, port=port, http=protocol, loop=loop, log_level=log_level, access_log=access_log,
        log_config=None, timeout_keep_alive=KEEP_ALIVE_S, lifespan="on",
    )  # fmt: skip


def serve(config: Any) -> None:
    """Run a server process with `config` (uvicorn_config's) until interrupted."""
    import uvicorn

    # Work runs in threads (tools, the reward); with the default 5 ms GIL switch interval a few CPU-bound ones
    # delay the event loop, and /health, by tens of ms at each turn. 1 ms keeps it answering.
    sys.setswitchinterval(0.001)
    # What startup made (catalogs, imported modules) lives as long as the server: left out of the garbage
    # collector's full passes, which otherwise stall every request for 100 ms and more now and then.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()


def _with_deadlines(base: type, header_timeout_s: float, body_timeout_s: float) -> type:
    """uvicorn's HTTP protocol with read deadlines. Both implementations keep the request being served in
    `self.cycle` (a new one once a request's headers are in) with `more_body` set until its body is in."""

    class DeadlineProtocol(base):
        _timer: asyncio.TimerHandle | None = None

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before and self.cycle is not None:  # a request's headers came in
                self._arm(body_timeout_s, "body") if self.cycle.more_body else self._disarm()
            elif self._timer is None and (before is None or before.response_complete):  # a request begins
                self._arm(header_timeout_s, "headers")

        def on_response_complete(self) -> None:
            self._disarm()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float, part: str) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._late, self.cycle, part, seconds)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _late(self, cycle: Any, part: str, seconds: float) -> None:
            self._timer = None
            waiting = cycle is None or cycle.response_complete if part == "headers" else cycle.more_body
            if self.cycle is cycle and waiting and not self.transport.is_closing():
                log.warning("closing a connection from %s: request %s not in within %s s", self.client, part, seconds)
                self.transport.close()  # connection_lost tells the app, whose receive() answers a disconnect

    return DeadlineProtocol
