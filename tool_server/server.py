"""The in-process tool server: validate a call against its tool's schema, run it, answer with categorised feedback.

Every answer is `{"ok": True, "output": ...}` or `{"ok": False, "category", "message", "tool", "details"}`, with
the category from tl_plugin.core.taxonomy and a message in the Python-exception style of real tool-use data, so what a
model meets in the env reads like its training data. `call` never raises, whatever it is given.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import logging
import random
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import orjson

from tl_plugin.core.taxonomy import (
    CRASH_MESSAGE,
    INSTABILITY_MESSAGES,
    Category,
    call_failure_message,
)
from tl_plugin.core.tool_calls import decode_arguments
from tool_server.builtin import builtin_catalog
from tool_server.catalog import Catalog, Tool, ToolCallFailure, canonical_json, load_catalog, mock_output
from tool_server.validate import MAX_ARGUMENT_BYTES, Feedback, check, fast_size, json_type
from tool_server.validate import error as _error

FAULT_KEYS = ("instability_rate", "instability_kind", "call_failure")
MAX_SESSION_BYTES = 1 << 20  # what one session's stateful tools may store (the arguments they were given)
MAX_TOTAL_SESSION_BYTES = 256 << 20  # all sessions together; the least recently used go first beyond it
MAX_RECORD_BYTES = 256 << 20  # the --record file; answers beyond it are served but not recorded
CALL_THREADS = 32  # workers of acall() and of timed calls off the main thread; a stuck tool holds one
log = logging.getLogger(__name__)


class ToolServer:
    """Answers tool calls from a catalog (the built-in one by default) with categorised feedback.

    seed, fault_rate, fault_kinds: injected tool_instability (off by default), reproducible for a seed and a
    sequence of calls; fault_kinds are keys of INSTABILITY_MESSAGES (all by default).
    call_timeout_s: a tool running longer answers tool_instability (timeout).
    replay / record: a JSONL cache keyed by toolset, tool and canonical arguments; replayed answers are served
    without running the tool, recorded ones appended as they happen, up to max_record_bytes of file. Stateful
    tools are never cached.
    session_ttl_s, max_sessions, max_session_bytes, max_total_session_bytes: per-session state of stateful tools
    expires after this idle time; a session stores at most max_session_bytes (counted as the arguments its
    stateful calls carried; beyond, the call is a tool_call_failure), and the least recently used sessions go
    first beyond max_sessions or max_total_session_bytes.
    max_argument_bytes: arguments larger than this (as compact UTF-8 JSON) are a format_error, as over HTTP.
    """

    def __init__(
        self,
        catalog: Catalog | str | Path | None = None,
        *,
        seed: int = 0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] | None = None,
        call_timeout_s: float = 5.0,
        replay: str | Path | None = None,
        record: str | Path | None = None,
        session_ttl_s: float = 1800.0,
        max_sessions: int = 10_000,
        max_session_bytes: int = MAX_SESSION_BYTES,
        max_total_session_bytes: int = MAX_TOTAL_SESSION_BYTES,
        max_record_bytes: int = MAX_RECORD_BYTES,
        max_argument_bytes: int = MAX_ARGUMENT_BYTES,
    ):
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        if not call_timeout_s > 0:
            raise ValueError(f"call_timeout_s must be positive, got {call_timeout_s}")
        self.fault_kinds = list(fault_kinds or INSTABILITY_MESSAGES)
        if not self.fault_kinds or set(self.fault_kinds) - set(INSTABILITY_MESSAGES):
            raise ValueError(f"fault_kinds must be among {sorted(INSTABILITY_MESSAGES)}, got {self.fault_kinds}")
        if isinstance(catalog, (str, Path)):
            catalog = load_catalog(catalog)
        self.catalog = builtin_catalog() if catalog is None else catalog
        self.fault_rate, self.call_timeout_s = fault_rate, call_timeout_s
        self.session_ttl_s, self.max_sessions = session_ttl_s, max_sessions
        self.max_session_bytes, self.max_total_session_bytes = max_session_bytes, max_total_session_bytes
        self.max_record_bytes, self.max_argument_bytes = max_record_bytes, max_argument_bytes
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        # session id -> [last use, state, bytes stored]; _session_bytes is the sum of the last.
        self._sessions: OrderedDict[str | None, list] = OrderedDict()
        self._session_bytes = 0
        self._cache: dict[str, Feedback] = _read_cache(Path(replay)) if replay else {}
        self._record = open(record, "a", encoding="utf-8") if record else None  # closed by close()
        self._record_bytes = self._record.tell() if self._record else 0
        # acall() runs whole calls in these threads, and call() off the main thread runs tools there, so a slow
        # tool can be abandoned at the timeout; a worker stuck in a tool that never returns stays busy, hence
        # several of them.
        self._pool = ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="tool")

    def tools(self, names: Iterable[str] | None = None, toolset: str | None = None) -> list[dict]:
        """OpenAI function schemas `{"name", "description", "parameters"}` (the catalog's own dicts: copy before
        changing them); KeyError for an unknown name or toolset."""
        return self.catalog.schemas(names, toolset)

    def call(
        self,
        name: Any,
        arguments: Any,
        session: Any = None,
        toolset: Any = None,
        faults: Any = None,
    ) -> Feedback:
        """Validate and run one call; returns its feedback and never raises.

        arguments: an object, or OpenAI's JSON string of one; session: id of the per-session state of stateful
        tools; toolset: the catalog folder to resolve the name in first; faults: this request's
        `{"instability_rate", "instability_kind", "call_failure"}`.
        """
        return self._answer(name, arguments, session, toolset, faults, self._bounded)

    async def acall(
        self,
        name: Any,
        arguments: Any,
        session: Any = None,
        toolset: Any = None,
        faults: Any = None,
    ) -> Feedback:
        """`call` for an event loop: the whole call (validation too) runs in a worker thread and is awaited
        call_timeout_s at most, so a slow tool or a large argument holds up no other request."""
        job = functools.partial(self._answer, name, arguments, session, toolset, faults, _inline)
        try:
            return await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._pool, job), self.call_timeout_s
            )
        except asyncio.TimeoutError:
            return _timeout(name if isinstance(name, str) else "tool", self.call_timeout_s)

    def close(self) -> None:
        """Stop the worker threads and close the record file."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._record:
            self._record.close()

    def _answer(
        self, name: Any, arguments: Any, session: Any, toolset: Any, faults: Any, bounded: Callable
    ) -> Feedback:
        try:
            size = None
            if type(arguments) is str:  # OpenAI's JSON string; one that holds no object stays a format error
                arguments = decode_arguments(arguments)
            if type(name) is str and type(arguments) is dict and faults is None and _id(session) and _id(toolset):
                tool = self.catalog.resolve(name, toolset)  # the common call: one compiled check decides
                size = fast_size(tool, arguments, self.max_argument_bytes)
            if size is None:
                problem = _envelope_problem(name, arguments, session, toolset, faults)
                if problem:
                    return _error(Category.FORMAT_ERROR, problem, name if isinstance(name, str) else None, {})
                tool = self.catalog.resolve(name, toolset)
                early, size = check(name, tool, arguments, self.max_argument_bytes)
                if early:
                    return early
            early = self._fault(name, faults or {}) if faults or self.fault_rate else None
            if early:
                return early
            cached = (self._cache or self._record) and not tool.stateful
            key = canonical_json([tool.toolset, name, arguments]) if cached else None
            if key in self._cache:
                return self._cache[key]
            state = None
            if tool.stateful:
                state = self._session(session, size)
                if state is None:
                    reason = f"session storage is full ({self.max_session_bytes} bytes)"
                    return _error(Category.TOOL_CALL_FAILURE, call_failure_message(reason), name, {"storage": True})
            job = functools.partial(_run, tool, arguments, state)
            feedback = job() if tool.fn is None else bounded(name, job)  # a mock output is ours, and quick
            if state is not None:
                self._charge(session, state)
            if self._record and key is not None:
                self._write_record({"key": key, "tool": name, "feedback": feedback})
            return feedback
        except Exception as exc:  # a bug of ours must still answer in the taxonomy
            return _error(Category.OTHER, CRASH_MESSAGE, name, {"exception": type(exc).__name__, "text": str(exc)})

    def _write_record(self, entry: dict) -> None:
        """Append one answer to the record file, unless it would pass max_record_bytes (said once, in the log).
        ASCII-escaped: lone surrogates in a toolset or an output survive the round trip."""
        line = json.dumps(entry, default=str) + "\n"
        with self._lock:
            if self._record_bytes + len(line) > self.max_record_bytes:
                if self._record_bytes <= self.max_record_bytes:
                    log.warning("record file reached %d bytes: further answers are not recorded", self._record_bytes)
                    self._record_bytes = self.max_record_bytes + 1
                return
            self._record.write(line)
            self._record.flush()
            self._record_bytes += len(line)

    def _bounded(self, name: str, job: Callable[[], Feedback]) -> Feedback:
        """The job's feedback, or tool_instability (timeout) after call_timeout_s. On the main thread a SIGALRM
        timer stops the tool (no thread hop on the hot path, and a stuck tool really stops); elsewhere the tool
        runs in a worker thread, abandoned at the timeout."""
        if _alarm_ready():
            deadline = time.monotonic() + self.call_timeout_s
            try:
                if not 0 < _ALARM_AT[0] <= deadline:  # no timer due before this deadline: arm one
                    signal.setitimer(signal.ITIMER_REAL, self.call_timeout_s)
                    _ALARM_AT[0] = deadline
                _DEADLINE[0] = deadline
                try:
                    return job()
                finally:
                    _DEADLINE[0] = None
            except _CallTimeout:
                return _timeout(name, self.call_timeout_s)
        try:
            return self._pool.submit(job).result(self.call_timeout_s)
        except FutureTimeout:
            return _timeout(name, self.call_timeout_s)

    def _fault(self, name: str, faults: dict) -> Feedback | None:
        """An injected fault for this call, if the dice (or the request) say so."""
        rate = faults.get("instability_rate", self.fault_rate)
        if rate > 0:
            with self._lock:
                if self._rng.random() < rate:
                    kind = faults.get("instability_kind") or self._rng.choice(self.fault_kinds)
                    return instability_feedback(name, kind)
        if faults.get("call_failure"):
            reason = f"{name} could not complete this request"
            return _error(Category.TOOL_CALL_FAILURE, call_failure_message(reason), name, {"injected": True})
        return None

    def _session(self, session_id: str | None, size: int) -> dict | None:
        """The state of a session (None: the shared default one), after dropping expired and surplus sessions;
        None when `size` more bytes would take it past max_session_bytes."""
        now = time.monotonic()
        with self._lock:
            seen, state, stored = self._sessions.pop(session_id, (now, {}, 0))
            if now - seen > self.session_ttl_s:
                state, self._session_bytes = {}, self._session_bytes - stored
                stored = 0
            self._sessions[session_id] = [now, state, stored]
            self._evict(now)
            return None if stored + size > self.max_session_bytes else state

    def _charge(self, session_id: str | None, state: dict) -> None:
        """Count what the session now stores (its state as JSON), then evict beyond max_total_session_bytes."""
        try:
            size = len(orjson.dumps(state, default=str))
        except TypeError:
            size = len(json.dumps(state, default=str))
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is not None and entry[1] is state:
                self._session_bytes += size - entry[2]
                entry[2] = size
                self._evict(time.monotonic())

    def _evict(self, now: float) -> None:
        """Drop the least recently used sessions while there are too many, they store too much or have expired
        (the most recent one stays)."""
        while len(self._sessions) > 1 and (
            len(self._sessions) > self.max_sessions
            or self._session_bytes > self.max_total_session_bytes
            or now - next(iter(self._sessions.values()))[0] > self.session_ttl_s
        ):
            self._session_bytes -= self._sessions.popitem(last=False)[1][2]


def _id(value: Any) -> bool:
    return value is None or type(value) is str


def _inline(name: str, job: Callable[[], Feedback]) -> Feedback:
    """Run the job as it is: acall's caller holds the timeout."""
    return job()


def _envelope_problem(name: Any, arguments: Any, session: Any, toolset: Any, faults: Any) -> str | None:
    """What is wrong with the parts of a call around its arguments' values, or None."""
    if not isinstance(name, str):
        return f"the tool name must be a string, not {json_type(name)}"
    if not isinstance(arguments, dict):
        return f"{name}() argument after ** must be a mapping, not {json_type(arguments)}"
    if not all(isinstance(key, str) for key in arguments):
        return f"{name}() keywords must be strings"
    for field, value in (("session", session), ("toolset", toolset)):
        if value is not None and not isinstance(value, str):
            return f"'{field}' must be a string or null, not {json_type(value)}"
    if faults is None:
        return None
    if not isinstance(faults, dict) or set(faults) - set(FAULT_KEYS):
        return f"'faults' must be an object with keys among {', '.join(FAULT_KEYS)}"
    rate, kind = faults.get("instability_rate", 0.0), faults.get("instability_kind")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        return "'faults.instability_rate' must be a number in [0, 1]"
    if kind is not None and kind not in INSTABILITY_MESSAGES:
        return f"'faults.instability_kind' must be null or one of {', '.join(INSTABILITY_MESSAGES)}"
    if not isinstance(faults.get("call_failure", False), bool):
        return "'faults.call_failure' must be a boolean"
    return None


def _run(tool: Tool, arguments: dict, state: dict | None) -> Feedback:
    """Run the tool (a mock output when it has no function) and turn what it raised into feedback."""
    try:
        if tool.fn is None:
            return {"ok": True, "output": mock_output(tool, arguments)}
        output = tool.fn(**arguments, session=state) if tool.stateful else tool.fn(**arguments)
        return {"ok": True, "output": output}
    except ToolCallFailure as exc:
        return _error(Category.TOOL_CALL_FAILURE, call_failure_message(str(exc)), tool.name, {})
    except (TimeoutError, ConnectionError) as exc:  # a tool backed by a real service lost it
        return instability_feedback(tool.name, "timeout" if isinstance(exc, TimeoutError) else "connection_error")
    except Exception as exc:
        details = {"exception": type(exc).__name__, "text": str(exc)}
        return _error(Category.OTHER, CRASH_MESSAGE, tool.name, details)


class _CallTimeout(BaseException):
    """Raised by the SIGALRM timer inside a tool that outlives the per-call timeout (a BaseException: the
    tool's own `except Exception` must not swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    """The timer outlives the call that armed it (arming and disarming per call would cost two system calls
    each): it stops the running call once past its deadline, waits for a later one, and idles without one."""
    _ALARM_AT[0] = 0.0
    deadline = _DEADLINE[0]
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise _CallTimeout
    signal.setitimer(signal.ITIMER_REAL, left)
    _ALARM_AT[0] = deadline


def _alarm_ready() -> bool:
    """Whether this thread can bound a call with SIGALRM: the main thread of a Unix process whose SIGALRM
    nobody else used when we first looked (our handler is then installed, once; later looks are cached, as
    signal.getsignal costs a tenth of a call). The timer is disarmed at exit: Python restores SIGALRM's default
    action (kill) before it tears its modules down, and a timer firing then would end the process with 142."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if _ALARM[0] is None:
        handler = signal.getsignal(signal.SIGALRM) if hasattr(signal, "setitimer") else None
        if handler is signal.SIG_DFL:
            signal.signal(signal.SIGALRM, _on_alarm)
            atexit.register(signal.setitimer, signal.ITIMER_REAL, 0)
        _ALARM[0] = handler in (signal.SIG_DFL, _on_alarm)
    return _ALARM[0]


_ALARM: list[bool | None] = [None]  # whether SIGALRM is ours, once known
_ALARM_AT = [0.0]  # when the armed timer fires (time.monotonic()), 0 when none is armed
_DEADLINE: list[float | None] = [None]  # the deadline of the call running on the main thread


def instability_feedback(tool: str, kind: str) -> Feedback:
    """The feedback of an unstable service: `kind` is a key of taxonomy.INSTABILITY_MESSAGES."""
    message = INSTABILITY_MESSAGES[kind].format(tool=tool)
    return _error(Category.TOOL_INSTABILITY, message, tool, {"kind": kind})


def _timeout(name: str, timeout_s: float) -> Feedback:
    feedback = instability_feedback(name, "timeout")
    feedback["details"]["timeout_s"] = timeout_s
    return feedback


def _read_cache(path: Path) -> dict[str, Feedback]:
    """The replay cache: key -> feedback, from the JSONL file `record` writes (the last answer of a key wins)."""
    cache = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            if line.strip():
                entry = json.loads(line)
                cache[entry["key"]] = entry["feedback"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a record line ({exc})") from exc
    return cache
