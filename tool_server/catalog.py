"""Tool catalogs: OpenAI function schemas, the Python functions behind them, and mock outputs for the rest.

A catalog is loaded from typed Python functions (the built-in tools) or from JSON files in the OpenAI format
(a schema, a list of schemas, or `{"type": "function", "function": schema}` wrappers), one file or a directory
tree. In a directory each file's folder is a toolset: ToolEyes defines one name differently in several folders,
and a call made within a toolset resolves names there first.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import FormatChecker, validators
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

# What a tool without a function answers when its schema has no "returns" schema: the shape of a search API.
DEFAULT_RETURNS = {
    "type": "object",
    "properties": {
        "status": {"enum": ["success"]},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "minimum": 1, "maximum": 99999},
                    "title": {"type": "string"},
                    "value": {"type": "number", "minimum": 0, "maximum": 1000},
                },
            },
        },
    },
}
_WORDS = "alpha amber river stone cloud maple harbor signal violet summit copper lantern meadow orbit".split()
_FORMAT_CHECKER = FormatChecker()
# The compiled validator checks formats with jsonschema's own functions, so a format never reads two ways.
_FORMATS = {name: functools.partial(lambda fmt, value: _FORMAT_CHECKER.conforms(value, fmt), name)
            for name in _FORMAT_CHECKER.checkers}  # fmt: skip


class ToolCallFailure(Exception):
    """The exception a tool raises for a well-formed call it cannot satisfy (unknown city, division by zero,
    missing record...): the server answers it as a tool_call_failure, worded from the exception's message."""


@dataclass(frozen=True, eq=False)
class Tool:
    """One tool: its OpenAI function schema `{"name", "description", "parameters"}`, the Python function that
    answers it (None: deterministic mock outputs) and the toolset (catalog folder) that defines it."""

    schema: dict
    fn: Callable[..., Any] | None = None
    toolset: str | None = None
    fast: Any = None  # the compiled validator (jsonschema-rs) of the parameters; None: jsonschema alone decides

    @property
    def name(self) -> str:
        return self.schema["name"]

    @cached_property
    def stateful(self) -> bool:
        """Whether the function takes the keyword-only `session` dict the server keeps per session id."""
        return self.fn is not None and "session" in inspect.signature(self.fn).parameters

    @cached_property
    def validator(self) -> Validator:
        """The jsonschema validator of the parameters, built once per tool: the reference that explains failures."""
        params = self.schema["parameters"]
        return _python_typed(validator_for(params))(params, format_checker=_FORMAT_CHECKER)

    @cached_property
    def integer_typed(self) -> bool:
        """Whether some parameter is an integer: there the compiled validator takes 5.0 for one, jsonschema not."""
        return b'"integer"' in orjson.dumps(self.schema["parameters"])


@functools.cache
def _python_typed(cls: type[Validator]) -> type[Validator]:
    """The validator class where 5.0 is not an integer: JSON Schema says it is, but the Python tool would get a
    float, and the model should hear about its mistake as a wrong type, not meet a crash."""
    checker = cls.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(cls, type_checker=checker)


class Catalog:
    """Tools by toolset and name. Within a toolset the first definition of a name wins; a name asked for
    without a toolset (or absent from it) resolves to its first definition in load order (sorted paths)."""

    def __init__(self, tools: Iterable[Tool]):
        self.toolsets: dict[str | None, dict[str, Tool]] = {}
        self.by_name: dict[str, Tool] = {}
        for tool in tools:
            self.toolsets.setdefault(tool.toolset, {}).setdefault(tool.name, tool)
            self.by_name.setdefault(tool.name, tool)

    def __len__(self) -> int:
        return sum(len(tools) for tools in self.toolsets.values())

    def resolve(self, name: str, toolset: str | None = None) -> Tool | None:
        """The tool a call names, looked up in `toolset` first; None when the catalog has no such tool."""
        tool = self.toolsets.get(toolset, {}).get(name) if toolset is not None else None
        return tool or self.by_name.get(name)

    def schemas(self, names: Iterable[str] | None = None, toolset: str | None = None) -> list[dict]:
        """OpenAI schemas of a toolset (all tools when None), optionally only `names`, in catalog order.
        Raises KeyError with a readable message for an unknown toolset or name."""
        if toolset is not None and toolset not in self.toolsets:
            raise KeyError(f"unknown toolset '{toolset}'")
        tools = self.toolsets[toolset] if toolset is not None else self.by_name
        if names is None:
            return [tool.schema for tool in tools.values()]
        unknown = [name for name in names if name not in tools]
        if unknown:
            raise KeyError(f"unknown tool(s): {', '.join(unknown)}")
        return [tools[name].schema for name in names]

    @classmethod
    def from_functions(
        cls,
        functions: Iterable[Callable[..., Any]],
        extras: Mapping[str, Mapping[str, dict]] | None = None,
        toolset: str | None = None,
    ) -> Catalog:
        """A catalog of typed Python functions with Google-style docstrings. `extras` (tool -> parameter ->
        JSON-schema keywords) adds what a signature cannot say (ranges, formats); a keyword-only `session`
        argument is the server's per-session state and stays out of the schema."""
        from transformers.utils import get_json_schema  # a 1 s import: only catalogs of functions need it

        tools = []
        for fn in functions:
            schema = get_json_schema(fn)["function"]
            schema.pop("return", None)
            params = schema["parameters"]
            params["properties"].pop("session", None)
            if "session" in params.get("required", []):
                params["required"].remove("session")
            for key, keywords in (extras or {}).get(schema["name"], {}).items():
                params["properties"][key].update(keywords)
            tools.append(Tool(schema, fn, toolset, _compiled(schema, fn.__name__)))
        return cls(tools)


def load_catalog(path: str | Path) -> Catalog:
    """A catalog from one JSON file or every *.json file under a directory (recursively, sorted). Tools of a
    directory belong to the toolset named by their file's folder relative to it ("News/news_search"; None for
    files at the top). Raises ValueError naming the file and entry for anything that is not a tool schema."""
    root = Path(path)
    if not root.exists():
        raise ValueError(f"catalog not found: {root}")
    files = sorted(root.rglob("*.json")) if root.is_dir() else [root]
    tools = []
    for file in files:
        folder = file.parent.relative_to(root).as_posix() if root.is_dir() else "."
        try:
            entries = orjson.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{file}: not a readable JSON file ({exc})") from exc
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            where = f"{file} entry {i}"
            if isinstance(entry, dict) and isinstance(entry.get("function"), dict):
                entry = entry["function"]
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValueError(f"{where}: not a tool schema (no 'name')")
            schema = {"description": "", **entry}
            schema.setdefault("parameters", {"type": "object", "properties": {}})
            tools.append(Tool(schema, None, None if folder == "." else folder, _compiled(schema, where)))
    return Catalog(tools)


def _compiled(schema: dict, where: str) -> Any:
    """The compiled validator of the parameters (None where it must not decide), once they are known to be a
    valid JSON schema of an object with properties. jsonschema-rs checks the schema as it compiles it (10 us,
    against 1-3 ms for jsonschema's check_schema); jsonschema has the last word when it refuses, and on schemas
    with regular expressions, which Python and jsonschema-rs read differently."""
    params = schema["parameters"]
    if not isinstance(params, dict) or not isinstance(params.setdefault("properties", {}), dict):
        raise ValueError(f"{where}: 'parameters' must be a JSON schema object with 'properties'")
    # Keys outside `properties` are hallucinated unless the schema explicitly allows extras (server.py).
    strict = {**params, "additionalProperties": params.get("additionalProperties", False)}
    text = orjson.dumps(params, default=str)
    try:  # jsonschema's format functions only where there are formats: passing them costs 30 us a schema
        formats = _FORMATS if b'"format"' in text else None
        fast = jsonschema_rs.validator_for(strict, validate_formats=True, formats=formats)
    except (jsonschema_rs.ValidationError, ValueError):
        fast = None
    if fast is None or b'"pattern' in text:
        try:
            validator_for(params).check_schema(params)
        except SchemaError as exc:
            raise ValueError(f"{where}: invalid parameters schema: {exc.message}") from exc
        fast = None
    return fast


def canonical_json(value: Any) -> str:
    """One string per JSON value whatever its key order: the key of mock outputs and of the record cache."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def mock_output(tool: Tool, arguments: dict) -> Any:
    """A value of the tool's "returns" schema (DEFAULT_RETURNS when it has none), the same for the same tool
    name and canonical arguments, in any process."""
    seed = hashlib.sha256((tool.name + canonical_json(arguments)).encode()).digest()
    return _mock_value(tool.schema.get("returns", DEFAULT_RETURNS), random.Random(seed))


def _mock_value(schema: dict, rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type", "string")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    low, high = schema.get("minimum", 0), schema.get("maximum", 1000)
    if kind == "object":
        return {key: _mock_value(sub, rng) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_mock_value(schema.get("items", {}), rng) for _ in range(rng.randint(1, 3))]
    if kind == "integer":
        return rng.randint(int(low), int(high))
    if kind == "number":
        return round(rng.uniform(low, high), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if schema.get("format") == "date":
        return (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(366))).isoformat()
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
