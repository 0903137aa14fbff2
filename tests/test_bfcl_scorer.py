"""tl_plugin.core.bfcl against its oracle, the official BFCL code (bfcl_eval): decoder, AST checker and the
irrelevance logic must agree on every BFCL v3 AST item, on perturbations of each, and on generated call texts.
Texts with a BinOp or a lambda never reach the official decoder, which evals them; our safe arithmetic is checked
against hand-written values instead."""

import ast
import copy
import functools
import json
import random
import sys
import types
from importlib.util import find_spec
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tl_plugin.core.bfcl import DecodeError, check, decode, irrelevance_ok, score_text
from tl_plugin.core.parsing import ToolCall

pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence")  # ast on model-like strings
MODEL = "gorilla-openfunctions-v2"  # a model with underscore_to_dot False, as our scorer assumes
AST_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple")


@functools.cache
def official() -> types.SimpleNamespace:
    """The official functions. bfcl_eval.constants.model_config imports ~30 vendor SDKs, so it is a stub holding
    the one thing the checker reads: convert_func_name looks the model up for names with a dot (gorilla's real
    entry has underscore_to_dot False). Where bfcl-eval was installed without its dependencies, the Java/JS parsers'
    tree_sitter modules and tenacity are stubbed for the import only; the Python path never uses them."""
    config = types.ModuleType("bfcl_eval.constants.model_config")
    config.MODEL_CONFIG_MAPPING = {MODEL: types.SimpleNamespace(underscore_to_dot=False)}
    sys.modules["bfcl_eval.constants.model_config"] = config
    missing = [m for m in ("tree_sitter", "tree_sitter_java", "tree_sitter_javascript", "tenacity") if not find_spec(m)]
    sys.modules.update({m: mock.MagicMock() for m in missing})
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
        from bfcl_eval.model_handler.utils import (
            default_decode_ast_prompting,
            is_empty_output,
            is_function_calling_format_output,
        )
    finally:  # only the stand-ins for absent packages go; what the import loaded stays loaded
        for m in missing:
            del sys.modules[m]
    return types.SimpleNamespace(
        ast_checker=ast_checker,
        python=Language.PYTHON,
        decode=default_decode_ast_prompting,
        is_format=is_function_calling_format_output,
        is_empty=is_empty_output,
    )


def evaluates(text: str) -> bool:
    """Whether the official decoder could eval part of the text (it evals BinOp and tries lambda bodies)."""
    text = text.strip("`\n ")
    text = text if text.startswith("[") else "[" + text
    text = text if text.endswith("]") else text + "]"
    try:
        tree = ast.parse(text, mode="eval")
    except Exception:
        return False
    return any(isinstance(node, (ast.BinOp, ast.Lambda)) for node in ast.walk(tree))


def official_decode(text: str) -> list[dict]:
    assert not evaluates(text), f"would be evaluated by the official decoder: {text!r}"
    return official().decode(text)


def official_score(text: str, functions: list[dict], answer: list[dict], category: str) -> tuple[bool, str | None]:
    """eval_runner._evaluate_single_ast_entry's outcome; ("crash", ...) where the official checker raises."""
    try:
        decoded = official_decode(text)
    except Exception:
        return False, "ast_decoder:decoder_failed"
    if not official().is_format(decoded):
        return False, "ast_decoder:decoder_wrong_output_format"
    try:
        result = official().ast_checker(functions, decoded, answer, official().python, category, MODEL)
    except Exception as e:
        return False, f"crash:{type(e).__name__}"
    return result["valid"], None if result["valid"] else result["error_type"]


def agree(ours: tuple[bool, str | None], theirs: tuple[bool, str | None]) -> bool:
    if theirs[1] and theirs[1].startswith("crash:"):  # the official scorer raises; ours must say it cannot score
        return ours[0] is False and ours[1].startswith("checker_error:")
    return ours == theirs


def load(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---- gold texts and their perturbations ----


SKIP = object()


class Src(str):
    """Source text that repr() leaves as is, to put names and calls among repr'd values."""

    def __repr__(self) -> str:
        return str(self)


def accepted(values: list, last: bool = False):
    """The first (or last) accepted value that is not the optional marker "", made concrete; None if none."""
    real = [v for v in values if v != ""]
    if not real:
        return None
    return concrete(real[-1] if last else real[0])


def concrete(value):
    if isinstance(value, dict):  # dict answers map each key to its accepted values
        picked = {k: accepted(v) if isinstance(v, list) else v for k, v in value.items()}
        return {k: v for k, v in picked.items() if v is not None}
    if isinstance(value, list):
        return [concrete(v) for v in value]
    return value


def render(calls: list[list]) -> str:
    return "[" + ", ".join(f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})" for name, args in calls) + "]"


def retyped(value) -> list:
    """Values of other types (and the int/float/str neighbours) for one value."""
    if isinstance(value, bool):
        return [int(value), str(value)]
    if isinstance(value, int):
        return [float(value), str(value), -value, value + 1, [value]]
    if isinstance(value, float):
        return [int(value), str(value), value + 0.5] + ([] if value != int(value) else [int(value)])
    if isinstance(value, str):
        edits = [value.upper(), value.lower(), value + ".", f" {value} ", value.replace(" ", "_"), value + "x", 1]
        edits += [value.replace(",", ""), value.replace("'", '"'), value + "^", value.replace(" ", "/"), "*" + value]
        return edits + [Src("some_variable")]
    if isinstance(value, list):
        return [tuple(value), value[:-1], value + value[-1:], value[::-1], [], [str(v) for v in value], "x"]
    if isinstance(value, dict):
        out = [list(value.values()), {**value, "zz": 1}, {}]
        for k, v in value.items():
            out += [{kk: vv for kk, vv in value.items() if kk != k}, {**value, k: retyped(v)[0]}]
        return out
    return [Src("g(a=1)"), "None"]


def default_for(schema: dict):
    return {"integer": 1, "float": 1.5, "boolean": True, "array": ["x"], "dict": {"a": 1}}.get(schema.get("type"), "x")


def variants(entry: dict, answer: list[dict], rng: random.Random) -> list[str]:
    schemas = {f["name"]: f for f in entry["function"]}
    gold = [
        [name, {p: v for p, vals in params.items() if (v := accepted(vals)) is not None}]
        for a in answer
        for name, params in a.items()
    ]
    options = {(i, p): vals for i, a in enumerate(answer) for params in a.values() for p, vals in params.items()}
    texts = [render(gold), render(gold)[1:-1], f"```python\n{render(gold)}\n```", f"\n {render(gold)} \n"]

    def edited(fn) -> None:  # fn edits a copy of the gold calls in place, or returns SKIP when it does not apply
        calls = copy.deepcopy(gold)
        if fn(calls) is not SKIP:
            texts.append(render(calls))

    def drop_optional(c):
        for j, p in optional:
            c[j][1].pop(p)
        return None if optional else SKIP

    last = [
        [name, {p: v for p, vals in answer[i][name].items() if (v := accepted(vals, last=True)) is not None}]
        for i, (name, _) in enumerate(gold)
    ]
    texts.append(render(last))
    i = rng.randrange(len(gold))
    name, args = gold[i]
    for p in args:  # drop each param; retype or reshape one value of each param (dicts: every way)
        others = retyped(args[p])
        for new in others if isinstance(args[p], dict) else rng.sample(others, min(3, len(others))):
            edited(lambda c, p=p, new=new: c[i][1].__setitem__(p, new))
        if isinstance(args[p], list) and args[p] and isinstance(args[p][0], dict):  # list of dicts: alter one
            for new in retyped(args[p][0]) + [1, "x", [1]]:
                edited(lambda c, p=p, new=new: c[i][1][p].__setitem__(0, new))
        edited(lambda c, p=p: c[i][1].pop(p))
    edited(lambda c: c[i][1].__setitem__("zz_unknown", 1))
    schema = schemas.get(name, {}).get("parameters", {}).get("properties", {})
    for p in [p for p in schema if p not in answer[i][name]][:2]:  # a schema param the answer does not list
        edited(lambda c, p=p: c[i][1].__setitem__(p, default_for(schema[p])))
    optional = [(j, p) for (j, p), vals in options.items() if "" in vals and p in gold[j][1]]
    edited(drop_optional)
    for j, p in optional[:2] + [(j, p) for (j, p), vals in options.items() if "" not in vals][:2]:
        edited(lambda c, j=j, p=p: c[j][1].pop(p, None))
    edited(lambda c: c.reverse() if len(c) > 1 else SKIP)
    edited(lambda c: c.append(c.pop(0)) if len(c) > 2 else SKIP)
    edited(lambda c: c.append(copy.deepcopy(c[i])))
    edited(lambda c: c.pop(i))
    edited(lambda c: c.__setitem__(i, [name + "_v2", c[i][1]]))
    edited(lambda c: c.__setitem__(i, [name.replace(".", "_"), c[i][1]]) if "." in name else SKIP)
    for other in [n for n in schemas if n != name][:2]:  # another listed function with these arguments
        edited(lambda c, other=other: c.__setitem__(i, [other, c[i][1]]))
    first = render(gold).replace(f"{name}(", f"{name}('positional', 2, ", 1)  # positional args are dropped
    texts += [first, render(gold).replace(f"{name}(", f"{name}(**{{'k': 1}}, ", 1), "[]", "", "I cannot help."]
    return texts


def schema(**props) -> list[dict]:
    return [{"name": "f", "parameters": {"type": "dict", "properties": props, "required": []}}]


ARRAY = {"type": "array", "items": {"type": "string"}}
FLOATS = {"type": "array", "items": {"type": "float"}}
DICT, DICTS = {"type": "dict"}, {"type": "array", "items": {"type": "dict"}}
CHECKER_QUIRKS = [  # (schema, text, answer, expected): expected as we read the official code; the oracle decides
    (schema(n={"type": "float"}), "f(n=2)", {"n": [2.0]}, (True, None)),  # an int passes as a float
    (schema(n={"type": "integer"}), "f(n=True)", {"n": [1]}, (False, "type_error:simple")),  # bool is no int
    (schema(n={"type": "integer"}), "f(n=k)", {"n": ["k"]}, (True, None)),  # a variable: answers are strings
    (schema(t={"type": "tuple", "items": {"type": "integer"}}), "f(t=(1, 2))", {"t": [[1, 2]]}, (True, None)),
    (schema(xs=ARRAY), "f(xs=[])", {"xs": [""]}, (True, None)),  # "" reads as the empty list
    (schema(xs=ARRAY), "f(xs=['a', 'b'])", {"xs": [["x"], "ab"]}, (True, None)),  # a str answer: its chars
    (schema(xs=ARRAY), "f(xs=['a', 'b'])", {"xs": ["ab"]}, (False, "value_error:others")),  # str answers: variable
    (schema(xs=ARRAY), "f(xs=['A-b'])", {"xs": [["ab"]]}, (True, None)),  # items standardized
    (schema(xs=ARRAY), "f(xs=[1])", {"xs": [["a"]]}, (False, "type_error:nested")),
    (schema(xs=FLOATS), "f(xs=[1, 2.0])", {"xs": [[1.0, 2.0]]}, (False, "type_error:nested")),  # no int->float
    (schema(xs=ARRAY), "f(xs=[1])", {"xs": [["a"], ""]}, (False, "value_error:list/tuple")),  # "" skips nesting
    (schema(d=DICT), "f(d={'a': 2})", {"d": [{"a": [1], "b": [1]}]}, (False, "value_error:dict_key")),  # overwrite
    (schema(d=DICT), "f(d={'a': 2})", {"d": [{"a": [1], "b": [""]}]}, (False, "value_error:dict_value")),
    (schema(d=DICT), "f(d={'a': 'X y'})", {"d": [{"a": ["xy"]}]}, (True, None)),
    (schema(d=DICT), "f(d={'a': 1})", {"d": [""]}, (False, "dict_checker:unclear")),
    (schema(ds=DICTS), "f(ds=[])", {"ds": [""]}, (True, None)),
    (schema(ds=DICTS), "f(ds=[{'a': 1}])", {"ds": [[{"a": [1]}, {"a": [2]}]]}, (False, "value_error:list_dict_count")),
    (schema(ds=DICTS), "f(ds=[{'a': 1}])", {"ds": [[""]]}, (False, "dict_checker:unclear")),
    (schema(s={"type": "any"}), "f(s='A, b')", {"s": ["ab"]}, (True, None)),
    (schema(s={"type": "string"}), 'f(s="A-b/c_d*e^f.g\'h")', {"s": ['abcdefg"h']}, (True, None)),
    (schema(s={"type": "string"}), "f(s='a')", {"s": [""]}, (False, "value_error:string")),
    (schema(s={"type": "string"}), "f()", {"s": ["a"]}, (False, "simple_function_checker:missing_optional")),
    (schema(s={"type": "string"}), "f(s='a', t=1)", {"s": ["a"]}, (False, "simple_function_checker:unexpected_param")),
]


@pytest.mark.parametrize("functions, text, answer, expected", CHECKER_QUIRKS)
def test_checker_quirks_match_the_official_code(functions, text, answer, expected):
    for category in ("simple", "multiple", "parallel"):
        ours = score_text(text, functions, [{"f": answer}], category)
        assert ours == official_score(text, functions, [{"f": answer}], category)
    assert score_text(text, functions, [{"f": answer}], "simple") == expected


@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_scores_agree_with_the_official_checker(data_dir, category):
    root = data_dir / "bfcl_v3"
    entries = load(root / f"BFCL_v3_{category}.json")
    answers = {a["id"]: a["ground_truth"] for a in load(root / "possible_answer" / f"BFCL_v3_{category}.json")}
    assert len(entries) == len(answers) > 100
    compared, valid, crashes, disagreements = 0, 0, 0, []
    for entry in entries:
        answer = answers[entry["id"]]
        for text in variants(entry, answer, random.Random(entry["id"])):
            theirs = official_score(text, entry["function"], answer, category)
            ours = score_text(text, entry["function"], answer, category)
            compared += 1
            valid += theirs[0]
            crashes += bool(theirs[1] and theirs[1].startswith("crash:"))
            if not agree(ours, theirs):
                disagreements.append((entry["id"], text, ours, theirs))
    print(f"{category}: {compared} texts, {valid} valid, {crashes} official crashes, {len(disagreements)} disagree")
    assert not disagreements, disagreements[:5]
    assert compared > 10 * len(entries) and valid > len(entries) * 0.9  # the gold texts pass (most of) the checker


def test_gold_passes_under_a_file_stem_category(data_dir):
    root = data_dir / "bfcl_v3"
    entry = load(root / "BFCL_v3_parallel_multiple.json")[0]
    answer = load(root / "possible_answer" / "BFCL_v3_parallel_multiple.json")[0]["ground_truth"]
    gold = [
        [n, {p: accepted(v) for p, v in params.items() if accepted(v) is not None}]
        for a in answer
        for n, params in a.items()
    ]
    assert score_text(render(gold[::-1]), entry["function"], answer, "BFCL_v3_parallel_multiple") == (True, None)


# ---- the decoder ----

NAMES = ["x", "var_1", "inf", "nan", "None", "True", "a.b", "math.pi", "ns.f"]
ODD = ["+5", "~3", "not 1", "not x", "-x", "--1", "-'s'", "-None", "-True", "-...", "b'x'", "-b'x'", "1j", "-2j"]
ODD += ["0x1F", "1_000", "1e999", "-1e999", "a[0]", "a[1:2]", "a[1, 2]", "x[::2]", "f'{x}'", "{1, 2}", "*a"]
ODD += ["x if y else z", "[i for i in x]", "a < b", "a and b", "{**a}", "(x := 1)", "()", "{}", "[]", "'\\d'"]
ODD += ["{[1]: 2}", "{(1, [2]): 3}", "{1: 'a', True: 'b'}", "f(*a)", "f(**k)", "g()()", "'''multi\nline'''"]
FUNCS = ["f", "get_weather", "math.hypot", "a.b.c", "True", "g()", "x[0]", "(f)"]
leaf = st.one_of(
    st.integers(-(10**12), 10**12).map(repr),
    st.floats().map(repr),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=8).map(repr),
    st.sampled_from(["True", "False", "None", "...", *NAMES, *ODD]),
)


def call_source(func: str, positional: list[str], keywords: list[tuple[str, str]]) -> str:
    kw = [f"**{v}" if k == "**" else f"{k}={v}" for k, v in keywords]
    return f"{func}({', '.join(positional + kw)})"


keyword_names = st.sampled_from(["a", "b", "city", "x_1", "**", "lambda"])
values = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(inner, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"),
        st.lists(st.tuples(inner, inner), max_size=3).map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.builds(
            call_source,
            st.sampled_from(FUNCS),
            st.lists(inner, max_size=2),
            st.lists(st.tuples(keyword_names, inner), max_size=2),
        ),
    ),
    max_leaves=8,
)
calls = st.builds(
    call_source,
    st.sampled_from(FUNCS),
    st.lists(values, max_size=1),
    st.lists(st.tuples(keyword_names, values), max_size=3),
)
wrappers = ["[{}]", "{}", "```\n[{}]\n```", "```python\n{}\n```", " {} ", "'[{}]'", "[{}", "{}]", "\t{}", "{}\n"]
wrappers += ["Sure: {}", "{}\t", "\t[{}]", "[{}]\r\n", "\n\n{}\n"]
texts = st.one_of(
    st.builds(
        lambda w, cs, sep: w.format(sep.join(cs)),
        st.sampled_from(wrappers),
        st.lists(calls, max_size=3),
        st.sampled_from([", ", ",", "\n", " "]),
    ),
    st.text(max_size=30),
)


def ours_as_official(text: str):
    try:
        return repr([{c.name: c.arguments} for c in decode(text)])
    except DecodeError:
        return "failed"


def theirs(text: str):
    try:
        return repr(official_decode(text))
    except Exception:
        return "failed"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_decode_agrees_with_the_official_decoder(text):
    assume(not evaluates(text))
    assert ours_as_official(text) == theirs(text)  # same values (repr tells int, float and bool apart), or both fail


QUIRKS = {
    "f(x=+5, y=~5, z=not 5, w=-True)": {"x": -5, "y": -5, "z": -5, "w": -1},  # every unary op negates
    "f(1, 'a', x=1)": {"x": 1},  # positional args are dropped
    "f(x=city, y=g(1), z=g(a=1))": {"x": "city", "y": "g(1)", "z": {"g": {"a": 1}}},
    "f(x=(1,), y=a[1, 2], z=...)": {"x": (1,), "y": "a[(1, 2)]", "z": "..."},
    "f(**{'a': 1})": {None: {"a": 1}},
}


@pytest.mark.parametrize("text", QUIRKS)
def test_decoder_quirks_match_the_official_code(text):
    assert decode(text) == [ToolCall("f", QUIRKS[text])]
    assert ours_as_official(text) == theirs(text)


@pytest.mark.parametrize(
    "text, expected",
    [("f(x=2*3)", 6), ("f(x=7/2)", 3.5), ("f(x=-2*3+1)", -5), ("f(x='a'+'b')", "ab"), ("f(x='ab'*2)", "abab")]
    + [("f(x=2**10)", 1024), ("f(x=7//2)", 3), ("f(x=7%3)", 1), ("f(x=1-0.5)", 0.5), ("f(x=2.0**-1)", 0.5)],
)
def test_constant_arithmetic_is_computed(text, expected):
    assert decode(text) == [ToolCall("f", {"x": expected})]
    assert type(decode(text)[0].arguments["x"]) is type(expected)


@pytest.mark.parametrize(
    "text",
    ["f(x=2**1000)", "f(x=lambda: 1)", "f(x=1/0)", "f(x=a+1)", "f(x='%s' % 5)", "f(x='a'*10**6)", "f(x=1<<3)"]
    + ["f(x=[1]+[2])", "f(x=(2**60)**60*(2**60)**60)", "f(x=__import__('os').getpid()+1)", "f(x=not 1+1)"],
)
def test_other_expressions_are_not_evaluated(text):
    with pytest.raises(DecodeError):
        decode(text)


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "f(x=" + "[" * 5000, "f(x=" + "-" * 100_000 + "1)", "f(x=" + "1+" * 100_000 + "1)", "\x00"]
    + ["f(x=0x" + "f" * 5000 + ")", "f(x=g(0x" + "f" * 5000 + "))", "f(x=" + "(" * 190 + "1" + ")" * 190 + ")"]
    + ["f(x=1" + "0" * 5000 + ")", "f(x='\\N{nope}')", "f(x=" + "{'a': " * 150 + "1" + "}" * 150 + ")"],
)
def test_decode_raises_only_decode_error(text):
    try:
        assert isinstance(decode(text), list)
    except DecodeError:
        pass


# ---- checker corners where the official scorer raises ----

SCHEMA = {"name": "f", "parameters": {"type": "dict", "properties": {"xs": {"type": "array"}}, "required": []}}
LIST_OF_DICTS = {"type": "array", "items": {"type": "dict"}}
CRASHES = [
    ([SCHEMA], "f(xs=[1])", [{"f": {"xs": [[1]]}}], "simple"),  # an array param without "items"
    (
        [{**SCHEMA, "parameters": {**SCHEMA["parameters"], "properties": {"xs": {"type": "object"}}}}],
        "f(xs=1)",
        [{"f": {"xs": [1]}}],
        "simple",
    ),
    ([SCHEMA], "g(a=1)", [{"g": {"a": [1]}}], "parallel"),  # the expected function has no schema
    ([SCHEMA], "g(a=1)", [{"g": {"a": [1]}}], "multiple"),
    ([], "f(xs=[1])", [{"f": {"xs": [[1]]}}], "simple"),
    (
        [{**SCHEMA, "parameters": {**SCHEMA["parameters"], "properties": {"xs": LIST_OF_DICTS}}}],
        "f(xs=[1])",
        [{"f": {"xs": ["", [{"a": [1]}]]}}],
        "simple",
    ),
]


@pytest.mark.parametrize("functions, text, answer, category", CRASHES)
def test_where_the_official_checker_raises_ours_reports(functions, text, answer, category):
    assert official_score(text, functions, answer, category)[1].startswith("crash:")
    valid, error = score_text(text, functions, answer, category)
    assert valid is False and error.startswith("checker_error:")


def test_check_takes_tool_calls():
    functions = [
        {"name": "f", "parameters": {"type": "dict", "properties": {"n": {"type": "float"}}, "required": ["n"]}}
    ]
    assert check(functions, [ToolCall("f", {"n": 2})], [{"f": {"n": [2.0]}}], "simple") == (True, None)
    assert check(functions, [], [{"f": {"n": [2.0]}}], "simple") == (False, "simple_function_checker:wrong_count")


# ---- irrelevance ----


def official_no_call(text: str) -> bool:
    """eval_runner._evaluate_single_relevance_entry: a decode failure or an empty output is no call."""
    try:
        return bool(official().is_empty(official_decode(text)))
    except Exception:
        return True


def test_irrelevance_agrees_with_the_official_logic(data_dir):
    entries = load(data_dir / "bfcl_v3" / "BFCL_v3_irrelevance.json")
    compared, no_call = 0, 0
    for entry in entries:
        f = entry["function"][0]
        props = f["parameters"].get("properties", {})
        real = (
            f"{f['name']}({', '.join(f'{p}={default_for(props[p])!r}' for p in f['parameters'].get('required', []))})"
        )
        question = entry["question"][0][-1]["content"]
        candidates = ["", "I cannot help", "[]", "[f()]", "None", "[None]", "```\n[]\n```", "[{}]", "f", "`f(x=1)`"]
        candidates += ["I'm sorry (I can't do that).", real, f"[{real}]", f"```python\n{real}\n```", question]
        for text in candidates:
            if evaluates(text):
                continue
            compared += 1
            no_call += official_no_call(text)
            assert irrelevance_ok(text) == official_no_call(text), text
    print(f"irrelevance: {compared} texts, {no_call} without a call")
    assert compared > 10 * len(entries) and 0 < no_call < compared


def test_relevance_is_the_opposite_verdict_and_other_languages_and_multi_turn_are_refused(data_dir, tmp_path):
    """BFCL's live_relevance entries are right when the output decodes to a call (eval_runner: `success =
    contain_func_call`). Its Java and JavaScript sets (values read in those languages) and its multi-turn sets are
    not scored."""
    from tl_plugin.eval.scoring import score_item
    from tl_plugin.eval.suites import load as load_items

    lines = (data_dir / "bfcl_v3" / "BFCL_v3_irrelevance.json").read_text().splitlines()[:20]
    for name in ("live_relevance", "java", "javascript", "multi_turn_base"):
        (tmp_path / f"BFCL_v3_{name}.json").write_text("\n".join(lines) + "\n")
    items, report = load_items("bfcl", tmp_path / "BFCL_v3_live_relevance.json")
    assert {item.kind for item in items} == {"relevance"} and report.kept == 20
    compared = 0
    for item in items:
        f = item.tools[0]
        props = f["parameters"].get("properties", {})
        real = (
            f"{f['name']}({', '.join(f'{p}={default_for(props[p])!r}' for p in f['parameters'].get('required', []))})"
        )
        for text in ["", "I cannot help", "[]", "[f()]", "[{}]", "`f(x=1)`", real, f"```python\n{real}\n```"]:
            if evaluates(text):
                continue
            compared += 1
            verdict = score_item(item, text)
            assert verdict["valid"] == (not official_no_call(text)), text
            assert verdict["error_type"] == (None if verdict["valid"] else "relevance_error:decoder_failed")
    assert compared > 100
    for name in ("java", "javascript", "multi_turn_base"):
        items, report = load_items("bfcl", tmp_path / f"BFCL_v3_{name}.json")
        reason = f"BFCL's {name} set is not supported: only its single-turn Python sets are scored here"
        assert not items and report.dropped == {reason: 20}
