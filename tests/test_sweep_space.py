"""A sweep's search space (issue 15): spec texts to Optuna distributions and back, the grid a
grid sweep walks, and the samplers and pruners built for a space."""

from __future__ import annotations

import pickle
import sys
import warnings
from decimal import Decimal

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from jupyter_mltrack.sweeps.space import (
    MAX_GRID_SIZE,
    Space,
    SpaceError,
    SweepGridSampler,
    make_pruner,
    make_sampler,
    parse_param,
    parse_space,
    parse_spec,
    spec_text,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


# parsing -----------------------------------------------------------------------------------

FORMS = [
    ("loguniform(1e-4, 1e-1)", FloatDistribution(1e-4, 0.1, log=True)),
    ("LogUniform(0.0001,0.1)", FloatDistribution(1e-4, 0.1, log=True)),
    ("uniform(0, 1)", FloatDistribution(0.0, 1.0)),
    ("uniform(-1.5, 2.5e0)", FloatDistribution(-1.5, 2.5)),
    ("uniform(0, 1, 0.25)", FloatDistribution(0.0, 1.0, step=0.25)),
    ("int(2, 10)", IntDistribution(2, 10)),
    ("int(0, 1e3)", IntDistribution(0, 1000)),
    ("int(0, 10, 2)", IntDistribution(0, 10, step=2)),
    ("int(-8, -2, 3)", IntDistribution(-8, -2, step=3)),
    ("logint(1, 1024)", IntDistribution(1, 1024, log=True)),
    ("choice(rf, gb)", CategoricalDistribution(["rf", "gb"])),
    ("choice(adam)", CategoricalDistribution(["adam"])),
    ("  choice( a ,b , ) ", CategoricalDistribution(["a", "b"])),
    ("[1, 2, 4]", [1, 2, 4]),
    ("[1,2,4]", [1, 2, 4]),
    ("[gini, entropy]", ["gini", "entropy"]),
]


@pytest.mark.parametrize(("text", "expected"), FORMS)
def test_every_form_parses_to_its_distribution(text: str, expected: object) -> None:
    parsed = parse_spec(text, "p")
    assert parsed == expected
    assert type(parsed) is type(expected)


def test_values_read_like_yaml_scalars() -> None:
    parsed = parse_spec(
        "[3, -2, 0.5, 1e-4, .25, 1E5, true, None, rf, x=y, sgd-m, inf, '1', \"false\", "
        "'random forest', '', \"a\\\"b\\n\\u00e9\"]"
    )
    assert parsed == [3, -2, 0.5, 1e-4, 0.25, 1e5, True, None, "rf", "x=y", "sgd-m", "inf"] + [
        "1",
        "false",
        "random forest",
        "",
        'a"b\né',
    ]
    assert [type(v) for v in parsed] == [int, int] + [float] * 4 + [bool, type(None)] + [str] * 9
    keywords = parse_spec("choice(TRUE, False, null, NONE_OF_THEM)")
    assert keywords == CategoricalDistribution([True, False, None, "NONE_OF_THEM"])


# the canonical text ------------------------------------------------------------------------

CANONICAL = [
    ("loguniform(1e-4,1e-1)", "loguniform(0.0001, 0.1)"),
    ("uniform(0,1)", "uniform(0.0, 1.0)"),
    ("uniform(0, 0.3, 0.1)", "uniform(0.0, 0.3, 0.1)"),
    ("INT( 2 , 10 )", "int(2, 10)"),
    ("int(0, 10, 2)", "int(0, 10, 2)"),
    ("logint(1, 64)", "logint(1, 64)"),
    ("choice('rf', gb, 2.0, True, NONE)", "choice(rf, gb, 2.0, true, none)"),
    (
        "choice('a b', \"1\", 'None', 'x,y', 'tab\\there')",
        'choice("a b", "1", "None", "x,y", "tab\\there")',
    ),
    ("[2,4,8]", "[2, 4, 8]"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_text(text: str, canonical: str) -> None:
    parsed = parse_spec(text)
    assert spec_text(parsed) == canonical
    assert parse_spec(canonical) == parsed


def test_a_space_round_trips_through_its_texts_and_the_sweep_runs_params() -> None:
    space = parse_space(
        {
            "lr": "loguniform(1e-4,1e-1)",
            "depth": [2, 4, 8],
            "model": CategoricalDistribution(["rf", "gb"]),
            "n": range(1, 4),
            "alpha": np.array([0.5, 1.5]),
            "k": "uniform(0,1,0.1)",
            "flags": (True, None, "x"),
        }
    )
    texts = space.to_texts()
    assert texts == {
        "lr": "loguniform(0.0001, 0.1)",
        "depth": "[2, 4, 8]",
        "model": "choice(rf, gb)",
        "n": "[1, 2, 3]",
        "alpha": "[0.5, 1.5]",
        "k": "uniform(0.0, 1.0, 0.1)",
        "flags": "[true, none, x]",
    }
    assert Space.from_texts(texts) == space
    assert list(Space.from_texts(texts)) == list(space)  # the order is kept
    params = {"metric": "acc", **space.to_params()}
    assert params["space.lr"] == "loguniform(0.0001, 0.1)"
    assert Space.from_params(params) == space
    assert parse_space(space) is space
    assert repr(space).startswith("Space(lr=loguniform(0.0001, 0.1), depth=[2, 4, 8]")


# errors ------------------------------------------------------------------------------------

ERRORS = [
    ("loguniform(0, 1)", "loguniform needs 0 < lo < hi, got loguniform(0, 1)", None),
    ("logint(0, 5)", "logint needs 1 <= lo < hi", None),
    ("uniform(1, 1)", "uniform needs lo < hi", None),
    ("int(3, 1)", "int needs lo < hi", None),
    ("int(0, 10, 0)", "int needs step > 0", None),
    ("uniform(0, 1, -0.5)", "uniform needs step > 0", None),
    ("int(0, 10, 3)", "multiple of step, got int(0, 10, 3) (the last value would be 9)", None),
    ("uniform(0, 1, 0.3)", "the last value would be 0.9", None),
    ("int(1)", "int takes int(lo, hi[, step]), got int(1)", None),
    ("loguniform(1, 2, 3)", "loguniform takes loguniform(lo, hi)", None),
    ("int(a, 3)", "int takes numbers, got 'a'", 4),
    ("int(1.5, 3)", "int takes whole numbers, got 1.5", 4),
    ("uniform(true, 2)", "uniform takes numbers, got 'true'", 8),
    ("uniform(0, 1e400)", "1e400 is too large for a float", 11),
    ("choice()", "choice needs at least one value", None),
    ("[]", "a grid list needs at least one value", None),
    ("choice(a, b, a)", "choice has a twice", None),
    ("choice(1, 1.0)", "choice has 1 and 1.0, which are equal to Python", None),
    ("[1, true]", "a grid list has 1 and true, which are equal to Python", None),
    ("logunifrom(1e-4, 1)", "unknown function 'logunifrom': did you mean loguniform?", 0),
    ("sqrt(2)", "unknown function 'sqrt': the functions are choice(a, b, ...), int(lo, hi[,", 0),
    ("choice(random forest)", "expected ',' or ')', found 'forest' (quote a value that has", 14),
    ("[1 2]", "expected ',' or ']', found '2'", 3),
    ("choice(a,,b)", "expected a value or ')', found ','", 9),
    ("loguniform(1e-4, 0.1", "unclosed '(': add ')'", 20),
    ("[1, 2", "unclosed '[': add ']'", 5),
    ('choice("abc)', 'unclosed string: add the closing "', 7),
    ("choice('a\\q')", "unknown escape \\q in a string", 9),
    ("choice('\\u12')", "\\u takes 4 hex digits", 8),
    ("loguniform", "expected '(' after the function name, the spec ends", 10),
    ("int(1, 2) x", "unexpected 'x' after the end of the spec", 10),
    ("5", "found '5': a single value is written choice(5)", 0),
    ("(1, 2)", "expected loguniform(1e-4, 0.1), int(2, 10), choice(rf, gb) or [1, 2, 4]", 0),
    ("  ", "the spec is empty", None),
]


@pytest.mark.parametrize(("text", "message", "position"), ERRORS)
def test_errors_name_the_parameter_and_the_spot(
    text: str, message: str, position: int | None
) -> None:
    with pytest.raises(SpaceError) as caught:
        parse_spec(text, "lr")
    error = caught.value
    shown = str(error)
    assert shown.startswith("lr: ") and message in shown, shown
    assert "\n" not in shown
    assert error.param == "lr"
    assert error.position == position
    if position is not None:
        assert shown.endswith(f"(column {position + 1})")
    assert pickle.loads(pickle.dumps(error)).args == error.args


def test_parse_param_splits_the_cli_form() -> None:
    assert parse_param("lr=loguniform(1e-4,1e-1)") == ("lr", FloatDistribution(1e-4, 0.1, log=True))
    assert parse_param(" depth = [2, 4, 8]") == ("depth", [2, 4, 8])
    assert parse_param("sep=choice('=', ',')") == ("sep", CategoricalDistribution(["=", ","]))
    with pytest.raises(SpaceError, match="--param needs NAME=SPEC"):
        parse_param("lr")
    with pytest.raises(SpaceError, match="a Python identifier .* got 'my-lr'"):
        parse_param("my-lr=uniform(0, 1)")
    with pytest.raises(SpaceError, match="^depth: unclosed '\\['"):
        parse_param("depth=[2, 4")


def test_parse_space_refuses_what_it_cannot_search() -> None:
    with pytest.raises(SpaceError, match="the space is empty"):
        parse_space({})
    with pytest.raises(SpaceError, match="a space is a mapping"):
        parse_space(["lr=uniform(0, 1)"])  # type: ignore[arg-type]
    with pytest.raises(SpaceError, match="^lr: expected a spec text .* got float 0.1"):
        parse_space({"lr": 0.1})
    with pytest.raises(SpaceError, match="^depth: a choice is None, a bool, an int, a float"):
        parse_space({"depth": [[1, 2]]})
    with pytest.raises(SpaceError, match="^x: a grid list takes finite numbers"):
        parse_space({"x": [1.0, float("nan")]})
    # an Optuna distribution is checked as its text would be, so what is stored parses again
    with pytest.raises(SpaceError, match="^n: int needs lo < hi, got int\\(3, 3\\)"):
        parse_space({"n": IntDistribution(3, 3)})
    with pytest.raises(SpaceError, match="^m: choice has 1 and true"):
        parse_space({"m": CategoricalDistribution([1, True])})
    with pytest.raises(SpaceError, match="^p: expected a spec text"):
        Space.from_texts({"p": [1, 2]})  # type: ignore[dict-item]


# grids -------------------------------------------------------------------------------------


def test_the_grid_is_the_exact_product_in_a_fixed_order() -> None:
    space = parse_space({"depth": [2, 4], "model": "choice(rf, gb)", "i": "int(0, 4, 2)"})
    assert not space.is_grid and space.finite and space.size() == 12
    assert space.grid_values == {"depth": [2, 4], "model": ["rf", "gb"], "i": [0, 2, 4]}
    grid = space.grid()
    assert grid == [
        {"depth": d, "model": m, "i": i} for d in (2, 4) for m in ("rf", "gb") for i in (0, 2, 4)
    ]
    assert parse_space({"a": [3, 1], "b": ["y", "x"]}).is_grid


def test_stepped_ranges_expand_to_exact_values_counted_not_enumerated() -> None:
    space = parse_space({"k": "uniform(0, 0.3, 0.1)", "n": "logint(1, 4)"})
    assert space.grid_values == {"k": [0.0, 0.1, 0.2, 0.3], "n": [1, 2, 3, 4]}
    huge = parse_space({"n": "int(0, 1000000000000)", "m": "int(0, 10, 5)"})
    assert huge.size() == (10**12 + 1) * 3
    with pytest.raises(SpaceError, match=f"more than {MAX_GRID_SIZE}: use the random or tpe"):
        huge.grid()


def test_a_continuous_space_has_no_grid() -> None:
    space = parse_space({"depth": [2, 4], "lr": "loguniform(1e-4, 0.1)", "x": "uniform(0, 1)"})
    assert space.size() is None and not space.finite
    assert space.continuous == ["lr", "x"]
    message = "lr: a grid sweep needs a finite set of values for every parameter, and lr = "
    with pytest.raises(SpaceError, match=message):
        space.grid_values  # noqa: B018
    with pytest.raises(SpaceError, match="or use the random or tpe sampler"):
        make_sampler("grid", space, seed=0)


# samplers and pruners ----------------------------------------------------------------------

GRID_SPACE = {"depth": [2, 4, 8], "model": "choice(rf, gb)", "k": "uniform(0, 0.2, 0.1)"}


def _key(space: Space, params: dict) -> tuple:
    return tuple(params[n] for n in space.names)


def test_the_grid_sampler_asks_every_combination_once_through_ask_and_tell() -> None:
    space = parse_space(GRID_SPACE)
    sampler = make_sampler("grid", space, seed=0)
    assert isinstance(sampler, SweepGridSampler)
    study = optuna.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "value not contained in the distribution"
        asked = []
        for _ in range(space.size() or 0):
            trial = study.ask(space.distributions)
            asked.append(_key(space, trial.params))
            study.tell(trial, 0.0)  # Optuna's own GridSampler raises here on the last one
    assert sorted(asked, key=repr) == sorted((_key(space, g) for g in space.grid()), key=repr)
    assert len(set(asked)) == 18
    assert sampler.is_exhausted(study)


def test_a_resumed_grid_sweep_asks_only_the_combinations_left() -> None:
    space = parse_space(GRID_SPACE)
    first = optuna.create_study(sampler=make_sampler("grid", space, seed=0))
    asked = [first.ask(space.distributions) for _ in range(8)]
    for trial in asked[:3] + asked[4:]:
        first.tell(trial, 1.0)
    crashed = asked[3]  # its process died: never told
    # the driver rebuilds the study from the runs (params only, as the store keeps them: 2 may
    # come back as 2.0), with another seed, then runs the crashed trial again with its params
    sampler = make_sampler("grid", space, seed=1)
    assert isinstance(sampler, SweepGridSampler)
    rebuilt = optuna.create_study(sampler=sampler)
    for old in first.trials:
        if old.state != optuna.trial.TrialState.COMPLETE:
            continue
        stored = {**old.params, "depth": float(old.params["depth"])}
        rebuilt.add_trial(
            optuna.trial.create_trial(
                params=old.params,
                distributions=old.distributions,
                value=1.0,
                system_attrs=sampler.system_attrs_for(stored),
            )
        )
    rebuilt.enqueue_trial(crashed.params)
    again = rebuilt.ask(space.distributions)
    assert again.params == crashed.params
    # the rest, two at a time as two workers would take them
    rest = []
    while len(rest) < 18 - 8:
        pair = [rebuilt.ask(space.distributions) for _ in range(2)]
        rest += [_key(space, t.params) for t in pair]
        for trial in pair:
            rebuilt.tell(trial, 0.0)
    assert not sampler.is_exhausted(rebuilt)  # the crashed trial's re-run is still running
    rebuilt.tell(again, 0.0)
    assert sampler.is_exhausted(rebuilt)
    done = {_key(space, t.params) for t in asked}
    assert done.isdisjoint(rest) and len(set(rest)) == len(rest)
    assert len(done | set(rest)) == 18
    assert sampler.system_attrs_for({"depth": 3, "model": "rf", "k": 0.0}) == {}
    assert sampler.system_attrs_for({"depth": 2}) == {}
    assert sampler.system_attrs_for({"depth": True, "model": "rf", "k": 0.0}) == {}


def test_samplers_build_for_a_space() -> None:
    space = parse_space({"lr": "loguniform(1e-4, 0.1)", "n": "int(1, 5)", "m": "choice(a, b)"})
    assert isinstance(make_sampler("random", space, seed=1), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler("TPE", space, seed=1), optuna.samplers.TPESampler)
    cmaes = make_sampler("cmaes", space, seed=1)
    assert isinstance(cmaes, optuna.samplers.CmaEsSampler)
    study = optuna.create_study(sampler=cmaes, direction="maximize")
    for _ in range(3):  # past its one startup trial, so CMA-ES itself proposes
        trial = study.ask(space.distributions)
        assert set(trial.params) == {"lr", "n", "m"}
        study.tell(trial, trial.params["lr"])
    with pytest.raises(SpaceError, match="unknown sampler 'tpee': did you mean tpe\\?"):
        make_sampler("tpee", space)
    with pytest.raises(SpaceError, match="the cmaes sampler searches numbers"):
        make_sampler("cmaes", parse_space({"m": "choice(a, b)", "d": [1, 2]}))


def test_the_cmaes_sampler_says_how_to_install_cmaes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cmaes", None)  # what Python does when it is missing
    with pytest.raises(ImportError, match="pip install cmaes"):
        make_sampler("cmaes", parse_space({"x": "uniform(0, 1)"}))


def test_pruners() -> None:
    assert isinstance(make_pruner(None), optuna.pruners.NopPruner)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)
    median = make_pruner("Median")
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert (median._n_startup_trials, median._n_warmup_steps) == (5, 0)
    assert isinstance(make_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("hyperband"), optuna.pruners.HyperbandPruner)
    with pytest.raises(SpaceError, match="unknown pruner 'medain': did you mean median\\?"):
        make_pruner("medain")


# any valid spec round-trips ----------------------------------------------------------------

_tricky = st.sampled_from(["true", "None", "1", "1e5", "-2.5", "a b", "", "x,y", "[", "\\", '"'])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    _tricky,
)
_short = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False).map(float)


@st.composite
def _axes(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["choice", "list", "int", "logint", "uniform", "step", "log"]))
    if kind in ("choice", "list"):
        # unique=True: a set of them, so values equal to Python (1, 1.0, True) are not drawn
        values = draw(st.lists(_scalars, min_size=1, max_size=5, unique=True))
        return values if kind == "list" else CategoricalDistribution(values)
    if kind in ("int", "logint"):
        lo = draw(st.integers(1, 10**6) if kind == "logint" else st.integers(-(10**6), 10**6))
        step = 1 if kind == "logint" else draw(st.integers(1, 50))
        return IntDistribution(
            lo, lo + step * draw(st.integers(1, 100)), log=kind == "logint", step=step
        )
    if kind == "step":
        lo, step = draw(_short), draw(_short.filter(lambda s: s > 0))
        hi = float(Decimal(str(lo)) + draw(st.integers(1, 30)) * Decimal(str(step)))
        return FloatDistribution(lo, hi, step=step)
    finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
    lo = draw(finite.filter(lambda x: x > 0) if kind == "log" else finite)
    hi = draw(finite.filter(lambda x: x > lo))
    return FloatDistribution(lo, hi, log=kind == "log")


@settings(max_examples=200, deadline=None)
@given(_axes())
def test_any_valid_spec_round_trips_through_its_text(axis: object) -> None:
    text = spec_text(axis)  # type: ignore[arg-type]
    assert "\n" not in text
    parsed = parse_spec(text, "p")
    assert parsed == axis
    if isinstance(axis, list):  # and each value keeps its type (1 is not 1.0, nor True)
        assert [type(v) for v in parsed] == [type(v) for v in axis]  # type: ignore[union-attr]
    elif isinstance(axis, CategoricalDistribution):
        assert [type(v) for v in parsed.choices] == [type(v) for v in axis.choices]  # type: ignore[union-attr]
    assert spec_text(parsed) == text
    space = parse_space({"p": axis})
    assert Space.from_texts(space.to_texts()) == space


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="choice(int,logunform)[]'\"\\ 0123456789.e-+xtruenl=", max_size=30))
def test_any_text_parses_or_says_why(text: str) -> None:
    try:
        parsed = parse_spec(text, "p")
    except SpaceError as error:
        assert str(error).startswith("p: ") and "\n" not in str(error)
        assert error.position is None or 0 <= error.position <= len(text)
    else:
        assert parse_spec(spec_text(parsed), "p") == parsed


def test_a_syntax_error_pickles_as_dask_pickles_exceptions() -> None:
    """dask.distributed installs tblib's exception pickling, which also pickles an error's
    ``__context__``: a syntax error must not carry lark's parser state there (it did, when
    raised inside the ``except`` that caught lark's error)."""
    pickling_support = pytest.importorskip("tblib.pickling_support")
    pickling_support.install(SpaceError)
    with pytest.raises(SpaceError) as caught:
        parse_spec("choice(random forest)", "lr")
    assert caught.value.__context__ is None
    assert pickle.loads(pickle.dumps(caught.value)).args == caught.value.args
