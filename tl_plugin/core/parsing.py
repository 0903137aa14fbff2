"""Model text -> tool calls, in any of the formats tool-use models write; calls -> text in any of them.

Formats (`parse(text, fmt)` insists on one; "auto" detects it: first by how the text starts, then by markers in
prose, so a marker inside a string value cannot mislead it):
- "tool_call": `<tool_call>{json}</tool_call>` blocks, several per output (Qwen-2.5, Hermes);
- "react": `Thought: ...` / `Action: NAME` / `Action Input: {json}` steps and `Final Answer: ...`
  (ToolLLaMA, ToolEyes, RoTBench, Qwen-2 ReAct);
- "json": `{"name", "arguments"|"parameters"}` objects and lists of them, OpenAI `{"function": {"name",
  "arguments": "<json string>"}}` and `{"tool_calls": [...]}` (LLaMA-3.1, GPT);
- "python": `get_weather(city="Paris", days=3)` and `[f(a=1), g(b='x')]` (BFCL, NexusRaven), read with `ast`:
  only literal values are accepted, nothing the model wrote is ever evaluated.
Plain text with no call attempt is fmt "text" with no error. Any failure is a `Parsed` whose `error` tells the model
what to fix; `parse` never raises, and runs in time linear in the text. Limits: a text over `MAX_TEXT_CHARS`
characters (default 32 KiB, `parse(..., max_chars=)`), more than `MAX_CALLS` calls and a value nested over
`MAX_DEPTH` levels are format errors, so nothing downstream (the judge, the tool server, json.dumps) meets
unbounded input. Finish actions (`finish(answer=...)`,
`Final Answer: ...`) and ask-the-user actions (`ask_to_user(question=...)`) come back as calls, recognised by
`Parsed.is_finish` / `Parsed.is_ask`.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from keyword import iskeyword
from typing import Any

FINISH_NAMES = frozenset({"finish", "final_answer"})
ASK_NAMES = frozenset({"ask_to_user", "ask_user"})
FORMATS = ("python", "react", "json", "tool_call", "text")
# A model turn is a few thousand tokens: 32 KiB (~8k tokens, 8x OpenRLHF's default generation length) is more than
# an answer needs, and Python's own parser, the slowest reader here, takes ~50 ms on that much adversarial text.
# Models that think at length before they call need more: raise it (parse's max_chars, TL_MAX_RESPONSE_CHARS).
MAX_TEXT_CHARS = 1 << 15
# Parallel calls in tool-use data number a handful (BFCL's most: under 10); one output may not make more than 64.
MAX_CALLS = 64
# Tool arguments nest a few levels; 100 keeps every recursive reader (the judge, json, ==) far from Python's limit.
MAX_DEPTH = 100

_PY_EXAMPLE = 'get_weather(city="Paris", days=3), or a list [f(a=1), g(b="x")]'
_JSON_EXAMPLE = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
_REACT_EXAMPLE = 'Action: get_weather\nAction Input: {"city": "Paris"}'


@dataclass(frozen=True)
class ToolCall:
    """One call: a tool name and its JSON-like arguments."""

    name: str
    arguments: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class Parsed:
    """What one model output says: its calls in order (finish/ask actions included) and the detected format.

    `error` is set exactly when the output is a format error; it is written for the model to read."""

    calls: list[ToolCall]
    fmt: str
    error: str | None = None
    text: str = field(default="", repr=False)  # the model output, for `answer` of plain text

    @property
    def is_finish(self) -> bool:
        return any(c.name.lower() in FINISH_NAMES for c in self.calls)

    @property
    def is_ask(self) -> bool:
        return any(c.name.lower() in ASK_NAMES for c in self.calls)

    @property
    def answer(self) -> str | None:
        """The finish action's answer; for plain text (no call at all) the text itself."""
        if self.fmt == "text" and self.error is None:
            return self.text.strip()
        for call in self.calls:
            if call.name.lower() in FINISH_NAMES:
                value = call.arguments.get("answer")
                if value is None:  # another key name: take the first string the action carries
                    value = next((v for v in call.arguments.values() if isinstance(v, str)), None)
                return value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)
        return None


class _Malformed(ValueError):
    """A call attempt that cannot be read; the message is the feedback for the model."""


# ---- detection ----

_REACT_MARK = re.compile(r"^[ \t]*(Thought|Action[ \t]+Input|Action|Final[ \t]+Answer|Observation)[ \t]*:", re.M)
_PY_START = re.compile(r"\[?\s*[A-Za-z_][\w.]*\(")
_JSON_LIST = re.compile(r"\[\s*[{\]]")
_JSON_CALL = re.compile(r'[\[{]\s*(?:\{\s*)?"(?:name|function|tool_calls)"\s*:')
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_SPACES = re.compile(r"\s*")
_DECODER = json.JSONDecoder()
# Model text like "a\,b" makes `ast` warn about escape sequences; the model's mistakes are not ours to log.
_SOURCE = "<model-output>"
warnings.filterwarnings("ignore", category=SyntaxWarning, module=_SOURCE)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=_SOURCE)


def parse(text: str, fmt: str = "auto", max_chars: int | None = MAX_TEXT_CHARS) -> Parsed:
    """Parse one model output. fmt: "auto" (detect) or one of FORMATS to insist on that format; max_chars: the
    longest text read (None: no limit). Never raises."""
    if not isinstance(text, str):
        return Parsed([], "text", f"expected the model output as text, got {type(text).__name__}")
    if max_chars is not None and len(text) > max_chars:
        return Parsed([], "text", f"the output is {len(text):,} characters, over the limit of {max_chars:,}", text)
    body = _unwrap(text)
    if fmt == "auto":
        fmt = _detect(body)
    reader = _READERS.get(fmt)
    if reader is None:
        return Parsed([], "text", f"unknown call format {fmt!r}; expected one of {', '.join(FORMATS)}", text)
    try:
        calls = reader(body)
    except _Malformed as e:
        return Parsed([], fmt, str(e), text)
    except (RecursionError, MemoryError):  # adversarially deep nesting; stdlib parsers recurse
        return Parsed([], fmt, _TOO_DEEP, text)
    if len(calls) > MAX_CALLS:
        return Parsed([], fmt, too_many_calls(len(calls)), text)
    # A value nests no deeper than the text has brackets: the exact check runs only when it could fail.
    if sum(map(body.count, "[{(")) > MAX_DEPTH and any(too_deep(call.arguments) for call in calls):
        return Parsed([], fmt, _TOO_DEEP, text)
    return Parsed(calls, fmt, None, text)


def too_many_calls(count: int) -> str:
    """The format error of an output with more than MAX_CALLS calls (the judge's official readers use it too)."""
    return f"{count} calls in one output, over the limit of {MAX_CALLS}; make the calls the task needs"


_TOO_DEEP = f"the call is nested over {MAX_DEPTH} levels deep; write flat JSON-like arguments"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a JSON-like value nests lists and dicts more than `limit` levels deep; read level by level,
    without recursion."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list, tuple))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, (dict, list, tuple)) for item in level)


def _unwrap(text: str) -> str:
    """Drop a Llama-3.1 `<|python_tag|>`, and Markdown code fences around calls that prose may surround."""
    body = text.strip()
    if body.startswith("<|python_tag|>"):
        body = body[len("<|python_tag|>") :].lstrip()
    if body.startswith("```") or ("```" in body and not _anchored(body) and not _REACT_MARK.search(body)):
        fenced = _FENCE.search(body)
        if fenced:
            return fenced.group(1).strip()
    return body


def _anchored(body: str) -> str | None:
    """The format a body starts with, if it starts with a call."""
    if body.startswith("<tool_call>"):
        return "tool_call"
    if body.startswith("{") or _JSON_LIST.match(body):
        return "json"
    return "python" if _PY_START.match(body) else None


def _detect(body: str) -> str:
    """Formats a call starts with come first, so a marker inside a string value cannot mislead the detection;
    JSON and Python values hold no raw newline, so ReAct's line-start markers cannot come from inside one."""
    anchored = _anchored(body)
    if anchored:
        return anchored
    if _REACT_MARK.search(body):
        return "react"
    if "<tool_call>" in body:
        return "tool_call"
    return "json" if _JSON_CALL.search(body) else "text"


# ---- readers: body -> calls, or _Malformed ----


def _read_text(body: str) -> list[ToolCall]:
    return []


def _read_python(body: str) -> list[ToolCall]:
    simple = _simple_call(body)
    return [simple] if simple is not None else _read_python_ast(body)


def _read_python_ast(body: str) -> list[ToolCall]:
    try:  # one expression (a call, or a list of calls) is the common case, and "eval" mode parses it faster
        statements, error = [ast.Expr(ast.parse(body, _SOURCE, "eval").body)], None
    except (SyntaxError, ValueError) as e:
        statements, error = None, e
    if statements is None and ("\n" in body or ";" in body):  # statements; on one line "exec" fails as "eval" did
        try:
            statements = ast.parse(body, _SOURCE, "exec").body
        except (SyntaxError, ValueError) as e:
            error = e
    if isinstance(error, SyntaxError) and statements is None:
        raise _Malformed(f"invalid Python call syntax ({error.msg}, line {error.lineno}); write {_PY_EXAMPLE}")
    if statements is None:  # null bytes, integer literals beyond the digit limit
        raise _Malformed(f"unreadable Python call ({error}); write {_PY_EXAMPLE}")
    calls = []
    for statement in statements:
        if not isinstance(statement, ast.Expr):
            raise _Malformed(
                f"only calls are allowed, found a {type(statement).__name__} statement; write {_PY_EXAMPLE}"
            )
        node = statement.value
        for item in node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]:
            calls.append(_python_call(item))
    if not calls:
        raise _Malformed(f"no call found; write {_PY_EXAMPLE}")
    return calls


# The fast path for the common call, `name(key="text", n=3, flag=True)`, on one line: a regular expression reads
# exactly the subset where Python's reading is plain (ASCII names, no keywords, strings without backslashes or
# quotes inside, decimal numbers); anything else, or anything odd, goes to `ast`, which decides as before.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"-?(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,30})?(?:[eE][+-]?[0-9]{1,3})?"
_VALUE = rf"""(?:"[^"\\\n\r\x00]*"|'[^'\\\n\r\x00]*'|{_NUMBER}|[A-Za-z]+)"""
_SIMPLE_HEAD = re.compile(rf"({_NAME}(?:\.{_NAME})*)\(")
_SIMPLE_ARG = re.compile(rf"[ \t]*({_NAME})[ \t]*=[ \t]*({_VALUE})[ \t]*([,)])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _simple_call(body: str) -> ToolCall | None:
    """The call of a one-line `name(key=literal, ...)` body, read as `ast` would; None for anything else."""
    head = _SIMPLE_HEAD.match(body)
    if head is None or body[-1] != ")" or (not body.isascii() and _SURROGATE.search(body)):
        return None
    name, arguments, pos = head.group(1), {}, head.end()
    if any(iskeyword(part) for part in name.split(".")):
        return None
    if pos == len(body) - 1:  # name()
        return ToolCall(name, arguments)
    while pos < len(body):  # one argument a match, up to its "," or the closing ")"
        arg = _SIMPLE_ARG.match(body, pos)
        if arg is None:
            return None
        key, value, end = arg.groups()
        if iskeyword(key) or key in arguments or key == "__debug__" or (end == ")" and arg.end() != len(body)):
            return None
        if value[0] in "\"'":
            arguments[key] = value[1:-1]
        elif value[0].isalpha():
            if value.lower() not in _JSON_NAMES:  # True, False, None, and the JSON spellings, as _literal reads them
                return None  # a variable name: ast says what is wrong
            arguments[key] = _JSON_NAMES[value.lower()]
        else:
            arguments[key] = float(value) if "." in value or "e" in value or "E" in value else int(value)
        pos = arg.end()
    return ToolCall(name, arguments)


def _python_call(node: ast.AST) -> ToolCall:
    if not isinstance(node, ast.Call):
        raise _Malformed(f"expected a function call, found {_describe(node)}; write {_PY_EXAMPLE}")
    name = _dotted_name(node.func)
    if name is None:
        raise _Malformed(f"the tool name must be a plain name such as get_weather, found {_describe(node.func)}")
    if node.args:
        raise _Malformed(f'{name}(): pass every argument by keyword, e.g. {name}(city="Paris")')
    arguments = {}
    for keyword in node.keywords:
        if keyword.arg is None and not isinstance(keyword.value, ast.Dict):
            raise _Malformed(f"{name}(): **kwargs is not allowed; pass every argument by keyword")
        try:  # **{"not-an-identifier": 1} carries keys that cannot be keywords
            value = _literal(keyword.value)
        except _Malformed as e:
            raise _Malformed(f"{name}() argument '{keyword.arg or '**'}': {e}") from None
        if keyword.arg is None:
            arguments.update(value)
        else:
            arguments[keyword.arg] = value
    return ToolCall(name, arguments)


def _dotted_name(node: ast.AST) -> str | None:
    """`math.factorial` -> "math.factorial"; anything but names and attribute chains -> None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted_name(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


_JSON_NAMES = {"true": True, "false": False, "null": None, "none": None}


def _literal(node: ast.AST) -> Any:
    """JSON-like value of a literal expression; anything that would need evaluating is rejected."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, bool, int, float))):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(element) for element in node.elts]
    if isinstance(node, ast.Dict):
        if not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            raise _Malformed("dictionary keys must be string literals")
        return {k.value: _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
            return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.Name) and node.id.lower() in _JSON_NAMES:  # JSON spellings models often use
        return _JSON_NAMES[node.id.lower()]
    raise _Malformed(
        f"only literal values (strings, numbers, booleans, None, lists, dicts) are allowed, found {_describe(node)}"
    )


_NODE_NAMES = {
    ast.Call: "a function call",
    ast.Attribute: "an attribute access",
    ast.Lambda: "a lambda",
    ast.JoinedStr: "an f-string",
    ast.Name: "a variable name",
    ast.Subscript: "a subscript",
    ast.BinOp: "an arithmetic expression",
    ast.Set: "a set",
    ast.Starred: "a starred expression",
}


def _describe(node: ast.AST) -> str:
    return _NODE_NAMES.get(type(node), f"an expression ({type(node).__name__})")


def _read_react(body: str) -> list[ToolCall]:
    marks = list(_REACT_MARK.finditer(body))
    calls, action = [], None
    for i, mark in enumerate(marks):
        kind = " ".join(mark.group(1).split())
        content = body[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(body)].strip()
        if kind == "Action":
            if action is not None:
                raise _Malformed(f"Action '{action}' has no Action Input; write\n{_REACT_EXAMPLE}")
            if not content or "\n" in content:
                raise _Malformed(f"Action must be followed by one tool name on the same line; write\n{_REACT_EXAMPLE}")
            action = content
        elif kind == "Action Input":
            if action is None:
                raise _Malformed(f"Action Input without an Action before it; write\n{_REACT_EXAMPLE}")
            calls.append(ToolCall(action, _load_object(content, "Action Input")))
            action = None
        elif kind == "Final Answer":
            calls.append(ToolCall("finish", {"answer": content}))
    if action is not None:
        raise _Malformed(f"Action '{action}' has no Action Input; write\n{_REACT_EXAMPLE}")
    if not calls:
        raise _Malformed(f"no Action or Final Answer found; write\n{_REACT_EXAMPLE}\nor Final Answer: <your answer>")
    return calls


def _read_tool_call(body: str) -> list[ToolCall]:
    """Each block is read from its start (so a tag inside a string value cannot cut it), and its closing tag is
    looked for only when the JSON fails: a scan per block to the end of the text would make 20k unclosed blocks
    cost seconds."""
    calls, at, number = [], body.find("<tool_call>"), 0
    while at >= 0:
        number += 1
        start = _SPACES.match(body, at + len("<tool_call>")).end()
        try:
            value, end = _DECODER.raw_decode(body, start)
        except ValueError:
            close = body.find("</tool_call>", start)
            end = close if close >= 0 else len(body)  # a last block left unclosed still counts
            value = _load_value(body[start:end], f"<tool_call> block {number}")
        calls.extend(_json_call(item) for item in (value if isinstance(value, list) else [value]))
        at = body.find("<tool_call>", end)
    return calls


def _read_json(body: str) -> list[ToolCall]:
    found = _JSON_CALL.search(body)
    pos = 0 if body[:1] in ("{", "[") else found.start() if found else len(body)
    values = []
    while pos < len(body) and body[pos] in "{[":  # several objects in a row: JSON Lines, or ", "-separated
        try:
            value, pos = _DECODER.raw_decode(body, pos)
        except ValueError as e:
            if values:
                break
            raise _Malformed(f"invalid JSON ({e}); write {_JSON_EXAMPLE}") from None
        values.append(value)
        while pos < len(body) and body[pos] in " \t\r\n,;":
            pos += 1
    if not values:
        raise _Malformed(f"no JSON call found; write {_JSON_EXAMPLE}")
    calls = []
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
            value = value["tool_calls"]
        calls.extend(_json_call(item) for item in (value if isinstance(value, list) else [value]))
    return calls


def _json_call(item: Any) -> ToolCall:
    """{"name", "arguments"|"parameters"} or OpenAI's {"function": {"name", "arguments": "<json string>"}}."""
    if isinstance(item, dict) and isinstance(item.get("function"), dict):
        item = item["function"]
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
        raise _Malformed(f'each call must be an object with a "name" string; write {_JSON_EXAMPLE}')
    arguments = item.get("arguments", item.get("parameters"))
    if arguments is None or arguments == "":
        arguments = {}
    elif isinstance(arguments, str):  # OpenAI sends the arguments as a JSON string
        arguments = _load_object(arguments, f'"arguments" of {item["name"]}')
    if not isinstance(arguments, dict):
        raise _Malformed(f'"arguments" of {item["name"]} must be a JSON object; write {_JSON_EXAMPLE}')
    return ToolCall(item["name"].strip(), arguments)


def _load_value(text: str, where: str, example: str = _JSON_EXAMPLE) -> Any:
    """A JSON value at the start of `text` (trailing text ignored), else a Python literal; _Malformed if neither."""
    text = text.strip()
    if text.startswith("```"):
        text = _FENCE.match(text).group(1).strip()
    if not text:
        raise _Malformed(f"{where} is empty; write {example}")
    try:
        return _DECODER.raw_decode(text)[0]
    except ValueError as e:
        json_error = str(e)
    try:  # single-quoted dicts, True/False/None: read as literals, never evaluated
        return _literal(ast.parse(text, _SOURCE, "eval").body)
    except (SyntaxError, ValueError):
        raise _Malformed(f"{where} is not valid JSON ({json_error}); write {example}") from None


def _load_object(text: str, where: str) -> dict:
    value = _load_value(text, where, '{"city": "Paris"}, or {} when the tool takes no arguments')
    if not isinstance(value, dict):
        raise _Malformed(f'{where} must be a JSON object, got {type(value).__name__}; write {{"city": "Paris"}}')
    return value


_READERS = {
    "python": _read_python,
    "react": _read_react,
    "json": _read_json,
    "tool_call": _read_tool_call,
    "text": _read_text,
}


def format_call(call: ToolCall | dict, fmt: str) -> str:
    """Render one call in a format ("python", "react", "json", "tool_call"); `parse` reads it back.

    In python, JSON values become Python literals (True, None) and keys that cannot be keywords go in `**{...}`."""
    if isinstance(call, dict):
        call = ToolCall(call["name"], call.get("arguments") or {})
    if fmt == "python":
        # ASCII only: Python NFKC-normalises other identifiers, which would change the key
        plain = {k: v for k, v in call.arguments.items() if k.isascii() and k.isidentifier() and not iskeyword(k)}
        rest = {k: v for k, v in call.arguments.items() if k not in plain}
        rendered = [f"{key}={value!r}" for key, value in plain.items()] + ([f"**{rest!r}"] if rest else [])
        return f"{call.name}({', '.join(rendered)})"
    payload = json.dumps(call.arguments, ensure_ascii=False)
    if fmt == "react":
        return f"Thought:\nAction: {call.name}\nAction Input: {payload}"
    as_json = json.dumps(call.as_dict(), ensure_ascii=False)
    if fmt == "json":
        return as_json
    if fmt == "tool_call":
        return f"<tool_call>\n{as_json}\n</tool_call>"
    raise ValueError(f"unknown call format {fmt!r}; expected python, react, json or tool_call")


def name_pattern(name: str) -> re.Pattern[str]:
    """Where a call of `name` sits in a text, as `format_call` writes it in any syntax (`Action: NAME`,
    `"name": "NAME"`, `NAME(`); the name is group 1 or 2. PKT places its key tokens with it."""
    n = re.escape(name)
    return re.compile(rf"(?:Action:\s*|\"name\"\s*:\s*\")({n})(?![\w.])|(?<![\w.])({n})\s*\(")
