"""Parsing model text into calls: every format, parallel calls, noise, errors that say what to fix, and proof that
model text is never executed."""

import ast
import json
import keyword
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_plugin.core import parsing
from tl_plugin.core.parsing import Parsed, ToolCall, format_call, parse

WEATHER = ToolCall("get_weather", {"city": "Paris", "days": 3})
NESTED = ToolCall(
    "book", {"guests": [{"name": "Zoë", "age": 31}, {"name": "李雷", "age": None}], "opts": {"a": [1.5, True]}}
)


@pytest.mark.parametrize(
    "text, fmt, calls",
    [
        ('get_weather(city="Paris", days=3)', "python", [WEATHER]),
        ("[get_weather(city='Paris', days=3)]", "python", [WEATHER]),
        ("math.factorial(number=5)", "python", [ToolCall("math.factorial", {"number": 5})]),
        ("f(x=true, y=null, z=-2, w=(1, 2))", "python", [ToolCall("f", {"x": True, "y": None, "z": -2, "w": [1, 2]})]),
        (
            'Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "Paris", "days": 3}',
            "react",
            [WEATHER],
        ),
        ("Action: get_weather\nAction Input: {'city': 'Paris', 'days': 3}", "react", [WEATHER]),
        ('{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}', "json", [WEATHER]),
        ('{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}', "json", [WEATHER]),
        (
            '{"type": "function", "function": {"name": "get_weather", '
            '"arguments": "{\\"city\\": \\"Paris\\", \\"days\\": 3}"}}',
            "json",
            [WEATHER],
        ),
        (
            '{"tool_calls": [{"id": "c1", "function": '
            '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}]}',
            "json",
            [WEATHER],
        ),
        ('Sure, calling it: {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}', "json", [WEATHER]),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>',
            "tool_call",
            [WEATHER],
        ),
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}', "tool_call", [WEATHER]),
        ('```json\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n```', "json", [WEATHER]),
        ('```python\nget_weather(city="Paris", days=3)\n```', "python", [WEATHER]),
        ('<|python_tag|>{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}', "json", [WEATHER]),
        ('{"name": "list_all", "arguments": {}}', "json", [ToolCall("list_all", {})]),
        ('{"name": "list_all"}', "json", [ToolCall("list_all", {})]),
        ("list_all()", "python", [ToolCall("list_all", {})]),
        ("run(**{'code:': 'x', 'from': 1}, a=2)", "python", [ToolCall("run", {"code:": "x", "from": 1, "a": 2})]),
    ],
)
def test_each_format(text, fmt, calls):
    parsed = parse(text)
    assert (parsed.fmt, parsed.calls, parsed.error) == (fmt, calls, None)
    assert parse(text, fmt).calls == calls  # the format can also be insisted on


PARALLEL = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": "x"}), ToolCall("f", {"a": 2})]


@pytest.mark.parametrize(
    "text, fmt",
    [
        ("[f(a=1), g(b='x'), f(a=2)]", "python"),
        ("f(a=1)\ng(b='x')\nf(a=2)", "python"),
        ("f(a=1); g(b='x'); f(a=2)", "python"),
        (
            '[{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {"b": "x"}}, '
            '{"name": "f", "arguments": {"a": 2}}]',
            "json",
        ),
        (
            '{"name": "f", "arguments": {"a": 1}}\n{"name": "g", "arguments": {"b": "x"}}\n'
            '{"name": "f", "arguments": {"a": 2}}',
            "json",
        ),
        (
            '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>\n'
            '<tool_call>{"name": "g", "arguments": {"b": "x"}}</tool_call>'
            '<tool_call>{"name": "f", "arguments": {"a": 2}}</tool_call>',
            "tool_call",
        ),
        (
            '<tool_call>[{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {"b": "x"}}]</tool_call>'
            '<tool_call>{"name": "f", "arguments": {"a": 2}}</tool_call>',
            "tool_call",
        ),
        (
            'Thought: three calls\nAction: f\nAction Input: {"a": 1}\nObservation: ok\nThought: next\nAction: g\n'
            'Action Input: {"b": "x"}\nAction: f\nAction Input: {"a": 2}',
            "react",
        ),
    ],
)
def test_parallel_calls_in_order(text, fmt):
    parsed = parse(text)
    assert (parsed.fmt, parsed.calls, parsed.error) == (fmt, PARALLEL, None)


@pytest.mark.parametrize("fmt", ["python", "react", "json", "tool_call"])
def test_nested_values_unicode_and_whitespace_noise(fmt):
    text = format_call(NESTED, fmt)
    noisy = "\n \t" + text.replace(", ", " ,  ").replace(": ", " :\t") + "  \r\n\n"
    if fmt == "react":
        noisy = noisy.replace("Action:", "  Action :   ").replace("Action Input:", "Action   Input :\n  ")
    for variant in (text, noisy, text.replace("\n", "\r\n")):
        parsed = parse(variant)
        assert (parsed.fmt, parsed.calls, parsed.error) == (fmt, [NESTED], None), variant


@pytest.mark.parametrize("fmt", ["python", "react", "json", "tool_call"])
def test_format_markers_inside_values_do_not_mislead(fmt):
    tricky = ToolCall(
        "note", {"text": "<tool_call>{}</tool_call> ```json\nAction: x\nAction Input: {}\nFinal Answer: y"}
    )
    parsed = parse(format_call(tricky, fmt))
    assert (parsed.fmt, parsed.calls, parsed.error) == (fmt, [tricky], None)


def test_finish_and_ask_actions_are_recognised():
    for text in (
        'finish(answer="It is 21 °C.")',
        'Thought: done\nAction: finish\nAction Input: {"answer": "It is 21 °C."}',
        "Thought: I know it now.\nFinal Answer: It is 21 °C.",
        '{"name": "final_answer", "arguments": {"answer": "It is 21 °C."}}',
    ):
        parsed = parse(text)
        assert parsed.is_finish and not parsed.is_ask and parsed.answer == "It is 21 °C.", text
    asked = parse("ask_to_user(question='Which city?')")
    assert asked.is_ask and not asked.is_finish and asked.answer is None
    assert not parse("get_weather(city='Paris')").is_finish


def test_plain_text_is_text_without_error():
    for text in ("The weather in Paris is sunny.", "  ", "", "[Note] nothing to call here.", "Sure (happy to help)."):
        parsed = parse(text)
        assert (parsed.fmt, parsed.calls, parsed.error) == ("text", [], None), text
        assert parsed.answer == text.strip() and not parsed.is_finish


@pytest.mark.parametrize(
    "text, fmt, hint",
    [
        ("get_weather(city='Paris'", "python", "get_weather(city="),
        ("get_weather('Paris')", "python", "by keyword"),
        ("get_weather(**options)", "python", "by keyword"),
        ("get_weather(city='Paris')\nx = 1", "python", "only calls"),
        ("get_weather(city=city_name)", "python", "variable name"),
        ("Action: get_weather", "react", "no Action Input"),
        ("Action: get_weather\nAction Input: Paris", "react", "not valid JSON"),
        ('Action: get_weather\nAction Input: ["Paris"]', "react", "must be a JSON object"),
        ("Action: get_weather\nAction Input:", "react", "is empty"),
        ('Action Input: {"city": "Paris"}', "react", "without an Action"),
        ("Thought: I should look it up.", "react", "no Action or Final Answer"),
        ('{"name": "get_weather", "arguments": {"city": "Paris"', "json", "invalid JSON"),
        ('{"arguments": {"city": "Paris"}}', "json", '"name"'),
        ('{"name": "get_weather", "arguments": ["Paris"]}', "json", "must be a JSON object"),
        ('{"function": {"name": "f", "arguments": "{not json"}}', "json", "not valid JSON"),
        ("<tool_call>get_weather(city='Paris')</tool_call>", "tool_call", "not valid JSON"),
        ("<tool_call></tool_call>", "tool_call", "is empty"),
    ],
)
def test_format_errors_say_what_to_fix(text, fmt, hint):
    parsed = parse(text)
    assert parsed.fmt == fmt and parsed.calls == [] and hint in parsed.error, parsed.error
    assert "write" in parsed.error or "pass" in parsed.error or "allowed" in parsed.error


def test_unknown_format_and_non_text_inputs():
    assert "unknown call format" in parse("f(a=1)", "yaml").error
    assert parse(None).error and parse(b"f(a=1)").error and parse(["f(a=1)"]).error  # type: ignore[arg-type]


def test_model_text_is_never_executed(tmp_path):
    canary = tmp_path / "canary"
    attacks = [
        f"f(x=__import__('os').system('touch {canary}'))",
        f"[f(a=1), __import__('os').system('touch {canary}')]",
        f"__import__('os').system('touch {canary}')",
        f"f(x=open('{canary}', 'w').write('x'))",
        "f(x=(lambda: __import__('os'))())",
        "f(x=lambda: 1)",
        "f(x=f'{__import__(\"os\").getcwd()}')",
        "f(x=().__class__.__bases__[0].__subclasses__())",
        "f(x=os.environ)",
        "f(x=2**1000000)",
        f"{canary.name}.write_text(data='x')",
        f"Action: f\nAction Input: __import__('os').system('touch {canary}')",
        f"Action: f\nAction Input: {{'x': __import__('os').system('touch {canary}')}}",
        f"<tool_call>{{'name': 'f', 'arguments': {{'x': open('{canary}', 'w')}}}}</tool_call>",
        f'{{"name": "f", "arguments": "__import__(\'os\').system(\'touch {canary}\')"}}',
    ]
    for text in attacks:
        parsed = parse(text)
        literal_only = all(_is_literal(call.arguments) for call in parsed.calls)
        assert parsed.error is not None or literal_only, text
    assert not canary.exists()
    # a call on a dotted name is read as a name, not looked up
    assert parse(f"{canary.name}.write_text(data='x')").calls == [ToolCall(f"{canary.name}.write_text", {"data": "x"})]


def _is_literal(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_literal(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(_is_literal, value))
    return value is None or isinstance(value, (str, int, float, bool))


def test_parsing_module_never_evaluates():
    """Static guard: the parser's source calls none of eval, exec, compile, __import__, getattr, literal_eval."""
    tree = ast.parse(Path(parsing.__file__).read_text())
    builtins = {
        node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    methods = {
        node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not builtins & {"eval", "exec", "compile", "__import__", "getattr"}
    assert "literal_eval" not in methods and {"parse", "search"} <= methods  # the guard does see method calls


def test_adversarial_nesting_and_sizes_do_not_raise():
    for text in (
        "(" * 5000,
        "[" * 100000,
        "f(a=" + "[" * 190 + "]" * 190 + ")",
        '{"name": "f", "arguments": ' + "[" * 100000,
        "Action: f\nAction Input: " + "{'a': " * 3000,
        "f(a=" + "9" * 5000 + ")",
        "f(a='\x00')",
    ):
        assert isinstance(parse(text), Parsed)


def test_model_escape_sequences_raise_no_warnings():
    code = (
        "from tl_plugin.core.parsing import parse; "
        "assert parse(r'f(a=\"x\\,y\")').calls[0].arguments == {'a': 'x\\\\,y'}"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, cwd=Path(parsing.__file__).parents[2])


def test_format_call_accepts_dicts_and_rejects_unknown_formats():
    assert format_call({"name": "f", "arguments": {"a": 1}}, "json") == '{"name": "f", "arguments": {"a": 1}}'
    assert format_call({"name": "f"}, "python") == "f()"
    with pytest.raises(ValueError):
        format_call(WEATHER, "yaml")


_identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_calls = st.builds(ToolCall, _identifier, st.dictionaries(_identifier | _text, _json, max_size=5))


@settings(max_examples=300, deadline=None)
@given(call=_calls, fmt=st.sampled_from(["python", "react", "json", "tool_call"]))
def test_format_call_round_trips(call, fmt):
    parsed = parse(format_call(call, fmt))
    assert (parsed.calls, parsed.fmt, parsed.error) == ([call], fmt, None)
    assert json.loads(json.dumps(parsed.calls[0].arguments)) == parsed.calls[0].arguments


@pytest.mark.filterwarnings("ignore:invalid escape sequence")
@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=300), fmt=st.sampled_from(["auto", "python", "react", "json", "tool_call", "text"]))
def test_arbitrary_text_never_raises(text, fmt):
    parsed = parse(text, fmt)
    assert parsed.fmt in parsing.FORMATS and (parsed.error is None or parsed.calls == [])


# pytest resets warning filters per test; outside pytest the parser silences these (test below)
@pytest.mark.filterwarnings("ignore:invalid escape sequence")
@settings(max_examples=300, deadline=None)
@given(call=_calls, fmt=st.sampled_from(["python", "react", "json", "tool_call"]), data=st.data())
def test_damaged_calls_never_raise(call, fmt, data):
    text = format_call(call, fmt)
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.text(alphabet="{}[]()\"':,=\n <>/\\", max_size=5))
    parsed = parse(text[:cut] + noise + text[cut:])
    assert parsed.error is None or parsed.calls == []


# ---- issue 10, finding 9: linear parsing and a cap on model text; finding 10: bounded nesting ----


def test_twenty_thousand_unclosed_blocks_are_read_in_one_pass():
    """Each block used to scan to the end of the text for its closing tag (6.9 s for these 20k blocks); now the
    tag is looked for only when a block's JSON fails. benchmarks/parsing.py prints the scaling."""
    block = '<tool_call>{"name": "f", "arguments": {"i": 1}}'
    parsed = parse(block * 20_000, max_chars=None)  # every block read: the count is in the error
    assert (
        parsed.calls == []
        and parsed.error == "20000 calls in one output, over the limit of 64; make the calls the task needs"
    )
    assert parse(block * 64).calls == [ToolCall("f", {"i": 1})] * 64 and parse(block * 65).error.startswith("65 calls")
    mixed = '<tool_call>{"name": "f"}</tool_call> <tool_call>{"name": "g", "arguments": {}} <tool_call>{"name"'
    assert parse(mixed).error == "<tool_call> block 3 is not valid JSON (Expecting ':' delimiter: line 1 column 8 " + (
        '(char 7)); write {"name": "get_weather", "arguments": {"city": "Paris"}}'
    )


def test_model_text_over_the_cap_is_a_format_error():
    assert parsing.MAX_TEXT_CHARS == 32_768
    at_cap = "f(a='" + "x" * (32_768 - 7) + "')"
    assert len(at_cap) == 32_768 and parse(at_cap).calls[0].name == "f"
    over = parse(at_cap + " ")
    assert over.calls == [] and over.error == "the output is 32,769 characters, over the limit of 32,768"
    assert parse(at_cap + " ", max_chars=None).error is None and parse("f(a=1)", max_chars=3).error is not None


def test_values_nested_over_the_limit_are_format_errors():
    """Arguments count as level 1: {"a": 99 lists} is 100 levels, the most allowed."""

    def nested(lists):
        return '{"name": "finish", "arguments": {"answer": ' + "[" * lists + "]" * lists + "}}"

    assert parse(nested(99)).error is None and parse(nested(99)).answer == "[" * 99 + "]" * 99
    for text in (nested(100), nested(900), "f(a=" + "[" * 150 + "]" * 150 + ")"):
        parsed = parse(text)
        assert parsed.calls == [] and parsed.error.startswith("the call is nested over 100 levels deep")
    assert parsing.too_deep({"a": [[]]}, 2) and not parsing.too_deep({"a": [[]]}, 3) and not parsing.too_deep(5, 0)


_simple_value = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8).map(json.dumps),  # JSON escapes: ast's
    st.text(st.characters(blacklist_characters="'\\\n\r\x00"), max_size=8).map(lambda s: f"'{s}'"),
    st.integers(-(10**40), 10**40).map(str),
    st.floats(allow_nan=False).map(repr),
    st.sampled_from(["True", "false", "None", "null", "NONE", "x", "1_000", "01", "1.", ".5", "1e5", "-0", "0x1f"]),
)
_simple_key = st.sampled_from(["a", "city", "_b", "class", "None", "match", "__debug__", "ab1", "é", "a b"])


@settings(max_examples=2000, deadline=None)
@given(
    name=st.sampled_from(["f", "get_weather", "math.sqrt", "a.b.c", "class.x", "f1", "é"]),
    pairs=st.lists(st.tuples(_simple_key, _simple_value), max_size=4),
    spaces=st.sampled_from(["", " ", "\t", "  "]),
    tail=st.sampled_from(["", ",", " ,", "\n"]),
)
def test_the_simple_call_fast_path_reads_as_ast_does(name, pairs, spaces, tail):
    """Issue 14: the one-line fast path gives exactly ast's calls wherever it answers, and leaves the rest to it."""
    text = f"{name}(" + ",".join(f"{spaces}{k}{spaces}={spaces}{v}" for k, v in pairs) + f"{tail})"
    fast = parsing._simple_call(text)
    try:
        slow = parsing._read_python_ast(text)
    except parsing._Malformed:
        slow = None
    if fast is not None:
        assert [fast] == slow and [type(v) for v in fast.arguments.values()] == [
            type(v) for v in slow[0].arguments.values()
        ]


def test_the_fast_path_answers_the_common_calls_and_only_those():
    assert parsing._simple_call('get_weather(city="Paris", days=3)') == WEATHER
    assert parsing._simple_call("f()") == ToolCall("f", {})
    assert parsing._simple_call("m.f(a=True, b=-1.5e3, c=null, d='x, y=2')") == ToolCall(
        "m.f", {"a": True, "b": -1500.0, "c": None, "d": "x, y=2"}
    )
    for other in ('f(a="\\n")', "f(a=[1])", "f(a=x)", "f(1)", "f(a=1, a=2)", "f(**{'a': 1})", "[f(a=1)]", "f(a=1)\n"):
        assert parsing._simple_call(other) is None, other  # left to ast
