"""A model's lineage as a graph, W&B's artifact lineage DAG: what went into the model
(its run, the data that run read, the artifacts it loaded from other runs and, going up,
theirs) and what came out of it (the runs that loaded it since: its evaluations).

Plain data (nodes and edges in columns, the model at column 0, upstream to the left,
users to the right), so one builder serves every place that draws it:
``compare.charts.lineage_figure`` makes the plotly figure the REST API sends to JupyterLab,
``mltrack.lineage_figure`` returns in a notebook and ``mltrack models lineage --html``
writes. It only reads the store: a handful of queries per run it walks, and it walks at
most :data:`MAX_RUNS` runs up (a chain of fine-tuned models ``depth`` deep) and lists at
most ``users`` runs down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .refs import ModelRef, parse, resolve
from .uses import label as use_label

if TYPE_CHECKING:
    from ..store.entities import Artifact, Run
    from ..store.store import Store

#: Runs walked upstream at most, whatever the depth: a graph one can still read.
MAX_RUNS = 40


@dataclass(frozen=True)
class Node:
    """A run, a model or other artifact, or a data snapshot a run read."""

    id: str
    #: ``model`` (the one asked about), ``run``, ``artifact``, ``data`` or ``more``.
    kind: str
    label: str
    #: Hover text: status and metrics of a run, format of a model, shape of data.
    detail: str
    #: 0 for the model; negative upstream, positive for the runs that used it.
    column: int
    #: The run to open when the node is clicked (a run, or the run that logged it).
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "detail": self.detail,
            "column": self.column,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class Edge:
    """``source`` flows into ``target``: ``read`` (data into a run), ``used`` (an artifact
    into the run that loaded it), ``logged`` (a run into what it logged)."""

    source: str
    target: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "label": self.label}


@dataclass
class LineageGraph:
    ref: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    #: Upstream runs left out past ``depth`` or :data:`MAX_RUNS`.
    truncated: bool = False

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: str, target: str, label: str) -> None:
        edge = Edge(source, target, label)
        if edge not in self.edges:
            self.edges.append(edge)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [e.to_dict() for e in self.edges],
            "truncated": self.truncated,
        }


def lineage_graph(
    store: Store,
    ref: str | ModelRef,
    experiment: str | None = None,
    *,
    depth: int = 3,
    users: int = 20,
) -> LineageGraph:
    """The graph around the model ``ref`` names (as :func:`.lineage.lineage` takes it):
    ``depth`` runs up (the model's run is the first), ``users`` runs down."""
    parsed = ref if isinstance(ref, ModelRef) else parse(ref)
    artifact, _version = resolve(store, parsed, experiment)
    graph = LineageGraph(parsed.text)
    versions = [
        v
        for v in store.versions_of_runs([artifact.run_id]).get(artifact.run_id, [])
        if v.artifact == artifact.name
    ]
    registered = ", ".join(
        f"{v.model} v{v.version}" + "".join(f" @{a}" for a in v.aliases) for v in versions
    )
    model = graph.add(
        Node(
            f"artifact:{artifact.run_id}/{artifact.name}",
            "model",
            registered or artifact.name,
            _model_detail(artifact, registered),
            0,
            artifact.run_id,
        )
    )
    _upstream(store, graph, artifact.run_id, model, column=-1, depth=depth)
    _downstream(store, graph, artifact, model, users)
    return graph


def _upstream(
    store: Store, graph: LineageGraph, run_id: str, made: str, *, column: int, depth: int
) -> None:
    """The run at ``column`` that logged ``made``, then what it read and used, and the
    runs that logged what it used, ``depth`` runs up in all."""
    runs = store.load_runs([run_id])
    node = _run_node(runs[0], column) if runs else _gone(run_id, column)
    walked = f"run:{run_id}" in graph.nodes
    graph.link(graph.add(node), made, "logged")
    if walked or not runs:
        return
    if depth <= 1 or sum(n.kind == "run" for n in graph.nodes.values()) >= MAX_RUNS:
        inputs = store.runs_data([run_id]).get(run_id, [])
        if inputs or store.artifacts_used(run_id):
            graph.truncated = True
        return
    for data in store.runs_data([run_id]).get(run_id, []):
        if data.role != "input":
            continue
        snap = data.snapshot
        shape = " x ".join(str(d) for d in snap.shape or ())
        detail = f"{data.name}: {snap.kind} {shape} ({snap.short})"
        if data.dataset:
            detail += f", dataset {data.dataset}"
        label = data.name
        if data.dataset:  # team/churn@<hash>: the name and the hash's first 8 digits
            name, _, version = data.dataset.partition("@")
            label = f"{name}@{version[:8]}" if version else name
        source = graph.add(Node(f"data:{snap.digest}", "data", label, detail, column - 1))
        graph.link(source, node.id, "read")
    for use in store.artifacts_used(run_id):
        detail = f"{use.kind} {use.name!r}, loaded by {use.how}({use.ref!r})"
        used = graph.add(
            Node(
                f"artifact:{use.source_run_id}/{use.name}",
                "artifact",
                use_label(use) if use.version is not None else use.name,
                detail,
                column - 1,
                use.source_run_id,
            )
        )
        graph.link(used, node.id, "used")
        _upstream(store, graph, use.source_run_id, used, column=column - 2, depth=depth - 1)


def _downstream(
    store: Store, graph: LineageGraph, artifact: Artifact, model: str, users: int
) -> None:
    """The runs that loaded the model, newest first, and a node for the rest."""
    uses = store.artifact_users(artifact.run_id, artifact.name, limit=users)
    runs = {r.id: r for r in store.load_runs([u.run_id for u in uses])}
    for use in uses:
        run = runs.get(use.run_id)
        if run is None:
            continue
        node = graph.add(_run_node(run, 1, f"loaded by {use.how}({use.ref!r})"))
        graph.link(model, node, "used")
    if len(uses) == users:
        more = store.artifact_user_count(artifact.run_id, artifact.name) - len(uses)
        if more > 0:
            runs_word = "run" if more == 1 else "runs"
            node = graph.add(Node("more", "more", f"… {more:,} more {runs_word}", "", 1))
            graph.link(model, node, "used")


def _run_node(run: Run, column: int, how: str = "") -> Node:
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in list(run.metrics.items())[:6])
    name = f" {run.name!r}" if run.name else ""
    detail = f"run #{run.number} of {run.experiment}{name}: {run.status.value}"
    if metrics:
        detail += f"; {metrics}"
    if how:
        detail += f"; {how}"
    return Node(f"run:{run.id}", "run", f"#{run.number} {run.experiment}", detail, column, run.id)


def _gone(run_id: str, column: int) -> Node:
    return Node(f"run:{run_id}", "run", run_id[:8], "not in this store", column, None)


def _model_detail(artifact: Artifact, registered: str) -> str:
    meta = artifact.meta
    library = " ".join(str(x) for x in (meta.get("flavor"), meta.get("library_version")) if x)
    what = f"{artifact.kind} {artifact.name!r}: {meta.get('format') or 'unknown format'}"
    if library:
        what += f" ({library})"
    return what + (f"; registered as {registered}" if registered else "")
