"""The query language's parser: what each text means (operators, precedence, keywords,
quoting, fields, reducers, literals), each error's message and column, the plain-text rule
of ``parse_filter``, and that a printed tree parses back to itself."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mltrack.query import (
    REDUCERS,
    And,
    Compare,
    Field,
    In,
    IsNull,
    Not,
    Or,
    QuerySyntaxError,
    parse,
    parse_field,
    parse_filter,
)
from jupyter_mltrack.query.ast import ATTRIBUTES, Node
from jupyter_mltrack.store.errors import InvalidQuery

LR = Field("param", "lr")
ACC = Field("metric", "acc", "last")
STAGE = Field("tag", "stage")
STATUS = Field("attribute", "status")
NAME = Field("attribute", "name")
STARTED = Field("attribute", "started")


def local(*args: int) -> float:
    return dt.datetime(*args).timestamp()


# operators -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("params.lr = 1", "="),
        ("params.lr == 1", "="),
        ("params.lr != 1", "!="),
        ("params.lr <> 1", "!="),
        ("params.lr < 1", "<"),
        ("params.lr <= 1", "<="),
        ("params.lr > 1", ">"),
        ("params.lr >= 1", ">="),
        ("params.lr ~ 1", "~"),
        ("params.lr !~ 1", "!~"),
        ("params.lr<=1", "<="),
        ("params.lr>=-1", ">="),
    ],
)
def test_comparison_operators(text: str, op: str) -> None:
    node = parse(text)
    assert isinstance(node, Compare) and node.field == LR and node.op == op
    # contains compares the text as written; the others the number
    assert node.value == ("1" if op in ("~", "!~") else (-1.0 if "-1" in text else 1.0))


def test_in_not_in_and_is_null() -> None:
    assert parse("tags.stage in (a, 'b', \"c d\")") == In(STAGE, ("a", "b", "c d"))
    assert parse("tags.stage not in (a)") == In(STAGE, ("a",), negated=True)
    assert parse("params.lr in (1, 2, 1)") == In(LR, (1.0, 2.0))  # repeats dropped
    assert parse("params.lr in (1, true, '1')") == In(LR, (1.0, True, "1"))  # not repeats
    assert parse("params.lr is null") == IsNull(LR)
    assert parse("params.lr is not null") == IsNull(LR, negated=True)
    # = null and != null are is null and is not null
    assert parse("params.lr = null") == IsNull(LR)
    assert parse("params.lr != NULL") == IsNull(LR, negated=True)
    # null in a list: also the missing ones; in a not-in list it adds nothing
    assert parse("tags.stage in (a, null)") == Or((In(STAGE, ("a",)), IsNull(STAGE)))
    assert parse("tags.stage not in (a, null)") == In(STAGE, ("a",), negated=True)
    assert parse("tags.stage not in (null)") == IsNull(STAGE, negated=True)
    assert parse("tags.stage in (null)") == IsNull(STAGE)


def test_precedence_not_and_or() -> None:
    a, b, c = (Compare(NAME, "=", x) for x in "abc")
    assert parse("name = a or name = b and name = c") == Or((a, And((b, c))))
    assert parse("name = a and name = b or name = c") == Or((And((a, b)), c))
    assert parse("not name = a and name = b") == And((Not(a), b))
    assert parse("not (name = a and name = b)") == Not(And((a, b)))
    assert parse("(name = a or name = b) and name = c") == And((Or((a, b)), c))
    assert parse("not not name = a") == Not(Not(a))
    # nested groups of the same operator are one group: printing then parsing is stable
    assert parse("name = a and (name = b and name = c)") == And((a, b, c))
    assert parse("((name = a))") == a


@pytest.mark.parametrize(
    "text",
    [
        "NAME = a AND name = b OR NOT name = c",
        "Name = a and name = b or not name = c",
        "name = a aNd name = b oR nOt name = c",
    ],
)
def test_keywords_and_attribute_names_ignore_case(text: str) -> None:
    a, b, c = (Compare(NAME, "=", x) for x in "abc")
    assert parse(text) == Or((And((a, b)), Not(c)))
    assert parse("Params.lr IS NOT NULL") == IsNull(LR, negated=True)
    assert parse("METRICS.acc NOT IN (1)") == In(ACC, (1.0,), negated=True)
    assert parse("Status In (FINISHED, Failed)") == In(STATUS, ("finished", "failed"))


def test_keywords_inside_names_are_names() -> None:
    # `note` starts with `not`, `notebook` too; `order`/`index` hold `or`/`in`
    assert parse("note ~ x") == Compare(Field("attribute", "note"), "~", "x")
    assert parse("notebook = a.ipynb") == Compare(Field("attribute", "notebook"), "=", "a.ipynb")
    assert parse("params.order = 1 or params.index = 2") == Or(
        (Compare(Field("param", "order"), "=", 1.0), Compare(Field("param", "index"), "=", 2.0))
    )
    assert parse("not(name = a)") == Not(Compare(NAME, "=", "a"))
    # a keyword where a value goes is the word
    assert parse("name = and") == Compare(NAME, "=", "and")


# fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("params.lr", LR),
        ("param.lr", LR),
        ("metrics.acc", ACC),
        ("metric.acc", ACC),
        ("metrics.acc.last", ACC),
        ("tags.stage", STAGE),
        ("tag.stage", STAGE),
        ("params.model.name", Field("param", "model.name")),
        ("params.a-b/c@d:e", Field("param", "a-b/c@d:e")),
        ("params.ünïcødé", Field("param", "ünïcødé")),
        ("metrics.val.loss", Field("metric", "val.loss", "last")),
        ("metrics.val.min", Field("metric", "val", "min")),
        ("metrics.loss.mni", Field("metric", "loss.mni", "last")),
        ("metrics.`val.min`", Field("metric", "val.min", "last")),
        ("metrics.`val.min`.max", Field("metric", "val.min", "max")),
        ("metrics.`a``b`.best", Field("metric", "a`b", "best")),
        ("metrics.a.`min`", Field("metric", "a.min", "last")),
        ("params.`lr`", LR),
        ("params.`a b = c`", Field("param", "a b = c")),
        ("tags.`x`.y", Field("tag", "x.y")),
        ("params.lr.max", Field("param", "lr.max")),
        ("start_time", STARTED),
        ("end_time", Field("attribute", "ended")),
        ("git_commit", Field("attribute", "commit")),
    ],
)
def test_fields(text: str, field: Field) -> None:
    assert parse_field(text) == field
    assert parse(f"{text} is null") == IsNull(field)


@pytest.mark.parametrize("reducer", REDUCERS)
def test_every_reducer(reducer: str) -> None:
    assert parse(f"metrics.loss.{reducer} < 2") == Compare(
        Field("metric", "loss", reducer), "<", 2.0
    )
    assert parse_field(f"metric.`loss.x`.{reducer}") == Field("metric", "loss.x", reducer)


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_every_attribute(name: str) -> None:
    assert parse_field(name) == Field("attribute", name)
    assert parse_field(name.upper()) == Field("attribute", name)
    assert parse(f"{name} is not null") == IsNull(Field("attribute", name), negated=True)


def test_bare_tags_match_any_tag() -> None:
    assert parse("tags ~ best") == Compare(Field("tag", None), "~", "best")
    assert parse("tags is null") == IsNull(Field("tag", None))
    assert parse("tags in (a, b)") == In(Field("tag", None), ("a", "b"))


# literals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1", 1.0),
        ("-1", -1.0),
        ("+2.5", 2.5),
        ("0.01", 0.01),
        (".5", 0.5),
        ("1e-3", 0.001),
        ("1E3", 1000.0),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("'0.01'", "0.01"),
        ('"true"', "true"),
        ("adam", "adam"),
        ("1e", "1e"),
        ("inf", "inf"),
        ("0x10", "0x10"),
        ("'it''s'", None),  # two strings: an error, checked below
    ],
)
def test_param_literals_keep_their_type(written: str, value: object) -> None:
    if value is None:
        with pytest.raises(QuerySyntaxError):
            parse(f"params.x = {written}")
        return
    node = parse(f"params.x = {written}")
    assert node == Compare(Field("param", "x"), "=", value)
    assert type(node.value) is type(value)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        (r'"a\"b"', 'a"b'),
        (r"'a\'b'", "a'b"),
        (r'"a\\b"', "a\\b"),
        (r'"C:\data\new"', "C:\\data\new"),  # \d is kept, \n is a newline
        (r'"tab\there"', "tab\there"),
        (r'"\u00e9t\u00e9"', "été"),
        ('"single \' inside"', "single ' inside"),
        ("'double \" inside'", 'double " inside'),
        ('"  spaces  "', "  spaces  "),
        ('""', ""),
        ('"é 🚀 中文"', "é 🚀 中文"),
        ('"%_*?"', "%_*?"),
        ("'; DROP TABLE runs; --'", "; DROP TABLE runs; --"),
    ],
)
def test_quoted_strings(written: str, value: str) -> None:
    assert parse(f"name = {written}") == Compare(NAME, "=", value)


def test_text_fields_take_any_literal_as_its_text() -> None:
    assert parse("tags.epoch = 3.0") == Compare(Field("tag", "epoch"), "=", "3.0")
    assert parse("tags.flag = True") == Compare(Field("tag", "flag"), "=", "True")
    assert parse("name ~ 2026-11-01") == Compare(NAME, "~", "2026-11-01")


def test_metric_values_are_numbers() -> None:
    assert parse("metrics.acc > '0.9'") == Compare(ACC, ">", 0.9)
    assert parse("metrics.loss = inf") == Compare(
        Field("metric", "loss", "last"), "=", float("inf")
    )
    assert parse("metrics.loss > -Infinity").value == float("-inf")  # type: ignore[union-attr]
    assert parse("metrics.acc in (1, '2')") == In(ACC, (1.0, 2.0))


def test_status_values_are_checked_and_lowered() -> None:
    assert parse("status = FINISHED") == Compare(STATUS, "=", "finished")
    assert parse("status != 'crashed'") == Compare(STATUS, "!=", "crashed")
    assert parse("status ~ fin") == Compare(STATUS, "~", "fin")  # contains: any text
    assert parse("status in (Pruned, failed)") == In(STATUS, ("pruned", "failed"))  # sweeps


def test_run_numbers() -> None:
    number = Field("attribute", "number")
    assert parse("number = #3") == Compare(number, "=", 3.0)
    assert parse("number >= 10") == Compare(number, ">=", 10.0)
    assert parse("number in ('#1', 2)") == In(number, (1.0, 2.0))


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("1h30m", 5400.0),
     ("250ms", 0.25), ("1.5d", 129600.0), ("'2H'", 7200.0), ("0.5", 0.5)],
)  # fmt: skip
def test_durations(written: str, seconds: float) -> None:
    assert parse(f"duration > {written}") == Compare(Field("attribute", "duration"), ">", seconds)


def test_times_instants() -> None:
    utc = dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.timezone.utc).timestamp()
    assert parse("started > 2026-11-01T10:30Z") == Compare(STARTED, ">", utc)
    assert parse("started > '2026-11-01 10:30:00+00:00'") == Compare(STARTED, ">", utc)
    assert parse("started > 2026-11-01T12:30+02:00") == Compare(STARTED, ">", utc)
    assert parse("started > 2026-11-01T05:30-0500") == Compare(STARTED, ">", utc)
    assert parse("started > 2026-11-01T10:30:00.250Z").value == utc + 0.25  # type: ignore[union-attr]
    # naive: local time
    assert parse("ended <= 2026-11-01T10:30") == Compare(
        Field("attribute", "ended"), "<=", local(2026, 11, 1, 10, 30)
    )
    assert parse("started >= 1700000000") == Compare(STARTED, ">=", 1700000000.0)


def test_a_date_is_the_whole_day() -> None:
    day, next_day = local(2026, 11, 1), local(2026, 11, 2)
    assert parse("started = 2026-11-01") == And(
        (Compare(STARTED, ">=", day), Compare(STARTED, "<", next_day))
    )
    assert parse("started != 2026-11-01") == Or(
        (Compare(STARTED, "<", day), Compare(STARTED, ">=", next_day))
    )
    assert parse("started < 2026-11-01") == Compare(STARTED, "<", day)
    assert parse("started <= 2026-11-01") == Compare(STARTED, "<", next_day)
    assert parse("started > 2026-11-01") == Compare(STARTED, ">=", next_day)
    assert parse("started >= '2026-11-01'") == Compare(STARTED, ">=", day)
    assert parse("started = 2026-12") == And(
        (Compare(STARTED, ">=", local(2026, 12, 1)), Compare(STARTED, "<", local(2027, 1, 1)))
    )
    assert parse("started in (2026-11-01, 5)") == Or(
        (
            In(STARTED, (5.0,)),
            And((Compare(STARTED, ">=", day), Compare(STARTED, "<", next_day))),
        )
    )
    assert parse("started not in (2026-11-01)") == And(
        (
            IsNull(STARTED, negated=True),
            Not(And((Compare(STARTED, ">=", day), Compare(STARTED, "<", next_day)))),
        )
    )


# errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("params.lr <", "expected a value after '<'", 12),
        ("params.lr < ", "expected a value after '<'", 12),
        ("name = )", "expected a value after '=', found ')'", 8),
        ("name in (a,)", "expected a value after ','", 12),
        ("name in ()", "expected a value in the list", 10),
        ("(status = finished", "unclosed parenthesis", 1),
        ("status = failed or (name = a and (name = b)", "unclosed parenthesis", 20),
        ("name in (a", "unclosed parenthesis", 9),
        ("status = finished)", "')' without a matching '('", 18),
        ("()", "empty parentheses", 2),
        ("name = 'abc", "unclosed string", 8),
        ('name = "abc', "unclosed string", 8),
        ("metrics.`abc > 1", "unclosed backtick", 9),
        ("params. = 1", "expected a key after '.'", 8),
        ("params = 1", "expected a key after 'params'", 1),
        ("name = `x`", "backticks quote a key", 8),
        ("name", "expected an operator after 'name'", 5),
        ("params.lr 0.1", "expected an operator after 'params.lr'", 11),
        ("name ! = x", "expected an operator after 'name'", 6),
        ("name is x", "expected 'null' or 'not null' after 'is'", 9),
        ("name is not x", "expected 'null' after 'is not'", 13),
        ("name not x", "expected 'in' after 'not'", 10),
        ("name in x", "expected '(' and a list of values after 'in'", 9),
        ("name in (a b)", "expected ',' or ')' in the list", 12),
        ("name = a b", "expected 'and' or 'or' between conditions, found 'b'", 10),
        ("name = a and", "expected a condition", 13),
        ("and name = a", "expected a condition such as params.lr < 0.01 or status = finished", 1),
        ("name = a or not", "expected a condition", 16),
        ("", "the query is empty", 1),
        ("   ", "the query is empty", 1),
        ("3 = name", "expected a condition", 1),
        ("paramz.lr = 1", "unknown field 'paramz.lr': use params.KEY, metrics.KEY[.REDUCER], "
         "tags.KEY, used or one of id, status", 1),
        ("name = a and stauts = x", "unknown field 'stauts'", 14),
        ("status.x = 1", "unknown field 'status.x'", 1),
        ("metrics.`loss`.mni < 1", "unknown reducer 'mni': use one of last, min, max, mean, "
         "best, count", 16),
        ("metrics.acc ~ 1", "'~' matches text, and metrics.acc holds numbers", 13),
        ("duration !~ 1", "'!~' matches text, and duration holds durations", 10),
        ("tags >= a", "'>=' needs a tag key", 6),
        ("params.x < true", "true and false only compare with =, != or in", 12),
        ("params.x > null", "null only compares with = or !=", 12),
        ("metrics.acc > high", "metrics.acc holds numbers: expected a number, found 'high'", 15),
        ("metrics.acc > true", "metrics.acc holds numbers", 15),
        ("metrics.acc = nan", "NaN equals nothing", 15),
        ("metrics.acc in (1, x)", "metrics.acc holds numbers: expected a number, found 'x'", 20),
        ("status = finshed", "unknown status 'finshed': use one of running, finished", 10),
        ("status in (finished, nope)", "unknown status 'nope'", 22),
        ("number = abc", "number takes a run number (3 or #3)", 10),
        ("duration > 5x", "duration takes seconds or a length like 90s", 12),
        ("started > yesterday", "started takes a date or time", 11),
        ("started > 2026-13-01", "started takes a date or time", 11),
        ("ended < '2026-11-01T25:00'", "ended takes a date or time", 9),
    ],
)  # fmt: skip
def test_errors_say_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    error = caught.value
    assert error.message.startswith(message), error.message
    assert (error.column, error.position) == (column, column - 1)
    assert error.text == text
    assert error.to_dict() == {"message": error.message, "column": column, "position": column - 1}
    lines = str(error).split("\n")
    assert lines[0] == f"{error.message} at column {column}"
    assert lines[1] == text and lines[2] == " " * (column - 1) + "^"
    assert isinstance(error, InvalidQuery) and isinstance(error, ValueError)


def test_error_details() -> None:
    with pytest.raises(QuerySyntaxError, match=r"did you mean 'params\.lr'"):
        parse("paramz.lr = 1")
    with pytest.raises(QuerySyntaxError, match=r"did you mean 'status'"):
        parse("stauts = x")
    with pytest.raises(QuerySyntaxError, match=r"tags\.stage, params\.stage"):
        parse("stage=tuning")
    with pytest.raises(QuerySyntaxError, match=r"quote a value that has spaces"):
        parse("started > 2026-11-01 10:30")
    # a caret under a query on several lines stays under the spot
    error = pytest.raises(QuerySyntaxError, parse, "name = a\nand x").value
    assert str(error).split("\n")[1:] == ["name = a and x", " " * 14 + "^"]
    # it pickles, with its parts
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.text, copy.position) == (error.message, error.text, error.position)


def test_limits() -> None:
    with pytest.raises(QuerySyntaxError, match="nests more than 32 levels"):
        parse("not " * 40 + "name = a")
    with pytest.raises(QuerySyntaxError, match="nests more than 32 levels"):
        parse(nested(40))
    parse("not " * 32 + "name = a")
    parse(nested(32))
    # parentheses alone add no level
    assert parse("(" * 5000 + "name = a" + ")" * 5000) == Compare(NAME, "=", "a")
    many = " or ".join(f"params.a = {i}" for i in range(257))
    with pytest.raises(QuerySyntaxError, match="at most 256 conditions") as caught:
        parse(many)
    assert caught.value.position == many.rindex("params.a")
    with pytest.raises(QuerySyntaxError, match="at most 1000 values"):
        parse("params.a in (" + ", ".join(map(str, range(1001))) + ")")
    text = " ".join(f"w{i}" for i in range(51))
    with pytest.raises(QuerySyntaxError, match="at most 50 words") as caught:
        parse_filter(text)
    assert caught.value.position == text.rindex("w50")


def nested(levels: int) -> str:
    """A query ``levels`` deep: and inside or inside and…"""
    text = "name !~ a"
    for i in range(levels - 1):
        text = f"name !~ a {'and' if i % 2 else 'or'} ({text})"
    return text


def test_parse_field_refuses_what_is_not_one_field() -> None:
    for text, message in [
        ("tags", "expected a tag key"),
        ("", "expected a field"),
        (
            "params.lr < 1",
            "expected a field such as params.lr, metrics.loss.min or started, found '<'",
        ),
        ("nope", "unknown field 'nope'"),
        ("metrics.`a`.bad", "unknown reducer 'bad'"),
        ("-started", "expected a field"),
        ("params.", "expected a key after '.'"),
    ]:
        with pytest.raises(QuerySyntaxError, match=message):
            parse_field(text)


# plain text -----------------------------------------------------------------------------------


def _words_of(node: Node | None) -> list[str]:
    """The words a plain-text search looks for (each is an Or naming name ~ word first)."""
    assert node is not None
    terms = node.items if isinstance(node, And) else (node,)
    found = []
    for term in terms:
        assert isinstance(term, Or)
        first = term.items[0]
        assert isinstance(first, Compare) and first.field == NAME and first.op == "~"
        found.append(str(first.value))
    return found


def test_plain_text_is_words() -> None:
    assert parse_filter("") is None and parse_filter("  \n") is None and parse_filter(None) is None
    assert _words_of(parse_filter("sweep")) == ["sweep"]
    assert _words_of(parse_filter("lr baseline")) == ["lr", "baseline"]
    assert _words_of(parse_filter('"my run" baseline')) == ["my run", "baseline"]
    assert _words_of(parse_filter("'a=b'")) == ["a=b"]  # quoted: a word, not an operator
    assert _words_of(parse_filter("v1.2 run-3 50%")) == ["v1.2", "run-3", "50%"]
    assert _words_of(parse_filter("not finished")) == ["not", "finished"]
    assert _words_of(parse_filter("status is finished")) == ["status", "is", "finished"]


def test_a_plain_word_matches_name_experiment_tags_number_status() -> None:
    term = parse_filter("#3")
    assert term == Or(
        (
            Compare(NAME, "~", "#3"),
            Compare(Field("attribute", "experiment"), "~", "#3"),
            Compare(Field("tag", None), "~", "#3"),
            Compare(Field("attribute", "number"), "=", 3.0),
        )
    )
    assert Compare(Field("attribute", "number"), "=", 12.0) in parse_filter("12").items  # type: ignore[union-attr]
    assert Compare(STATUS, "=", "failed") in parse_filter("Failed").items  # type: ignore[union-attr]
    assert len(parse_filter("sweep").items) == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "status = finished",
        "params.lr < 0.01",
        "status is null",
        "name in (a, b)",
        "not status = finished",
        "tags ~ best",
    ],
)
def test_a_query_is_a_query(text: str) -> None:
    assert parse_filter(text) == parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stage=tuning", "unknown field 'stage'"),
        ("params.lr", "expected an operator after 'params.lr'"),
        ("params.lr <", "expected a value after '<'"),
        ("metrics.acc", "expected an operator"),
        ("sweep (best", "expected an operator after 'sweep'"),
        ("lr<0.1 sweep", "expected 'and' or 'or' between conditions, found 'sweep'"),
        ("lr<0.1", "unknown field 'lr'"),
        ("name ~", "expected a value after '~'"),
        ("a != b", "unknown field 'a'"),
    ],
)
def test_a_text_that_tries_to_be_a_query_gets_its_error(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_filter(text)


# properties -----------------------------------------------------------------------------------

_keys = st.text(min_size=1, max_size=8)
_texts = st.text(max_size=10)
_numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def _conditions(draw: st.DrawFn) -> Node:
    """A condition of any field with values of its kind (what the parser itself builds)."""
    kind = draw(st.sampled_from(["param", "metric", "tag", "anytag", "text", "number"]))
    ordering = ["<", "<=", ">", ">="]
    if kind == "param":
        field = Field("param", draw(_keys))
        values = st.one_of(_numbers, _texts, st.booleans())
    elif kind == "metric":
        field = Field("metric", draw(_keys), draw(st.sampled_from(REDUCERS)))
        values = _numbers | st.sampled_from([float("inf"), float("-inf")])
    elif kind in ("tag", "anytag"):
        field, values = Field("tag", draw(_keys) if kind == "tag" else None), _texts
    elif kind == "text":
        name = draw(st.sampled_from(["id", "name", "notebook", "experiment", "commit", "note"]))
        field, values = Field("attribute", name), _texts
    else:
        name = draw(st.sampled_from(["number", "duration", "started", "ended"]))
        field, values = Field("attribute", name), _numbers
    shape = draw(st.sampled_from(["compare", "in", "null"]))
    if shape == "null":
        return IsNull(field, negated=draw(st.booleans()))
    if shape == "in":
        items = draw(st.lists(values, min_size=1, max_size=3, unique_by=lambda v: (type(v), v)))
        return In(field, tuple(items), negated=draw(st.booleans()))
    value = draw(values)
    ops = ["=", "!="]
    if not isinstance(value, bool) and kind != "anytag":
        ops += ordering
    if isinstance(value, str):
        ops += ["~", "!~"]
    return Compare(field, draw(st.sampled_from(ops)), value)


def _trees() -> st.SearchStrategy[Node]:
    def grow(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        many = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(
            many.map(lambda items: _flat(And, items)),
            many.map(lambda items: _flat(Or, items)),
            children.map(Not),
        )

    return st.recursive(_conditions(), grow, max_leaves=6)


def _flat(kind: type, items: tuple[Node, ...]) -> Node:
    out: list[Node] = []
    for item in items:
        out.extend(item.items if isinstance(item, kind) else (item,))  # type: ignore[attr-defined]
    return kind(tuple(out))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees())
def test_a_printed_tree_parses_back_to_itself(tree: Node) -> None:
    assert parse(str(tree)) == tree


_QUERYISH = st.text(alphabet=st.sampled_from(list("ab.`'\"()=<>!~ ,#*?\\-1e5\n")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_QUERYISH | st.text(max_size=40))
def test_any_text_parses_or_raises_a_query_error(text: str) -> None:
    for function in (parse, parse_filter, parse_field):
        try:
            function(text)
        except QuerySyntaxError as error:
            assert 0 <= error.position <= len(text)
