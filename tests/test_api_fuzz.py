"""The REST API fuzzed from its own ``openapi.json`` with schemathesis, against a real server.

Every operation the document lists is called with generated requests (valid and invalid
query strings, path parameters and bodies), authenticated with the server's token. A response
must never be a ``5xx`` and must conform to the document: its status documented for the
operation, its content type the documented one, its body valid against the response schema.

Generated strings almost never name a real run or snapshot, so path and query parameters are
drawn half the time from the resources the server's store holds (``api_server.fill``): the
requests then reach the code past the lookups.

``MLTRACK_FUZZ_EXAMPLES`` sets the examples per operation (few in ``make test``, many in
``make fuzz``); ``MLTRACK_FUZZ_SEED`` a seed (``random``: a new one each run, as ``make fuzz``
does; by default a fixed one, so a failure in CI is reproducible).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from jupyter_mltrack.server.compare import KIND_PARAMS

from .api_server import KERNEL, NOTEBOOK, REPO, ApiServer, api_server

EXAMPLES = int(os.environ.get("MLTRACK_FUZZ_EXAMPLES", "25"))
SEED_ENV = os.environ.get("MLTRACK_FUZZ_SEED", "12")
SEED = random.getrandbits(64) if SEED_ENV == "random" else int(SEED_ENV)
PACKAGED = json.loads((REPO / "jupyter_mltrack" / "server" / "openapi.json").read_text())
PACKAGED_OPERATIONS = {
    (method.upper(), path)
    for path, item in PACKAGED["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
}
#: Schemathesis's checks but two. ``positive_data_acceptance``: a chart kind takes only some
#: of the chart parameters, which OpenAPI cannot say of query parameters, so a request the
#: document allows may still be a 400 (documented, with a message naming what it takes).
#: ``missing_required_header`` wants a 401 without the token, where jupyter_server answers
#: 403 (documented); ``ignored_auth`` checks the token is required.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,  # a request the document forbids is refused with a 4xx
    ignored_auth,  # a 2xx is refused without the token, and with a wrong one
    unsupported_method,  # a method a route does not have: 405
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def real_values(server: ApiServer) -> dict[str, st.SearchStrategy[Any]]:
    """For each parameter name of the document, values that name something in the store."""
    ids = list(server.run_ids.values())
    run_refs = st.sampled_from(ids + [i[:6] for i in ids] + ["1", "2", "3"])
    names = st.sampled_from([*server.metric_keys, "params.C", "C", "penalty", "step"])
    refs = st.sampled_from(server.snapshot_refs)
    return {
        "run_id": st.sampled_from(ids),
        "key": st.sampled_from(server.metric_keys),
        "ref": refs,
        "a": st.one_of(refs, run_refs),  # a snapshot in a diff, a run in an explanation
        "b": st.one_of(refs, run_refs),
        "run": st.sampled_from(ids),
        "sweep": st.sampled_from([server.run_ids["sweep"], server.run_ids["a1"]]),  # or not one
        "runs": st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True).map(",".join),
        "baseline": run_refs,
        "experiment": st.sampled_from(server.experiments),
        "notebook": st.sampled_from(["nb/a.ipynb", "nb/b.ipynb", "nb/c d.ipynb"]),
        "metric": names,
        "metrics": st.lists(names, min_size=1, max_size=3, unique=True).map(",".join),
        "params": st.sampled_from(["C", "C,penalty", "lr"]),
        "x": st.sampled_from(["step", "relative", "wall", "accuracy", "C", "params.C"]),
        "y": names,
        "color": names,
        "reducer": st.sampled_from(["last", "min", "max", "best", "step=1", "mean=2"]),
        "group_by": st.sampled_from(["params.C", "params.penalty", "status", "tags.kind"]),
        "filter": st.sampled_from(
            ["params.C > 0", "a1", "metrics.accuracy.max >= 0.5 or status = failed", "not tags"]
        ),
        "order": st.sampled_from(["-start_time", "metrics.accuracy.max", "-params.C", "name"]),
        # a model's name, or an artifact's (whole_paths pairs an artifact with its run)
        "name": st.sampled_from([*server.models, *(name for _, name in server.artifacts)]),
        "alias": st.sampled_from(["production", "staging", "x1", "x2"]),
        "version": st.sampled_from(["1", "2", "3"]),
        "path": st.sampled_from(server.artifact_paths),
        "dataset": st.sampled_from(server.datasets),
        "selector": st.sampled_from(server.dataset_versions),
        "from": st.sampled_from(server.dataset_versions),
        "to": st.sampled_from(server.dataset_versions),
        "tag": st.sampled_from(["gold", "v1", "silver"]),
    }


def whole_queries(
    server: ApiServer, values: dict[str, st.SearchStrategy[Any]]
) -> dict[str, st.SearchStrategy]:
    """Queries that make sense as a whole (the chart kinds take different parameters), for
    the operations whose random queries nearly always combine parameters that cannot go
    together."""

    #: What each chart kind needs besides ``kind`` (the rest is drawn among its parameters).
    needs = {
        "scatter": {"x": st.just("params.C"), "y": st.just("metrics.accuracy")},
        "importance": {"metric": st.just("accuracy")},
    }

    def chart(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        if kind.startswith("sweep_"):  # a sweep's run, not runs
            sweep = st.just(server.run_ids["sweep"])
            return st.fixed_dictionaries({"kind": st.just(kind), "sweep": sweep})
        required = {"kind": st.just(kind), "runs": values["runs"], **needs.get(kind, {})}
        optional = {p: values[p] for p in KIND_PARAMS[kind] if p in values and p not in required}
        return st.fixed_dictionaries(required, optional=optional)

    grid = st.sampled_from([server.run_ids[k] for k in ("a1", "a2", "a3")])
    return {
        # the sweep kinds first: the simplest query, a sweep's history, always draws
        "/mltrack/api/compare/charts": st.sampled_from(
            sorted(KIND_PARAMS, key=lambda k: (not k.startswith("sweep_"), k))
        ).flatmap(chart),
        "/mltrack/api/compare": st.fixed_dictionaries(
            {"runs": values["runs"]},
            optional={"reducer": values["reducer"].map(lambda r: [r])},
        ),
        "/mltrack/api/compare/explain": st.fixed_dictionaries(
            {"a": grid, "b": grid, "metric": st.sampled_from(["accuracy", "loss"])}
        ),
        # a version or an alias, not both (or neither: the latest)
        "/mltrack/api/models/{name}/lineage": st.one_of(
            st.just({}),
            st.fixed_dictionaries({"version": st.sampled_from(["1", "2"])}),
            st.fixed_dictionaries({"alias": st.sampled_from(["production", "staging"])}),
        ),
        # two versions of team/churn (whole_paths names it)
        "/mltrack/api/datasets/{dataset}/diff": st.fixed_dictionaries(
            {"from": values["from"], "to": values["to"]}
        ),
        # no path: the artifact's first file, whichever artifact it is
        **{
            f"/mltrack/api/runs/{{run_id}}/artifacts/{{name}}/{what}": st.just({})
            for what in ("preview", "raw")
        },
    }


#: The route of one registered version (PATCH describes and tags it, DELETE deletes it).
VERSION_PATH = "/mltrack/api/models/{name}/versions/{version}"
#: The route of one registered model (PATCH describes and tags it, DELETE deletes it).
MODEL_PATH = "/mltrack/api/models/{name}"
#: PATCHes whose generated (path, body) pairs seldom all name real things: realistic first.
STEERED_PATCHES = (VERSION_PATH, MODEL_PATH)


def whole_paths(server: ApiServer, values: dict[str, st.SearchStrategy[Any]]):
    """Path parameters that name resources together (a run and one of its metrics)."""
    ids = server.run_ids
    series = [(ids["a1"], "loss"), (ids["b1"], "accuracy"), (ids["slashed"], "train/loss")]
    series.append((ids["slashed"], "odd"))
    return {
        "/mltrack/api/runs/{run_id}/metrics/{key}": st.sampled_from(series).map(
            lambda pair: {"run_id": pair[0], "key": pair[1]}
        ),
        "/mltrack/api/snapshots/{a}/diff/{b}": st.fixed_dictionaries(
            {"a": values["ref"], "b": values["ref"]}
        ),
        # the model whose versions and aliases no fuzzed DELETE removes (a name drawn among
        # all the models' and artifacts' names reached one with a lineage too rarely: in
        # one run of two, none of its 32 requests did)
        "/mltrack/api/models/{name}/lineage": st.just({"name": "churn"}),
        # a version to describe and tag (PATCH: a DELETE takes its path from `disposable`)
        VERSION_PATH: st.fixed_dictionaries(
            {"name": st.just("churn"), "version": st.sampled_from(["1", "2"])}
        ),
        # a model to describe and tag (PATCH; a DELETE takes its name from `disposable`)
        MODEL_PATH: st.just({"name": "churn"}),
        # a model and an alias it may take: a new alias is a plain name (letters, digits,
        # -_.), which a generated string almost never is
        "/mltrack/api/models/{name}/aliases/{alias}": st.fixed_dictionaries(
            {"name": st.sampled_from(server.models), "alias": values["alias"]}
        ),
        # the dataset whose versions dataset_versions names, and a tag name it may take
        "/mltrack/api/datasets/{dataset}/diff": st.just({"dataset": "team/churn"}),
        **{
            f"/mltrack/api/datasets/{{dataset}}/versions/{{selector}}{rest}": (
                st.fixed_dictionaries(
                    {"dataset": st.just("team/churn"), "selector": values["selector"]}
                )
            )
            for rest in ("", "/rows")
        },
        "/mltrack/api/datasets/{dataset}/tags/{tag}": st.fixed_dictionaries(
            {"dataset": st.just("team/churn"), "tag": values["tag"]}
        ),
        **{
            f"/mltrack/api/runs/{{run_id}}/artifacts/{{name}}/{what}": st.sampled_from(
                server.artifacts
            ).map(lambda pair: {"run_id": pair[0], "name": pair[1]})
            for what in ("preview", "raw")
        },
    }


def whole_bodies(server: ApiServer) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """Bodies naming what the store has: the logged notebook, its kernel, runs."""
    export = st.fixed_dictionaries(
        {"notebook": st.just(NOTEBOOK)},
        optional={
            "kernel": st.just(KERNEL),
            "run": st.sampled_from([server.run_ids["exported"], server.run_ids["a1"]]),
            "overwrite": st.booleans(),
        },
    )
    register = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["churn", "scratch", "fuzzed"]),
            "run": st.sampled_from([run_id for run_id, _ in server.artifacts]),
            "artifact": st.just("model"),
        }
    )
    alias = st.fixed_dictionaries({"version": st.sampled_from([1, 2])})
    tag = st.fixed_dictionaries({"version": st.sampled_from(server.dataset_versions)})

    # a description, or tags to set: generated tag keys are rarely names a version or a
    # model can take
    def describe_or_tag(texts: list[str], keys: list[str], values: list[str]):
        return st.one_of(
            st.fixed_dictionaries({"description": st.sampled_from(texts)}),
            st.fixed_dictionaries(
                {
                    "tags": st.dictionaries(
                        st.sampled_from(keys), st.sampled_from(values), min_size=1, max_size=2
                    )
                }
            ),
        )

    describe = describe_or_tag(["retrained on May", ""], ["validation", "owner"], ["passed", "ana"])
    return {
        "/mltrack/api/datasets/{dataset}/tags/{tag}": tag,
        "/mltrack/api/export": export,
        "/mltrack/api/models": register,
        "/mltrack/api/models/{name}/aliases/{alias}": alias,
        VERSION_PATH: describe,  # PATCH's (DELETE has no body)
        MODEL_PATH: describe_or_tag(["who leaves next month", ""], ["team", "task"], ["growth"]),
    }


def with_real(
    values: dict[str, st.SearchStrategy[Any]],
    generated: dict[str, Any] | None,
    whole: st.SearchStrategy[dict[str, Any]] | None = None,
    *,
    whole_first: bool = False,
) -> st.SearchStrategy[Any]:
    """``generated`` with each parameter ``values`` knows either kept or replaced by a real
    value, or else (when given) a whole realistic set of parameters. A strategy: Hypothesis
    shrinks and replays the choices. Its first examples take the first choice of each
    ``one_of`` (the simplest): ``whole_first`` puts the realistic set first, for operations
    whose few positive examples must reach past validation (the chart kinds)."""
    if not generated:
        return st.just(generated)
    parts = {
        name: st.one_of(st.just(value), values[name]) if name in values else st.just(value)
        for name, value in generated.items()
    }
    mixed = st.fixed_dictionaries(parts)
    if whole is None:
        return mixed
    return st.one_of(whole, mixed) if whole_first else st.one_of(mixed, whole)


@pytest.fixture(scope="module")
def api_schema(server: ApiServer) -> schemathesis.BaseSchema:
    """The document the server serves, with its base URL and token, and the hooks that
    steer generated parameters towards the store's resources."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": server.url.rstrip("/"),
            "headers": server.auth,
            "request-timeout": 60,
            "generation": {
                "max-examples": EXAMPLES,
                "mode": "all",  # invalid requests too: they must be refused with a 4xx
                "deterministic": SEED_ENV != "random",
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )
    # Loaded from the served document's content: schemathesis leaves out the operation a
    # schema was fetched from by URL, and ``GET openapi.json`` is an operation too.
    served = requests.get(server.url + "mltrack/api/openapi.json", headers=server.auth, timeout=60)
    served.raise_for_status()
    assert served.json() == PACKAGED
    schema = schemathesis.openapi.from_dict(served.json(), config=config)
    values = real_values(server)
    queries = whole_queries(server, values)
    # Path parameters are sent as they are (schemathesis encodes its own when it generates
    # them): a real value is percent-encoded here, as the document says (``train%2Floss``).
    path_values = {k: v.map(lambda x: quote(x, safe="")) for k, v in values.items()}
    paths = {
        path: whole.map(lambda p: {k: quote(v, safe="") for k, v in p.items()})
        for path, whole in whole_paths(server, values).items()
    }
    bodies = whole_bodies(server)
    # what a fuzzed DELETE may remove: its own runs, scratch's versions and aliases, the
    # models kept to be deleted whole, and scratch/data's tags
    disposable = {
        "run_id": st.sampled_from(server.disposable),
        "name": st.just("scratch"),
        "alias": st.sampled_from(["x1", "x2", "x3"]),
        "version": st.sampled_from(["4", "5", "6", "1"]),
        "dataset": st.just(quote("scratch/data", safe="")),  # sent as it is
        "tag": st.sampled_from(["t1", "t2", "t3"]),
    }
    disposable_by_path = {
        "/mltrack/api/models/{name}": {
            **disposable,
            "name": st.sampled_from(server.disposable_models),
        }
    }

    @schema.hook
    def flatmap_case(context: Any, case: schemathesis.Case) -> Any:
        """A valid case's parameters and body, sometimes naming real things instead. An
        invalid case is left as it is: its metadata says what is invalid in it, which the
        ``negative_data_rejection`` check reads."""
        if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
            return st.just(case)
        operation = context.operation
        if operation.method.lower() == "delete":
            # A fuzzed DELETE removes only runs kept for it: the others stay for the
            # operations fuzzed after it.
            real = disposable_by_path.get(operation.path, disposable)
            path = with_real(real, case.path_parameters)
        else:
            # a PATCH of a version or a model: few generated (name, version, body) reach
            # past the lookups and validation at once, so the realistic ones come first
            first = operation.method.lower() == "patch" and operation.path in STEERED_PATCHES
            path = with_real(
                path_values, case.path_parameters, paths.get(operation.path), whole_first=first
            )
        query = with_real(
            values,
            case.query,
            queries.get(operation.path),
            whole_first=operation.path == "/mltrack/api/compare/charts",
        )
        whole = bodies.get(operation.path) if operation.method.lower() != "delete" else None
        if whole is None:
            body = st.just(case.body)
        elif operation.method.lower() == "patch" and operation.path in STEERED_PATCHES:
            body = st.one_of(whole, st.just(case.body))
        else:
            body = st.one_of(st.just(case.body), whole)

        def steered(parts: tuple[Any, Any, Any]) -> schemathesis.Case:
            case.path_parameters, case.query, case.body = parts
            return case

        return st.tuples(path, query, body).map(steered)

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


#: Statuses answered per operation, for the test after the fuzzing.
ANSWERED: dict[str, Counter[int]] = defaultdict(Counter)


@schema.parametrize()
def test_api_conforms_to_its_document(case: schemathesis.Case, server: ApiServer) -> None:
    response = case.call_and_validate(checks=CHECKS)
    if case.method.upper() == case.operation.method.upper():  # not a probe of another method
        ANSWERED[case.operation.label][response.status_code] += 1


def test_every_documented_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    fuzzed = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert fuzzed == PACKAGED_OPERATIONS


def test_fuzzing_reached_past_the_lookups() -> None:
    """Each operation answered a 2xx at least once: the requests named real resources and
    got past validation (a fuzzer refused at the door everywhere would prove little)."""
    print({op: dict(statuses) for op, statuses in ANSWERED.items()})
    assert len(ANSWERED) == len(PACKAGED_OPERATIONS), ANSWERED
    missed = [op for op, statuses in ANSWERED.items() if not any(200 <= s < 300 for s in statuses)]
    assert not missed, {op: dict(ANSWERED[op]) for op in missed}


# what the fuzzing found: each as the plain request that showed it -------------------------


def test_a_method_a_route_lacks_is_a_405_naming_the_methods_it_has(server: ApiServer) -> None:
    """RFC 9110: a 405 carries ``Allow`` (it had none; schemathesis's ``unsupported_method``)."""
    for path, item in PACKAGED["paths"].items():
        documented = [m.upper() for m in ("get", "post", "put", "patch", "delete") if m in item]
        url = server.url.rstrip("/") + path.replace("{run_id}", "0" * 32)
        for method in ("TRACE", *(m for m in ("POST", "PUT") if m not in documented)):
            sent = requests.request(method, url, headers=server.auth, timeout=60)
            assert sent.status_code == 405, (method, path, sent.status_code)
            assert sent.headers.get("Allow") == ", ".join([*documented, "OPTIONS"]), path
            assert sent.json()["error"]["status"] == 405


def test_empty_order_and_status_are_documented_as_no_filter(server: ApiServer) -> None:
    """The server has always taken ``?order=&status=`` as "the default" and "any"; the
    document refused both (``negative_data_rejection``)."""
    sent = requests.get(
        server.url + "mltrack/api/runs", params={"order": "", "status": ""}, headers=server.auth
    )
    assert sent.status_code == 200, sent.text
    parameters = {p["name"]: p for p in PACKAGED["paths"]["/mltrack/api/runs"]["get"]["parameters"]}
    for name in ("order", "status"):
        schema = {**parameters[name]["schema"], "components": PACKAGED["components"]}
        jsonschema.validate("", schema)
    # an order is a field of the query language, checked by the server (a 400 with the
    # column, below), not by a pattern the document would have to keep in step with it
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            "done", {**parameters["status"]["schema"], "components": PACKAGED["components"]}
        )


@pytest.mark.parametrize("order", ["colour", "--name", "+-name", "metrics.", "E|"])
def test_a_bad_order_is_a_400_whatever_the_filters_match(server: ApiServer, order: str) -> None:
    """``?experiment=<none such>&order=<bad>`` answered 200 with no runs: the order was
    checked only once some run matched (``negative_data_rejection``)."""
    for experiment in ("exp-a", "no such experiment"):
        sent = requests.get(
            server.url + "mltrack/api/runs",
            params={"experiment": experiment, "order": order},
            headers=server.auth,
            timeout=60,
        )
        assert sent.status_code == 400, (experiment, order, sent.text)
        assert sent.json()["error"]["reason"] == "query"
