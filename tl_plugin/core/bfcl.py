"""BFCL v3 AST scoring for Python outputs, re-implemented from bfcl_eval 2026.3.23 (Apache-2.0) rule for rule.

`decode` is `default_decode_ast_prompting` + `ast_parse(language=PYTHON, has_tool_call_tag=False)`; `check` is
`ast_checker(..., Language.PYTHON, category, model)` for a prompting model whose `underscore_to_dot` is False (names
are compared as written); `score_text` and `irrelevance_ok` follow eval_runner's AST and irrelevance entries. The
official quirks are kept on purpose, since scores must match BFCL's: any unary operator negates (`+5`, `~5` and
`not 5` all give -5); positional arguments are dropped; a bare name is its id string; a nested call without keywords
is its source text, with keywords a `{name: args}` dict; `tuple` params accept tuples; an int passes as a float.
tests/test_bfcl_scorer.py checks all of this against the official code.

The one deliberate divergence: the official decoder `eval`s the source of an `ast.BinOp` (`x=2*3`). Model text is
never evaluated here: a BinOp is computed only when its operands are int/float/str constants (or such BinOps and
signed numbers), with + - * / // % ** and bounds (exponent <= 64, |base| <= 2**64, results under 4096 bits or
10,000 characters, no printf-style `str % x`); anything else is a DecodeError. A lambda is a DecodeError as in the
official code (whose `value.body[0]` raises before its eval). Where the official checker would raise on bad data
(no schema for the expected function, an array without "items", an unknown type), `check` returns
(False, "checker_error:...") instead.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

from tl_plugin.core.parsing import ToolCall

# PYTHON_TYPE_MAPPING: schema type -> the Python type a value must have ("any" means str there)
TYPES = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list, "tuple": list, "dict": dict}
TYPES["any"] = str
NESTED = ("array", "tuple")  # the types whose items are type-checked (one level deep)
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_BINOPS |= {ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_MAX_BITS, _MAX_CHARS = 4096, 10_000


class DecodeError(ValueError):
    """The text is not a list of Python calls as BFCL reads them (the official decoder raises there)."""


class _Crash(Exception):
    """Internal: the official checker raises at this point; `check` turns it into a checker_error."""


# ---- decoding ----


def decode(text: str) -> list[ToolCall]:
    """BFCL's default_decode_ast_prompting for Python + is_function_calling_format_output; raises DecodeError."""
    text = text.strip("`\n ")
    if not text.startswith("["):
        text = "[" + text
    if not text.endswith("]"):
        text = text + "]"
    try:  # (ast_parse's `.strip().strip("'")` is a no-op now that the text starts with "[" and ends with "]")
        body = ast.parse(text, "<model-output>", "eval").body  # parsing.py silences ast's warnings for this name
        nodes = [body] if isinstance(body, ast.Call) else body.elts  # official: AttributeError without elts
        if not all(isinstance(node, ast.Call) for node in nodes):  # official: assert isinstance(elem, ast.Call)
            raise DecodeError("list item is not a call")
        return [ToolCall(*_call(node)) for node in nodes]
    except DecodeError:
        raise
    except Exception as e:  # SyntaxError, ValueError (NUL byte, huge int), RecursionError/MemoryError on huge or deep
        # input, AttributeError: decode raises nothing else, and eval_runner counts any exception as decoder_failed.
        raise DecodeError(f"not a list of Python calls: {type(e).__name__}") from None


def _call(node: ast.Call) -> tuple[str, dict]:
    parts, func = [], node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):  # any other base (a call, a subscript) is silently left out of the name
        parts.append(func.id)
    # Positional args are ignored; `**kw` gives the key None, as in the official dict.
    return ".".join(reversed(parts)), {kw.arg: _value(kw.value) for kw in node.keywords}


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp):  # official: `-value.operand.value` whatever the operator
        operand = node.operand
        if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float, complex)):
            return -operand.value
        raise DecodeError("unsupported unary operand")  # official: AttributeError/TypeError
    if isinstance(node, ast.List):
        return [_value(v) for v in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(v) for v in node.elts)
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:  # `{**x}`: official resolve_ast_by_type(None) raises
                raise DecodeError("dict unpacking")
            key, val = _value(k), _value(v)
            try:
                out[key] = val
            except TypeError:  # unhashable key
                raise DecodeError("unhashable dict key") from None
        return out
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        if not node.keywords:
            return ast.unparse(node)
        name, args = _call(node)
        return {name: args}
    if isinstance(node, ast.Subscript):  # official: its try on `value.body` always fails into this fallback
        return ast.unparse(node.value) + "[" + ast.unparse(node.slice) + "]"
    if isinstance(node, ast.BinOp):
        return _arith(node)
    raise DecodeError(f"unsupported value: {type(node).__name__}")  # Lambda, Attribute, Set, JoinedStr, ...


def _arith(node: ast.expr) -> Any:
    """The safe stand-in for the official `eval(ast.unparse(binop))`: constants and bounded arithmetic only."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):  # eval's real semantics here
        v = _arith(node.operand)
        if isinstance(v, str):
            raise DecodeError("sign of a string")
        return -v if isinstance(node.op, ast.USub) else +v
    if not isinstance(node, ast.BinOp) or type(node.op) not in _BINOPS:
        raise DecodeError("expression is not constant arithmetic")
    left, right = _arith(node.left), _arith(node.right)
    strs = isinstance(left, str) + isinstance(right, str)
    if isinstance(node.op, ast.Pow) and (strs or abs(right) > 64 or abs(left) > 2**64):
        raise DecodeError("power out of bounds")
    if isinstance(node.op, ast.Mod) and isinstance(left, str):  # printf formatting can build huge strings
        raise DecodeError("string formatting")
    if isinstance(node.op, ast.Mult) and strs == 1:
        text, times = (left, right) if isinstance(left, str) else (right, left)
        if isinstance(times, int) and len(text) * times > _MAX_CHARS:
            raise DecodeError("string too long")
    try:
        result = _BINOPS[type(node.op)](left, right)
    except (ArithmeticError, TypeError, ValueError) as e:
        raise DecodeError(f"arithmetic failed: {type(e).__name__}") from None
    if isinstance(result, int) and result.bit_length() > _MAX_BITS:
        raise DecodeError("number too large")
    if isinstance(result, str) and len(result) > _MAX_CHARS:
        raise DecodeError("string too long")
    return result


# ---- checking ----


def check(
    functions: list[dict], calls: list[ToolCall], possible_answer: list[dict], category: str
) -> tuple[bool, str | None]:
    """(valid, error_type) exactly as ast_checker gives for language Python. possible_answer is BFCL's ground_truth list
    [{func_name: {param: [accepted values]}}]; category is the BFCL test category name (e.g. "simple", "multiple",
    "parallel", "parallel_multiple", or a file stem like "BFCL_v3_parallel_multiple"): "parallel" in it -> no-order
    parallel checker, elif "multiple" in it -> multiple checker, else simple. error_type None when valid."""
    try:
        if "parallel" in category:
            return _parallel(functions, calls, possible_answer)
        if "multiple" in category:
            if len(calls) != len(possible_answer):
                return False, "multiple_function_checker:wrong_count"
            if not possible_answer or not possible_answer[0]:  # official: IndexError
                raise _Crash("empty_possible_answer")
            # Only the first call is checked, against the schema of the expected function.
            return _simple(_find(functions, next(iter(possible_answer[0]))), calls[0], possible_answer[0])
        if len(calls) != 1:
            return False, "simple_function_checker:wrong_count"
        if not functions or not possible_answer:  # official: IndexError
            raise _Crash("empty_functions_or_answer")
        return _simple(functions[0], calls[0], possible_answer[0])  # the first schema, whatever its name
    except _Crash as e:
        return False, f"checker_error:{e}"
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as e:  # a malformed schema or answer
        return False, f"checker_error:malformed_{type(e).__name__}"


def _find(functions: list[dict], name: str) -> dict | None:
    return next((f for f in functions if f.get("name") == name), None)


def _parallel(functions: list[dict], calls: list[ToolCall], answers: list[dict]) -> tuple[bool, str | None]:
    if len(calls) != len(answers):
        return False, "parallel_function_checker_no_order:wrong_count"
    matched: set[int] = set()
    for answer in answers:  # greedy: each expected call, in gold order, takes the first unmatched call that passes
        if not answer:
            raise _Crash("empty_possible_answer")  # official: IndexError
        schema = _find(functions, next(iter(answer)))
        index = next((i for i, c in enumerate(calls) if i not in matched and _simple(schema, c, answer)[0]), None)
        if index is None:
            return False, "parallel_function_checker_no_order:cannot_find_match"
        matched.add(index)
    return True, None


def _simple(schema: dict | None, call: ToolCall, answer: dict) -> tuple[bool, str | None]:
    if schema is None:
        raise _Crash("function_not_found")  # official: find_description gave None, then None["name"] raises
    if not answer:
        raise _Crash("empty_possible_answer")  # official: IndexError
    expected = next(iter(answer.values()))
    try:
        name, props, required = schema["name"], schema["parameters"]["properties"], schema["parameters"]["required"]
    except (KeyError, TypeError):
        raise _Crash("bad_schema") from None  # official: KeyError
    if call.name != name:
        return False, "simple_function_checker:wrong_func_name"
    args = call.arguments
    if any(param not in args for param in required):
        return False, "simple_function_checker:missing_required"
    for param, value in args.items():
        if param not in props or param not in expected:
            return False, "simple_function_checker:unexpected_param"
        kind, want, inner = props[param].get("type"), _py_type(props[param]), None
        if want is None:
            raise _Crash("unknown_type")  # official: KeyError in PYTHON_TYPE_MAPPING
        if kind in NESTED and (inner := _py_type(props[param].get("items", {}))) is None:
            raise _Crash("bad_items")  # official: KeyError on ["items"]["type"] or in the mapping
        if kind == "tuple" and type(value) is tuple:  # gold tuples became lists through JSON
            value = list(value)
        if kind == "float" and type(value) is int:
            value = float(value)
        ok, error, is_variable = _type_check(value, expected[param], want, inner)
        if not ok:
            return False, error
        if not is_variable:  # a variable (answers of another type than the schema's) skips the special checkers
            special = None
            if want is dict:
                special = _dict_check(value, expected[param])
            elif want is list and inner is dict:
                special = _list_dict_check(value, expected[param])
            elif want is str:
                special = _string_check(value, expected[param])
            elif want is list:
                special = _list_check(value, expected[param])
            if special is not None:
                if not special[0]:
                    return special
                continue
        if value not in expected[param]:
            return False, "value_error:others"
    if any(param not in args and "" not in accepted for param, accepted in expected.items()):
        return False, "simple_function_checker:missing_optional"  # "" among the answers marks an optional param
    return True, None


def _py_type(schema: dict) -> type | None:
    kind = schema.get("type")
    return TYPES.get(kind) if isinstance(kind, str) else None


def _type_check(value: Any, answers: list, want: type, inner: type | None) -> tuple[bool, str | None, bool]:
    """(valid, error_type, is_variable) as the official type_checker."""
    answer_type = next((type(a) for a in answers if a != ""), None)
    is_variable = answer_type is not None and answer_type is not want
    nested_failed = False
    if type(value) is want:
        if inner is None:
            return True, None, is_variable
        for item in answers:  # items must fit one list answer; any non-list answer (e.g. "") lets them through
            if type(item) is not list or all(_type_check(v, item, inner, None)[0] for v in value):
                return True, None, is_variable
        nested_failed = True
    if answer_type is not None and type(value) is answer_type:
        # After a nested failure the official code returns its still-invalid result here, as type_error:nested.
        return (False, "type_error:nested", True) if nested_failed else (True, None, True)
    return False, "type_error:simple", is_variable


def standardize(text: str) -> str:
    """BFCL's standardize_string: drop spaces and ,./-_*^, lowercase, ' -> "."""
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return standardize(value) if type(value) is str else value


def _string_check(value: str, answers: list) -> tuple[bool, str | None]:
    if standardize(value) not in [standardize(a) for a in answers if type(a) is str]:
        return False, "value_error:string"
    return True, None


def _list_check(value: list, answers: list) -> tuple[bool, str | None]:
    def items(answer: Any) -> list:
        if not isinstance(answer, (list, tuple, str)):  # official: len()/[] raise
            raise _Crash("bad_list_answer")
        return [_std(a) for a in answer]  # a string answer is read char by char ("" matches [])

    if [_std(v) for v in value] not in [items(a) for a in answers]:
        return False, "value_error:list/tuple"
    return True, None


def _dict_check(value: Any, answers: list) -> tuple[bool, str | None]:
    error = "dict_checker:unclear"
    for answer in answers:
        if answer == "":
            continue
        if not isinstance(value, dict) or not isinstance(answer, dict):
            raise _Crash("dict_expected")  # official: .items() on a non-dict
        error, ok = "dict_checker:unclear", True
        for key, v in value.items():
            if key not in answer:
                error, ok = "value_error:dict_key", False
                break
            if _std(v) not in [_std(a) for a in answer[key]]:
                error, ok = "value_error:dict_value", False
                break
        # Runs even after a failure above, so a missing key overwrites a dict_value error (official quirk).
        if any(key not in value and "" not in accepted for key, accepted in answer.items()):
            error, ok = "value_error:dict_key", False
        if ok:
            return True, None
    return False, error


def _list_dict_check(value: list, answers: list) -> tuple[bool, str | None]:
    error: str | None = "list_dict_checker:unclear"
    for answer in answers:  # dicts are matched in order against one answer list at a time
        if not isinstance(answer, (list, tuple, str)):
            raise _Crash("bad_list_answer")  # official: len() raises
        if len(value) != len(answer):
            error = "value_error:list_dict_count"
            continue
        ok = True
        for item, expected in zip(value, answer):
            ok, error = _dict_check(item, [expected])
            if not ok:
                break
        if ok:
            return True, None
    return False, error


# ---- whole outputs ----


def score_text(text: str, functions: list[dict], possible_answer: list[dict], category: str) -> tuple[bool, str | None]:
    """decode + check, with decode failures as ("ast_decoder:decoder_failed") or wrong output format, as eval_runner
    does."""
    try:
        calls = decode(text)
    except DecodeError:
        return False, "ast_decoder:decoder_failed"
    # is_function_calling_format_output cannot fail on this decoder's output (each call is {name: dict}); kept
    # for callers that build ToolCalls themselves.
    if not all(isinstance(c.arguments, dict) for c in calls):
        return False, "ast_decoder:decoder_wrong_output_format"
    return check(functions, calls, possible_answer, category)


def irrelevance_ok(text: str) -> bool:
    """True when BFCL counts the output as 'no function call' (decode fails or is_empty_output)."""
    try:
        calls = decode(text)
    except DecodeError:
        return True
    # is_empty_output: [] or [{}]; the latter cannot come from decode, whose every call has a name key.
    return not calls
