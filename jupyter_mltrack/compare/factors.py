"""What a run is made of, as factors ``explain`` can weigh: one hashable value per run for
each parameter, code hunk, input dataset, artifact used, package, RNG seed and environment
field.

Factor ids are ``kind:key``: ``param:optimizer.lr``, ``code:cell@@-3``, ``data:train``,
``used:churn``, ``package:numpy``, ``seed:numpy``, ``environment:python``.

Parameters
    Nested dicts compare key by key (``optimizer.lr``), but a list is one factor valued by
    the whole list (``FEATURES``, not ``FEATURES.0`` … ``FEATURES.9``: ten near-identical
    confounded factors would say one thing ten times).

Code
    A run's code identity is its cell and, when the execution log knows it, its
    dependencies (the earlier statements that produced what the cell read). Between A and B
    each part is cut into changes (``compare.textdiff`` hunks without context lines, so two
    edits three lines apart are two factors the experiment can tell apart); each is a
    factor named by its part and the line it starts at in A (``cell@@-3``, detail: its
    ``@@ -3 +3 @@`` header). Another run *has* a change's B side when its code contains B's
    lines of it between the unchanged lines around it (as whole lines; the start and end
    of the text count as lines) and not A's, and its A side when the reverse; otherwise
    (both, or neither: the run changed those lines some other way) its value is the run's
    own code, so it pairs only with runs of the very same code. The rest of the code must
    match too: a run whose text is not exactly A's with the changes it has made (applied
    from B) carries its text in its background, so it is never a matched pair of a run
    that differs from it elsewhere. Texts are classified once per distinct text.

    A change whose lines on both sides are only assignments of literals to names that are
    parameter factors, with those parameters' A and B values (``lr = 0.1`` → ``lr = 0.01``
    with ``lr`` 0.1 → 0.01), is the parameter's edit, not a factor of its own: the
    parameter's detail names the hunk.
Data
    Input datasets by name, valued by snapshot digest; the detail names the columns that
    changed between A's and B's snapshots (from the snapshot records: no data is read).
Artifacts used
    What a run loaded from other runs (``load_model("models:/churn@production")``), by the
    registered model's name, else the artifact's name (``compare.used``), valued by the
    bytes loaded (the use's content digest): an evaluation of churn v2 and one of v3 differ
    in ``used:churn``, shown as ``churn v2 → churn v3``.
Packages
    Versions, compared only when both A and B recorded an environment; a run without one
    has no package values. A package only one of A and B imported is not a factor: its
    presence follows from the code (or from the tracker importing its own dependencies).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models.uses import keyed
from ..models.uses import label as use_label
from .evidence import MISSING
from .facts import RunFacts
from .textdiff import hunks

#: Kinds in the order ties are listed.
KINDS = ("param", "code", "data", "used", "package", "seed", "environment")


def hashable(value: Any) -> Hashable:
    """A param value as a dict key with the user's equality: ``1 == 1.0``, ``True != 1``,
    NaN equal to NaN, containers by content."""
    if value is None:
        return ("none",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, int | float | str):
        return value
    try:
        return ("json", json.dumps(value, sort_keys=True, default=repr))
    except (TypeError, ValueError):
        return ("repr", repr(value))


#: Lines standing for the start and the end of a text, so a change at either end has an
#: anchor line like any other.
_START, _END = "\x02", "\x03"


@dataclass
class CodeHunk:
    part: str  # "cell" | "dependencies"
    hunk: dict[str, Any]
    #: A's and B's lines of the change between the unchanged line before and the one after.
    a_block: str
    b_block: str
    #: The change's place in A's and B's lines: ``(i1, i2)`` and ``(j1, j2)``.
    a_span: tuple[int, int]
    b_span: tuple[int, int]
    key: str = ""

    @property
    def removed(self) -> str:
        return "\n".join(line[1:] for line in self.hunk["lines"] if line.startswith("-"))

    @property
    def added(self) -> str:
        return "\n".join(line[1:] for line in self.hunk["lines"] if line.startswith("+"))


def _norm(text: str | None) -> str:
    return "\n".join((text or "").splitlines())


@dataclass
class CodePart:
    """A→B hunks of one part of the code, and how to place another run's text on them.

    A hunk here is one change (no context lines: two changes three lines apart are two
    factors, which is what lets the experiment tell them apart)."""

    part: str
    a_text: str
    b_text: str
    hunks: list[CodeHunk]
    _cache: dict[str, tuple[tuple[Hashable, ...], Hashable]] = field(default_factory=dict)

    @classmethod
    def build(cls, part: str, a: str | None, b: str | None) -> CodePart:
        a_text, b_text = _norm(a), _norm(b)
        a_lines = [_START, *a_text.split("\n"), _END] if a_text else [_START, _END]
        b_lines = [_START, *b_text.split("\n"), _END] if b_text else [_START, _END]
        found = []
        seen: set[str] = set()
        for h in hunks(a_text, b_text, context=0):
            old_first = h["old_start"] if h["old_lines"] else h["old_start"] + 1
            new_first = h["new_start"] if h["new_lines"] else h["new_start"] + 1
            i1, i2 = old_first, old_first + h["old_lines"]  # in a_lines (1-based + START)
            j1, j2 = new_first, new_first + h["new_lines"]
            a_block = "\n".join(a_lines[i1 - 1 : i2 + 1])
            b_block = "\n".join(b_lines[j1 - 1 : j2 + 1])
            key = f"{part}@@-{h['old_start']}"
            while key in seen:  # cannot happen with difflib's opcodes; kept unique anyway
                key += "'"
            seen.add(key)
            found.append(CodeHunk(part, h, a_block, b_block, (i1, i2), (j1, j2), key))
        return cls(part, a_text, b_text, found)

    def _apply(self, sides: Sequence[Hashable]) -> str:
        """A's text with the hunks valued ``"b"`` taken from B."""
        a_lines = [_START, *self.a_text.split("\n"), _END] if self.a_text else [_START, _END]
        b_lines = [_START, *self.b_text.split("\n"), _END] if self.b_text else [_START, _END]
        out: list[str] = []
        at = 0
        for h, side in zip(self.hunks, sides, strict=True):
            i1, i2 = h.a_span
            out.extend(a_lines[at:i1])
            out.extend(b_lines[h.b_span[0] : h.b_span[1]] if side == "b" else a_lines[i1:i2])
            at = i2
        out.extend(a_lines[at:])
        return "\n".join(out[1:-1])

    def classify(self, text: str | None) -> tuple[tuple[Hashable, ...], Hashable]:
        """``(value per hunk, rest)`` of another run's text: each value ``"a"``, ``"b"`` or
        the run's own text; ``rest`` is ``"="`` when the text is A's with some of the
        changes made, else the text itself."""
        t = _norm(text)
        cached = self._cache.get(t)
        if cached is not None:
            return cached
        if not self.hunks:
            out: tuple[tuple[Hashable, ...], Hashable] = ((), t)
        elif t == self.a_text:
            out = (("a",) * len(self.hunks), "=")
        elif t == self.b_text:
            out = (("b",) * len(self.hunks), "=")
        else:
            padded = f"\n{_START}\n{t}\n{_END}\n" if t else f"\n{_START}\n{_END}\n"
            values: list[Hashable] = []
            for h in self.hunks:
                has_a = f"\n{h.a_block}\n" in padded
                has_b = f"\n{h.b_block}\n" in padded
                if has_a != has_b:
                    values.append("a" if has_a else "b")
                else:
                    values.append(("code", t))
            plain = all(v in ("a", "b") for v in values)
            rest: Hashable = "=" if plain and self._apply(values) == t else ("code", t)
            out = (tuple(values), rest)
        self._cache[t] = out
        return out


@dataclass
class Candidate:
    """A factor on which A and B differ."""

    kind: str
    key: str
    a: Any  # display values (as recorded)
    b: Any
    ha: Hashable  # hashable values
    hb: Hashable
    detail: str | None = None
    #: For code: the hunk; for data: changed column names; for packages: the grade.
    extra: Any = None

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"


def env_known(f: RunFacts) -> bool:
    return f.python is not None or bool(f.packages)


def inputs(f: RunFacts) -> dict[str, Any]:
    return {d.name: d for d in f.data if d.role == "input"}


def changed_columns(da: Any, db: Any) -> list[str]:
    """Columns that changed, were added or removed between two input snapshots."""
    if da is None or db is None:
        return []
    from .data import summary

    try:
        s = summary(da.snapshot, db.snapshot)
    except Exception:  # a record too old or odd to diff: still a data change
        return []
    return [*s["changed_columns"], *s["added_columns"], *s["removed_columns"]]


def _some(names: Sequence[str], most: int = 5) -> str:
    """A readable list: the first few names and how many more (a sentence, not a dump)."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


#: Marker dicts the store writes for values JSON cannot hold are leaves, not nested params.
_MARKER = "$type"


def factor_params(f: RunFacts) -> dict[str, Any]:
    """A run's params as factors: nested dicts flattened to dotted keys, lists (and every
    other value) kept whole, so a list is one factor."""
    raw = f.run.params
    if not any(isinstance(v, Mapping) for v in raw.values()):
        return raw if isinstance(raw, dict) else dict(raw)
    out: dict[str, Any] = {}

    def walk(key: str, value: Any) -> None:
        if isinstance(value, Mapping) and value and _MARKER not in value:
            for k, v in value.items():
                walk(f"{key}.{k}", v)
        else:
            out[key] = value

    for k, v in raw.items():
        walk(str(k), v)
    return out


def _assigned(text: str) -> list[tuple[str, Hashable]] | None:
    """``[(name, value)]`` when ``text`` is nothing but assignments of literals to plain
    names (``lr = 0.1``, ``FEATURES: list = ["a", "b"]``), else ``None``."""
    if not text.strip():
        return []
    try:
        tree = ast.parse(text)
    except SyntaxError:  # part of a longer statement
        return None
    found: list[tuple[str, Hashable]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            return None
        if not isinstance(target, ast.Name):
            return None
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        found.append((target.id, hashable(literal)))
    return found


def _param_edit(h: CodeHunk, params: Mapping[str, Candidate]) -> list[str] | None:
    """The parameter factors a hunk does nothing but assign (with their A and B values),
    or ``None`` when it is a real code change."""
    old, new = _assigned(h.removed), _assigned(h.added)
    if old is None or new is None or not (old or new):
        return None
    names: list[str] = []
    for side, pairs in (("a", old), ("b", new)):
        for name, value in pairs:
            c = params.get(name)
            if c is None or value != (c.ha if side == "a" else c.hb):
                return None
            if name not in names:
                names.append(name)
    return names


def _list_change(a: Any, b: Any) -> str | None:
    """What a list param's change removed and added (its items, when they are plain)."""
    if not isinstance(a, list | tuple) or not isinstance(b, list | tuple):
        return None
    try:
        ha, hb = [hashable(v) for v in a], [hashable(v) for v in b]
    except TypeError:
        return None
    removed = [v for v, h in zip(a, ha, strict=True) if h not in set(hb)]
    added = [v for v, h in zip(b, hb, strict=True) if h not in set(ha)]
    bits = []
    if removed:
        bits.append("removed " + _some([repr(v) for v in removed]))
    if added:
        bits.append("added " + _some([repr(v) for v in added]))
    if not bits:
        bits.append("reordered" if len(a) == len(b) else f"{len(a)} → {len(b)} items")
    return "; ".join(bits)


def candidates(fa: RunFacts, fb: RunFacts) -> tuple[list[Candidate], dict[str, CodePart]]:
    """Every factor on which A and B differ, and the code parts (with their hunks)."""
    from .environment import grade

    out: list[Candidate] = []
    pa, pb = factor_params(fa), factor_params(fb)
    params: dict[str, Candidate] = {}
    for key in sorted(set(pa) | set(pb)):
        va, vb = pa.get(key, MISSING), pb.get(key, MISSING)
        ha = MISSING if va is MISSING else hashable(va)
        hb = MISSING if vb is MISSING else hashable(vb)
        if ha != hb:
            c = Candidate("param", key, va, vb, ha, hb, _list_change(va, vb))
            params[key] = c
            out.append(c)
    parts = {"cell": CodePart.build("cell", fa.code, fb.code)}
    if fa.dependencies is not None and fb.dependencies is not None:
        parts["dependencies"] = CodePart.build("dependencies", fa.dependencies, fb.dependencies)
    for part in parts.values():
        for h in part.hunks:
            edited = _param_edit(h, params)
            if edited is not None:
                where = f"set in the {part.part} at {h.hunk['header']}"
                for name in edited:
                    c = params[name]
                    c.detail = f"{c.detail}; {where}" if c.detail else where
                continue
            out.append(Candidate("code", h.key, h.removed, h.added, "a", "b", h.hunk["header"], h))
    ia, ib = inputs(fa), inputs(fb)
    for name in sorted(set(ia) | set(ib)):
        da, db = ia.get(name), ib.get(name)
        ha = da.snapshot.digest if da else MISSING
        hb = db.snapshot.digest if db else MISSING
        if ha != hb:
            cols = changed_columns(da, db)
            detail = ("columns changed: " + _some(cols)) if cols else None
            va = da.snapshot.short if da else MISSING
            vb = db.snapshot.short if db else MISSING
            out.append(Candidate("data", name, va, vb, ha, hb, detail, cols))
    ua, ub = keyed(fa.uses), keyed(fb.uses)
    for key in sorted(set(ua) | set(ub)):
        a, b = ua.get(key), ub.get(key)
        ha = a.digest if a else MISSING
        hb = b.digest if b else MISSING
        if ha != hb:
            va = use_label(a) if a else MISSING
            vb = use_label(b) if b else MISSING
            refs = f"{a.ref} → {b.ref}" if a and b and a.ref != b.ref else None
            out.append(Candidate("used", key, va, vb, ha, hb, refs))
    if env_known(fa) and env_known(fb):
        for name in sorted(set(fa.packages) | set(fb.packages)):
            va, vb = fa.packages.get(name, MISSING), fb.packages.get(name, MISSING)
            # A package only one run imported is a consequence of what its code did (covered
            # by the code factors), or of the tracker importing its own dependencies on
            # first use: only a version change of a package both runs used is a factor.
            if va is not MISSING and vb is not MISSING and va != vb:
                g = grade(va, vb)
                out.append(Candidate("package", name, va, vb, va, vb, g, g))
        for key in ("python", "platform"):
            va = getattr(fa, key) or MISSING
            vb = getattr(fb, key) or MISSING
            if va != vb:
                out.append(Candidate("environment", key, va, vb, va, vb))
    if fa.dependencies is not None and fb.dependencies is not None:
        for gen in sorted(set(fa.seeds) | set(fb.seeds)):
            va, vb = fa.seeds.get(gen, MISSING), fb.seeds.get(gen, MISSING)
            ha = MISSING if va is MISSING else hashable(va)
            hb = MISSING if vb is MISSING else hashable(vb)
            if ha != hb:
                out.append(Candidate("seed", gen, va, vb, ha, hb))
    return out, parts


def varies(column: Sequence[Hashable]) -> bool:
    """Does a param take two values or more among the runs that have it? (Whether a run
    has a param at all is not what the param did: a forest fed that measures missingness.)"""
    first: Hashable = MISSING
    for v in column:
        if v is MISSING:
            continue
        if first is MISSING:
            first = v
        elif v != first:
            return True
    return False


@dataclass
class Table:
    """The other runs as factor values: candidate columns, one background hashable per run
    (every factor on which A and B agree), and the varying background params (forest
    features)."""

    columns: dict[str, list[Hashable]]
    background: list[Hashable]
    features: dict[str, list[Hashable]]
    feature_ab: dict[str, tuple[Hashable, Hashable]]


def table(
    others: Sequence[RunFacts],
    fa: RunFacts,
    cands: Sequence[Candidate],
    parts: Mapping[str, CodePart],
    *,
    seeds_loaded: bool,
) -> Table:
    """O(runs × factors): one pass over the runs."""
    by_kind: dict[str, list[Candidate]] = {k: [] for k in KINDS}
    for c in cands:
        by_kind[c.kind].append(c)
    cand_params = {c.key for c in by_kind["param"]}
    cand_inputs = {c.key for c in by_kind["data"]}
    cand_used = {c.key for c in by_kind["used"]}
    cand_packages = {c.key for c in by_kind["package"]}
    cand_env = {c.key for c in by_kind["environment"]}
    cand_seeds = {c.key for c in by_kind["seed"]}
    columns: dict[str, list[Hashable]] = {c.id: [] for c in cands}
    # (column, key) per kind, so the loop over runs builds no strings
    cols = {k: [(columns[c.id], c.key) for c in by_kind[k]] for k in KINDS}
    background: list[Hashable] = []
    bg_params: dict[str, list[Hashable]] = {}
    n = len(others)
    # a hunk that only edits a parameter factor is no column (None): the param is
    code_ids = {
        part: [f"code:{h.key}" if f"code:{h.key}" in columns else None for h in p.hunks]
        for part, p in parts.items()
        if p.hunks
    }
    for i, f in enumerate(others):
        params = factor_params(f)
        for col, key in cols["param"]:
            v = params.get(key, MISSING)
            col.append(MISSING if v is MISSING else hashable(v))
        rest_params = []
        for k, v in params.items():
            if k in cand_params:
                continue
            hv = hashable(v)
            rest_params.append((k, hv))
            col = bg_params.get(k)
            if col is None:
                col = bg_params[k] = [MISSING] * n
            col[i] = hv
        code_rest: list[Hashable] = []
        for part, p in parts.items():
            text = f.code if part == "cell" else f.dependencies
            if part == "dependencies" and text is None:
                values: tuple[Hashable, ...] = (MISSING,) * len(p.hunks)
                rest: Hashable = MISSING
            else:
                values, rest = p.classify(text)
            for cid, v in zip(code_ids.get(part, ()), values, strict=False):
                if cid is not None:
                    columns[cid].append(v)
            code_rest.append(rest)
        ins = inputs(f)
        for col, key in cols["data"]:
            d = ins.get(key)
            col.append(d.snapshot.digest if d else MISSING)
        rest_inputs = frozenset(
            (name, d.snapshot.digest) for name, d in ins.items() if name not in cand_inputs
        )
        used = keyed(f.uses) if f.uses else {}
        for col, key in cols["used"]:
            u = used.get(key)
            col.append(u.digest if u else MISSING)
        rest_used = frozenset((k, u.digest) for k, u in used.items() if k not in cand_used)
        known = env_known(f)
        for col, key in cols["package"]:
            col.append(f.packages.get(key, MISSING) if known else MISSING)
        if known:
            pkgs: Hashable = frozenset(f.packages.items())
            if cand_packages:
                pkgs = frozenset(kv for kv in f.packages.items() if kv[0] not in cand_packages)
        else:
            pkgs = None
        for col, key in cols["environment"]:
            col.append(getattr(f, key) or MISSING)
        env = tuple(getattr(f, k) for k in ("python", "platform") if k not in cand_env)
        for col, key in cols["seed"]:
            v = f.seeds.get(key, MISSING)
            col.append(MISSING if v is MISSING else hashable(v))
        seeds: Hashable = None
        if seeds_loaded:
            seeds = frozenset((k, hashable(v)) for k, v in f.seeds.items() if k not in cand_seeds)
        background.append(
            (frozenset(rest_params), tuple(code_rest), rest_inputs, rest_used, pkgs, env, seeds)
        )
    features: dict[str, list[Hashable]] = {}
    feature_ab: dict[str, tuple[Hashable, Hashable]] = {}
    pa = factor_params(fa)
    for k, col in bg_params.items():
        if varies(col):
            fid = f"param:{k}"
            features[fid] = col
            v = pa.get(k, MISSING)
            hv = MISSING if v is MISSING else hashable(v)
            feature_ab[fid] = (hv, hv)
    return Table(columns, background, features, feature_ab)
