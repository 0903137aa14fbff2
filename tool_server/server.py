"""The in-process tool server: validate a call against its tool's schema, run it, answer with categorised feedback.

Every answer is `{"ok": True, "output": ...}` or `{"ok": False, "category", "message", "tool", "details"}`, with
the category from tl_plugin.core.taxonomy and a message in the Python-exception style of real tool-use data, so what a
model meets in the env reads like its training data. `call` never raises, whatever it is given.
"""

from __future__ import annotations

import functools
import json
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

from jsonschema.exceptions import ValidationError, best_match

from tl_plugin.core.taxonomy import (
    CRASH_MESSAGE,
    INSTABILITY_MESSAGES,
    Category,
    call_failure_message,
    invalid_argument_message,
    missing_arguments_message,
    undefined_tool_message,
    unexpected_argument_message,
)
from tool_server.builtin import builtin_catalog
from tool_server.catalog import Catalog, Tool, ToolCallFailure, canonical_json, load_catalog, mock_output

Feedback = dict[str, Any]
FAULT_KEYS = ("instability_rate", "instability_kind", "call_failure")
# jsonschema keyword -> (kind in details, reason template); type and enum are worded in _invalid.
_REASONS = {
    "format": ("format", "must be a valid '{}' string"),
    "pattern": ("format", "must match the pattern {}"),
    "minimum": ("range", "must be >= {}"),
    "maximum": ("range", "must be <= {}"),
    "exclusiveMinimum": ("range", "must be > {}"),
    "exclusiveMaximum": ("range", "must be < {}"),
    "minLength": ("range", "must have at least {} characters"),
    "maxLength": ("range", "must have at most {} characters"),
    "minItems": ("range", "must have at least {} items"),
    "maxItems": ("range", "must have at most {} items"),
    "multipleOf": ("range", "must be a multiple of {}"),
}
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


class ToolServer:
    """Answers tool calls from a catalog (the built-in one by default) with categorised feedback.

    seed, fault_rate, fault_kinds: injected tool_instability (off by default), reproducible for a seed and a
    sequence of calls; fault_kinds are keys of INSTABILITY_MESSAGES (all by default).
    call_timeout_s: a tool running longer answers tool_instability (timeout).
    replay / record: a JSONL cache keyed by toolset, tool and canonical arguments; replayed answers are served
    without running the tool, recorded ones appended as they happen. Stateful tools are never cached.
    session_ttl_s, max_sessions: per-session state of stateful tools expires after this idle time, and the
    least recently used session goes first beyond the cap.
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
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str | None, tuple[float, dict]] = OrderedDict()
        self._cache: dict[str, Feedback] = _read_cache(Path(replay)) if replay else {}
        self._record = open(record, "a", encoding="utf-8") if record else None  # closed by close()
        # Off the main thread tools run in worker threads, so a slow one can be abandoned at the timeout; a worker
        # stuck in a tool that never returns stays busy, hence several of them.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tool")

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

        session: id of the per-session state of stateful tools; toolset: the catalog folder to resolve the name
        in first; faults: this request's `{"instability_rate", "instability_kind", "call_failure"}`.
        """
        try:
            problem = _envelope_problem(name, arguments, session, toolset, faults)
            if problem:
                return _error(Category.FORMAT_ERROR, problem, name if isinstance(name, str) else None, {})
            tool = self.catalog.resolve(name, toolset)
            if tool is None:
                return _error(Category.TOOL_HALLUCINATION, undefined_tool_message(name), name, {})
            early = _validate(tool, arguments) or self._fault(name, faults or {})
            if early:
                return early
            cached = (self._cache or self._record) and not tool.stateful
            key = canonical_json([tool.toolset, name, arguments]) if cached else None
            if key in self._cache:
                return self._cache[key]
            state = self._session(session) if tool.stateful else None
            feedback = self._bounded(name, functools.partial(_run, tool, arguments, state))
            if self._record and key is not None:
                entry = {"key": key, "tool": name, "arguments": arguments, "feedback": feedback}
                line = json.dumps(entry, ensure_ascii=False, default=str)
                with self._lock:
                    self._record.write(line + "\n")
                    self._record.flush()
            return feedback
        except Exception as exc:  # a bug of ours must still answer in the taxonomy
            return _error(Category.OTHER, CRASH_MESSAGE, name, {"exception": type(exc).__name__, "text": str(exc)})

    def close(self) -> None:
        """Stop the worker threads and close the record file."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._record:
            self._record.close()

    def _bounded(self, name: str, job: Callable[[], Feedback]) -> Feedback:
        """The job's feedback, or tool_instability (timeout) after call_timeout_s. On the main thread a SIGALRM
        timer stops the tool (no thread hop on the hot path of the HTTP server, and a stuck tool really stops);
        elsewhere the tool runs in a worker thread, abandoned at the timeout."""
        if _alarm_ready():
            try:
                signal.setitimer(signal.ITIMER_REAL, self.call_timeout_s)
                try:
                    return job()
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _CallTimeout:
                return _timeout(name, self.call_timeout_s)
        try:
            return self._pool.submit(job).result(self.call_timeout_s)
        except FutureTimeout:
            return _timeout(name, self.call_timeout_s)

    def _fault(self, name: str, faults: dict) -> Feedback | None:
        """An injected fault for this call, if the dice (or the request) say so."""
        rate = faults.get("instability_rate", self.fault_rate)
        with self._lock:
            if rate > 0 and self._rng.random() < rate:
                return instability_feedback(name, faults.get("instability_kind") or self._rng.choice(self.fault_kinds))
        if faults.get("call_failure"):
            reason = f"{name} could not complete this request"
            return _error(Category.TOOL_CALL_FAILURE, call_failure_message(reason), name, {"injected": True})
        return None

    def _session(self, session_id: str | None) -> dict:
        """The state of a session (None: the shared default one), after dropping expired and surplus sessions."""
        now = time.monotonic()
        with self._lock:
            seen, state = self._sessions.pop(session_id, (now, {}))
            state = state if now - seen <= self.session_ttl_s else {}
            while self._sessions and (
                len(self._sessions) >= self.max_sessions
                or now - next(iter(self._sessions.values()))[0] > self.session_ttl_s
            ):
                self._sessions.popitem(last=False)  # least recently used first
            self._sessions[session_id] = (now, state)
            return state


def _envelope_problem(name: Any, arguments: Any, session: Any, toolset: Any, faults: Any) -> str | None:
    """What is wrong with the parts of a call around its arguments' values, or None."""
    if not isinstance(name, str):
        return f"the tool name must be a string, not {_json_type(name)}"
    if not isinstance(arguments, dict):
        return f"{name}() argument after ** must be a mapping, not {_json_type(arguments)}"
    if not all(isinstance(key, str) for key in arguments):
        return f"{name}() keywords must be strings"
    for field, value in (("session", session), ("toolset", toolset)):
        if value is not None and not isinstance(value, str):
            return f"'{field}' must be a string or null, not {_json_type(value)}"
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


def _validate(tool: Tool, arguments: dict) -> Feedback | None:
    """Feedback for the first problem of the arguments in the order hallucinated key > missing key > invalid
    value, or None. Keys outside `properties` are hallucinated unless the schema explicitly allows extras."""
    params = tool.schema["parameters"]
    if params.get("additionalProperties", False) is False:
        unexpected = [key for key in arguments if key not in params["properties"]]
        if unexpected:
            message = unexpected_argument_message(tool.name, unexpected[0])
            return _error(Category.PARAMETER_HALLUCINATION, message, tool.name, {"unexpected": unexpected})
    missing = [key for key in params.get("required", []) if key not in arguments]
    if missing:
        message = missing_arguments_message(tool.name, missing)
        return _error(Category.PARAMETER_MISSING, message, tool.name, {"missing": missing})
    if next(tool.validator.iter_errors(arguments), None) is None:
        return None
    return _invalid(tool.name, best_match(tool.validator.iter_errors(arguments)))


def _invalid(name: str, error: ValidationError) -> Feedback:
    key = str(error.path[0]) if error.path else ""
    where = "".join(f"[{part!r}]" for part in list(error.path)[1:])  # inside a list or object argument
    expected = error.validator_value
    if error.validator == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        kind, reason = "type", f"must be {wanted}, not {_json_type(error.instance)}"
    elif error.validator in ("enum", "const"):
        values = expected if error.validator == "enum" else [expected]
        kind, reason = "enum", "must be one of " + ", ".join(repr(v) for v in values)
    elif error.validator in _REASONS:
        kind, template = _REASONS[error.validator]
        reason = template.format(expected)
    else:  # anyOf, not, dependencies...: jsonschema's own words
        kind, reason = "constraint", error.message
    reason = f"{where} {reason}" if where else reason
    details = {"argument": key, "kind": kind, "keyword": error.validator, "expected": expected}
    return _error(Category.PARAMETER_INVALID, invalid_argument_message(name, key, reason), name, details)


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
    raise _CallTimeout


def _alarm_ready() -> bool:
    """Whether this thread can bound a call with SIGALRM: the main thread of a Unix process whose SIGALRM
    nobody else uses (our handler is then installed, once)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    handler = signal.getsignal(signal.SIGALRM)
    if handler is signal.SIG_DFL:
        signal.signal(signal.SIGALRM, _on_alarm)
        return True
    return handler is _on_alarm


def _error(category: Category, message: str, tool: str | None, details: dict) -> Feedback:
    return {"ok": False, "category": category.value, "message": message, "tool": tool, "details": details}


def instability_feedback(tool: str, kind: str) -> Feedback:
    """The feedback of an unstable service: `kind` is a key of taxonomy.INSTABILITY_MESSAGES."""
    message = INSTABILITY_MESSAGES[kind].format(tool=tool)
    return _error(Category.TOOL_INSTABILITY, message, tool, {"kind": kind})


def _timeout(name: str, timeout_s: float) -> Feedback:
    feedback = instability_feedback(name, "timeout")
    feedback["details"]["timeout_s"] = timeout_s
    return feedback


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


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
