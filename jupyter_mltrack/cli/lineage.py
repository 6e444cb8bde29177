"""``mltrack models lineage``'s tree: how a model was built, drawn for the terminal (the
version, its artifact, the run and what went into it, the runs that used it since), and the
short references the command reads. The data is :func:`..models.lineage.lineage`'s; the
command (:mod:`.models`) also writes the lineage graph with ``--html`` (:mod:`.report`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models.refs import PREFIX, ModelRef, parse
from ..store import Store
from ..store.errors import ModelNotFound
from .common import (
    _bytes,
    _cut,
    _duration,
    _number,
    _plural,
    _value,
    _when,
    used_text,
    user_text,
)

#: Lines of a run's code ``models lineage`` shows without ``--code``.
CODE_LINES = 8
#: Params ``models lineage`` lists one per line before saying how many more there are.
MAX_PARAMS = 30

LINEAGE_HELP = """\
How a model version was built: the version -> the model artifact (format, library) -> the
run that logged it (experiment, number, status, notebook and cell) -> its code -> the
pipeline runs that reproduced it -> the input data snapshots it read (name, digest, shape)
-> the artifacts and models it loaded from other runs -> its params and metrics -> its
environment (Python, the model's library versions, git); and the runs that loaded the model
since (its evaluations: status and metrics).

REF is one of:
  NAME@ALIAS       e.g. churn@production
  NAME/VERSION     e.g. churn/3 (NAME a registered model)
  NAME             its latest version
  models:/...      as mltrack.load_model reads it
  RUN/ARTIFACT     a run's model, registered or not, e.g. 3/model (with -e) or 1a2b3c4d/model;
                   the first line names the versions it is registered as

--json prints the lineage as the REST API's GET models/{name}/lineage answers it: "model"
is the version REF names (for RUN/ARTIFACT the artifact's first registered version, or
null), "models" every registered version of the artifact."""


def lineage_ref(store: Store, text: str) -> ModelRef:
    """The CLI's short forms as :mod:`..models.refs` reads them: ``NAME@ALIAS`` and
    ``NAME`` are registered models; ``X/N`` is version N of model X when X is registered,
    else (as any other ``RUN/ARTIFACT``) run X's artifact N."""
    text = text.strip()
    if text.startswith(PREFIX):
        return parse(text)
    if "/" not in text:
        return parse(PREFIX + text)
    name, _, version = text.partition("/")
    if version.isdigit():
        with contextlib.suppress(ModelNotFound):
            store.get_registered_model(name)
            return parse(f"{PREFIX}{text}")
    return parse(text)


@dataclass
class Node:
    """A line of a tree; ``body`` lines are shown verbatim under it (code), before its
    children."""

    label: str
    children: list[Node] = field(default_factory=list)
    body: list[str] = field(default_factory=list)


def render(root: Node) -> list[str]:
    """The tree drawn with box characters, as ``tree`` draws folders."""

    def below(node: Node, prefix: str) -> list[str]:
        lines = [(prefix + ("│ " if node.children else "  ") + b).rstrip() for b in node.body]
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            lines.append(prefix + ("└── " if last else "├── ") + child.label)
            lines += below(child, prefix + ("    " if last else "│   "))
        return lines

    return [root.label, *below(root, "")]


def shape_text(shape: Sequence[int | None] | None) -> str:
    if not shape:
        return "-"
    return " x ".join("?" if d is None else f"{d:,}" for d in shape)


def lineage_tree(data: Mapping[str, Any], *, full_code: bool = False) -> Node:
    """:func:`..models.lineage.lineage`'s dict as a tree: version -> artifact -> run, the
    run's code, pipeline runs, inputs, params, metrics and environment below it. The top
    line names the version a ``models:/`` reference asked for (and any other version of the
    same artifact), or every version a ``RUN/ARTIFACT`` reference's artifact is."""
    art = data["artifact"]
    library = " ".join(x for x in (art["flavor"], art["library_version"]) if x)
    fmt = art["format"] or "unknown format"
    label = f"artifact {art['name']!r}: {fmt}" + (f" ({library})" if library else "")
    label += f", {_plural(len(art['files']), 'file')}, {_bytes(art['size'])}"
    if art["unsafe"]:
        label += "; UNSAFE to load: can run code (load_model(..., trusted=True))"
    elif art["untrusted_types"]:
        label += f"; types to trust to load: {', '.join(art['untrusted_types'])}"
    artifact = Node(label)
    artifact.children.append(_run_node(data, full_code))
    used_by = _used_by_node(data.get("used_by"))
    if used_by is not None:
        artifact.children.append(used_by)
    model = data["model"]
    versions = data.get("models") or ([model] if model else [])
    if not data["ref"].startswith(PREFIX):  # RUN/NAME: which versions hold the artifact
        if not versions:
            return Node(f"{data['ref']} (not registered)", [artifact])
        named = ", ".join(version_text(v) for v in versions)
        return Node(f"{data['ref']}: registered as {named}", [artifact])
    label = f"{version_text(model)}  ({model['ref']}, registered {_when(model['created_at'])})"
    others = [v for v in versions if v["ref"] != model["ref"]]
    if others:
        label += "; also " + ", ".join(version_text(v) for v in others)
    return Node(label, [artifact])


def version_text(version: Mapping[str, Any]) -> str:
    """``churn v1 @production``."""
    aliases = "".join(f" @{a}" for a in version["aliases"])
    return f"{version['name']} v{version['version']}{aliases}"


def _run_node(data: Mapping[str, Any], full_code: bool) -> Node:
    run = data["run"]
    named = f" {run['name']!r}" if run["name"] else ""
    ran = ""
    if run.get("duration") is not None:
        ran = f", ran {_duration(run['duration'])}"
    node = Node(
        f"run #{run['number']} of {run['experiment']}{named} ({run['id'][:8]}): "
        f"{run['status']}, started {_when(run['start_time'])}{ran}"
    )
    where = run["notebook_path"] or "no notebook"
    if run["cell_id"]:
        where += f", cell {run['cell_id']}"
    if run["execution_count"] is not None:
        where += f" [{run['execution_count']}]"
    node.children.append(Node(f"{run['source']}: {where}"))
    node.children.append(_code_node(data["code"] or "", full_code))
    pipeline = _pipeline_node(data["pipeline"])
    if pipeline is not None:
        node.children.append(pipeline)
    node.children.append(_inputs_node(data["inputs"]))
    if data.get("used"):
        node.children.append(_used_node(data["used"]))
    node.children.append(_values_node("params", data["params"], _value))
    node.children.append(_values_node("metrics", data["metrics"], _number))
    node.children.append(_environment_node(data["environment"]))
    return node


def _code_node(code: str, full: bool) -> Node:
    lines = code.rstrip().splitlines()
    if not lines:
        return Node("code: not recorded")
    shown = lines if full else lines[:CODE_LINES]
    node = Node(f"code: {_plural(len(lines), 'line')}", body=list(shown))
    if len(shown) < len(lines):
        node.body.append(f"… {_plural(len(lines) - len(shown), 'more line')} (--code shows all)")
    return node


def _pipeline_node(pipeline: Mapping[str, Any]) -> Node | None:
    kids = [
        Node(
            f"#{r['number']} ({r['id'][:8]}): {r['status']}"
            + (
                "  " + _cut(" ".join(f"{k}={_number(v)}" for k, v in r["metrics"].items()), 60)
                if r["metrics"]
                else ""
            )
        )
        for r in pipeline["reproduced_by"]
    ]
    if pipeline["reproduces"]:
        return Node(f"pipeline: a pipeline run reproducing run {pipeline['reproduces'][:8]}", kids)
    if kids:
        return Node(f"pipeline: reproduced by {_plural(len(kids), 'pipeline run')}", kids)
    return None


def _inputs_node(inputs: Sequence[Mapping[str, Any]]) -> Node:
    if not inputs:
        return Node("inputs: no data snapshots recorded")
    kids = []
    for d in inputs:
        line = f"{d['name']}  {d['short']}  {d['kind']} {shape_text(d['shape'])}"
        if d["path"]:
            line += f"  ({d['path']})"
        kids.append(Node(line))
    return Node(f"inputs: {_plural(len(inputs), 'snapshot')}", kids)


def _used_node(used: Sequence[Mapping[str, Any]]) -> Node:
    """What the run loaded from other runs (``load_model``, ``load_table``…)."""
    kids = [Node(f"{u['ref']}  {u['how']}: {used_text(u)}") for u in used]
    return Node(f"used: {_plural(len(used), 'artifact')} of other runs", kids)


def _used_by_node(used_by: Mapping[str, Any] | None) -> Node | None:
    """The runs that loaded this model since (its evaluations), newest first."""
    if not used_by or not used_by["count"]:
        return None
    kids = [Node(user_text(u)) for u in used_by["runs"]]
    more = used_by["count"] - len(used_by["runs"])
    if more > 0:
        kids.append(Node(f"… {_plural(more, 'more run')} (--json lists the newest {len(kids)})"))
    return Node(f"used by {_plural(used_by['count'], 'run')}", kids)


def _values_node(title: str, values: Mapping[str, Any], show: Callable[[Any], str]) -> Node:
    if not values:
        return Node(f"{title}: none")
    items = list(values.items())
    kids = [Node(f"{k} = {_cut(show(v), 80)}") for k, v in items[:MAX_PARAMS]]
    if len(items) > MAX_PARAMS:
        kids.append(Node(f"… {len(items) - MAX_PARAMS} more (--json lists all)"))
    return Node(title, kids)


def _environment_node(env: Mapping[str, Any]) -> Node:
    python = f"python {env['python'] or '?'}"
    if env["platform"]:
        python += f" on {env['platform']}"
    if env["all_packages"]:
        python += f" ({_plural(env['all_packages'], 'package')} recorded)"
    kids = [Node(python)]
    packages = env["packages"] or {}
    if packages:
        kids.append(Node("libraries: " + ", ".join(f"{k} {v}" for k, v in packages.items())))
    git = env["git"] or {}
    if git.get("commit"):
        dirty = " (uncommitted changes)" if git.get("dirty") else ""
        kids.append(Node(f"git {git['commit']}{dirty}"))
    else:
        kids.append(Node("git: not recorded"))
    return Node("environment", kids)
