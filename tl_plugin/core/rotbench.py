"""RoTBench's official reading and TS/PI/CF rules (Junjie-Ye/RoTBench, Code/Evaluation/evaluate.py, version 0).

The official scorer reads text by position, not by grammar, and this module does the same:
- the action is the text from 8 characters after "Action:" (the colon and one assumed space) up to "Action Input:",
  minus one trailing newline; nothing else is stripped, so " name" or "name " is another tool;
- the input is `json.loads` of everything from 14 characters after "Action Input:" to the end, so Python-style dicts,
  code fences and text after the JSON ("\\nObservation: ...") are unreadable; a missing marker makes `find` -1,
  which the scorer still slices with;
- an item whose input is unreadable, a string, or empty (`{}`, `0`, `null`, `[]`) fails TS, PI and CF, gold
  answers included: no tool without parameters can ever be scored right.
TS: the action equals a gold answer's action; "finish" stands for the last tool of the list when a gold answer names
it (and from then on stays that name for the later answers, as the scorer's loop reassigns it). PI: ... and the same
keys. CF: ... and, after dropping the keys whose gold value is the string "None" from both sides, equal dicts under
Python `==` (so 1 == 1.0 == True); values are not compared when the gold names the last or second-to-last tool of the
list or is literally "finish" or "ask_to_user". The dropped keys stay dropped for the item's later gold answers.
The tool list is the JSON from the system prompt's first "[" to its last 13 characters, as the scorer reads it.
Where the official script would crash (an input that is JSON but not a dict reaching the key check, an empty action,
an empty tool list, or one of one tool reaching the value check), the item fails the checks it could not finish;
nothing here raises on model text.
"""

from __future__ import annotations

import json
from typing import Any

UNCHECKED_NAMES = ("finish", "ask_to_user")  # the names whose values CF never compares


def tools(system: str) -> list[dict] | None:
    """An item's tool list as the scorer reads it (`get_config`): JSON from the system prompt's first "[" to its
    last 13 characters (the prompt ends "\n\nLet's Begin!"); None when that is not a list of named tools."""
    try:
        value = json.loads(system[system.find("[") : -13])
    except (ValueError, RecursionError):
        return None
    named = isinstance(value, list) and all(isinstance(tool, dict) and "name" in tool for tool in value)
    return value if named else None


def read(text: str) -> tuple[str, Any]:
    """(action, input) as the official scorer slices them (gold answers too); input is None when not JSON."""
    action = text[text.find("Action:") + 8 : text.find("Action Input:")]
    if action.endswith("\n"):
        action = action[:-1]
    try:
        value = json.loads(text[text.find("Action Input:") + 14 :])
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; deep nesting would crash the script
        return action, None
    return action, value


def score(action: str, value: Any, answers: list[tuple[str, dict]], tool_names: list[str]) -> tuple[bool, bool, bool]:
    """(TS, PI, CF) of one read prediction against the item's gold answers [(action, input)], in their order, and the
    names of the item's tool list, in its order (duplicates included)."""
    if isinstance(value, str) or not value or not action or not tool_names:  # the scorer stops (or crashes) here
        return False, False, False
    last = tool_names[-1]
    ts = pi = cf = False
    name = action
    for gold_name, _ in answers:  # TS
        if gold_name == last and name == "finish":
            name = gold_name
        if gold_name == name:
            ts = True
            break
    if not isinstance(value, dict):  # the official key check raises here: PI and CF cannot pass
        return ts, False, False
    name = action
    for gold_name, gold_input in answers:  # PI
        if gold_name == last and name == "finish":
            name = gold_name
        if gold_name == name and gold_input.keys() == value.keys():
            pi = True
            break
    name, predicted = action, dict(value)
    for gold_name, gold_input in answers:  # CF; `predicted` loses the "None" keys for good, as in the scorer
        if gold_name == last and name == "finish":
            name = gold_name
        if gold_name != name or gold_input.keys() != predicted.keys():
            continue
        if len(tool_names) < 2:  # the scorer's lookup of the second-to-last tool raises here
            break
        dropped = [key for key, gold_value in gold_input.items() if gold_value == "None"]
        expected = {key: v for key, v in gold_input.items() if key not in dropped}
        for key in dropped:
            del predicted[key]
        if gold_name in (*tool_names[-2:], *UNCHECKED_NAMES) or expected == predicted:  # the last two: unchecked
            cf = True
            break
    return ts, pi, cf
