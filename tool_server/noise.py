"""RoTBench-style documentation noise for a tool list, seeded, with the renaming that rewrites gold answers.

Levels (RoTBench, Section 3): slight = a character typo in every tool and parameter name; medium = every name
reversed or replaced by random letters; heavy = tool names shuffled among the tools, plus one extra required
parameter per tool; union = one random tool-level and one random parameter-level noise. "clean" changes nothing.
"""

from __future__ import annotations

import copy
import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

LEVELS = ("clean", "slight", "medium", "heavy", "union")
_EXTRA_NAMES = ("api_version", "request_id", "client_tag", "auth_token", "locale_code", "trace_id")


@dataclass
class NoisyTools:
    """A noisy tool list and how it was renamed (keys are always the ORIGINAL tool names)."""

    tools: list[dict]  # OpenAI schemas, in the original order
    tool_names: dict[str, str]  # original tool name -> noisy tool name
    param_names: dict[str, dict[str, str]] = field(default_factory=dict)  # tool -> {original param -> noisy}
    extra_arguments: dict[str, dict[str, str]] = field(default_factory=dict)  # tool -> {added required param -> value}

    def rewrite_call(self, call: dict) -> dict:
        """A call `{"name", "arguments"}` against the original tools (e.g. a gold answer), as the same call
        against the noisy tools: renamed tool and keys, plus the added required arguments. Unknown names and
        keys are kept as they are."""
        name, arguments = call["name"], call.get("arguments") or {}
        renames = self.param_names.get(name, {})
        rewritten = {renames.get(key, key): value for key, value in arguments.items()}
        return {
            "name": self.tool_names.get(name, name),
            "arguments": {**rewritten, **self.extra_arguments.get(name, {})},
        }


def add_noise(tools: Iterable[dict], level: str, seed: int = 0) -> NoisyTools:
    """Noisy copies of OpenAI tool schemas (`{"name", "description", "parameters"}` or wrapped in
    `{"type": "function", "function": ...}`) at a RoTBench level; the same tools, level and seed give the same
    result. Raises ValueError for an unknown level."""
    if level not in LEVELS:
        raise ValueError(f"unknown noise level '{level}'; choose one of {', '.join(LEVELS)}")
    rng = random.Random(f"{level}/{seed}")
    schemas = [copy.deepcopy(tool.get("function", tool)) for tool in tools]
    tool_op, param_op = {
        "clean": (None, None),
        "slight": (_typo, _typo),
        "medium": (_reverse_or_random, _reverse_or_random),
        "heavy": ("shuffle", "add_required"),
        "union": (
            rng.choice([_typo, _reverse_or_random, "shuffle"]),
            rng.choice([_typo, _reverse_or_random, "add_required"]),
        ),
    }[level]
    names = [schema["name"] for schema in schemas]
    if tool_op == "shuffle" and len(names) > 1:
        order = rng.sample(names, len(names))  # each name goes to the next tool in a random cycle: none stays
        tool_names = {order[i - 1]: order[i] for i in range(len(order))}
    else:
        tool_names = _rename(names, tool_op if callable(tool_op) else _random_name, rng) if tool_op else {}
    noisy = NoisyTools([], tool_names)
    for schema in schemas:
        original, params = schema["name"], schema.setdefault("parameters", {"type": "object", "properties": {}})
        properties = params.setdefault("properties", {})
        # A name listed twice (RoTBench has such lists) is renamed alike both times: renames are keyed by name,
        # and a gold answer can only say which name it calls.
        if callable(param_op) and properties:
            renames = noisy.param_names.setdefault(original, {})
            renames |= _rename([key for key in properties if key not in renames], param_op, rng)
            params["properties"] = {renames[key]: value for key, value in properties.items()}
            if "required" in params:
                params["required"] = [renames.get(key, key) for key in params["required"]]
        elif param_op == "add_required":
            if original not in noisy.extra_arguments:
                key = next(k for k in (*_EXTRA_NAMES, *(f"param_{i}" for i in range(99))) if k not in properties)
                noisy.extra_arguments[original] = {
                    key: "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))
                }
            ((key, value),) = noisy.extra_arguments[original].items()
            properties[key] = {"type": "string", "enum": [value], "description": f"Required. Always pass '{value}'."}
            params["required"] = [*params.get("required", []), key]
        schema["name"] = tool_names.get(original, original)
        noisy.tools.append(schema)
    return noisy


def _rename(names: list[str], op: Callable[[str, random.Random], str], rng: random.Random) -> dict[str, str]:
    """Each name -> op(name), made unique: never an original name nor another new name (random letters then)."""
    taken, renames = set(names), {}
    for name in names:
        new = op(name, rng)
        while new in taken:
            new = _random_name(name, rng)
        taken.add(new)
        renames[name] = new
    return renames


def _typo(name: str, rng: random.Random) -> str:
    """One inserted, omitted, substituted or swapped character (RoTBench slight noise)."""
    i, letter = rng.randrange(len(name)), rng.choice(string.ascii_lowercase)
    edit = rng.choice(["insert", "omit", "substitute", "swap"] if len(name) > 1 else ["insert", "substitute"])
    if edit == "insert":
        return name[:i] + letter + name[i:]
    if edit == "omit":
        return name[:i] + name[i + 1 :]
    if edit == "substitute":
        return name[:i] + letter + name[i + 1 :]
    i = min(i, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _reverse_or_random(name: str, rng: random.Random) -> str:
    return name[::-1] if rng.random() < 0.5 else _random_name(name, rng)


def _random_name(name: str, rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 10)))
