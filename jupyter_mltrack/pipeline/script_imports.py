"""The import block at the top of the exported script: which of the slice's imports are
hoisted (and which stay where they ran), star imports spelled out, the notebook's aliases of
``jupyter_mltrack`` bound to the script's recorder, and the block sorted and wrapped as isort
and ruff would write it — so the generated file passes the project's own lint.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .steps import Step


def _split_imports(
    steps: Sequence[Step], in_place: Mapping[int, Any] = {}
) -> tuple[list[ast.Import | ast.ImportFrom], list[Step]]:
    """Import statements to hoist to the top (as nodes) and the other steps.

    An import that depends on something other than imports that ran before it (a
    ``sys.path`` or working-directory change, an environment variable set, a file written
    earlier) stays where it ran; the others go to the top. A star import becomes an import
    of the names it actually bound in the kernel, so the script says where each name comes
    from.
    """
    imports: list[ast.Import | ast.ImportFrom] = []
    rest: list[Step] = []
    hoisted: set[Step] = set()
    for step in steps:
        for needed in step.stmt.needs:  # what a translated magic needs, from the top
            imports.extend(ast.parse(needed).body)  # type: ignore[arg-type]
        try:
            tree = ast.parse(step.stmt.code.strip())
        except SyntaxError:
            rest.append(step)
            continue
        nodes = tree.body
        if (
            not nodes
            or not all(isinstance(n, ast.Import | ast.ImportFrom) for n in nodes)
            or not step.deps <= hoisted  # it needs a step that stays in place
            or id(step) in in_place  # an RNG state is restored before it
        ):
            rest.append(step)
            continue
        hoisted.add(step)
        for node in nodes:
            imports.append(_expand_star(node, step))  # type: ignore[arg-type]
    return imports, rest


def _expand_star(node: ast.Import | ast.ImportFrom, step: Step) -> ast.Import | ast.ImportFrom:
    """``from m import *`` -> ``from m import a, b``: the names it bound, as the kernel saw."""
    if not isinstance(node, ast.ImportFrom) or not any(a.name == "*" for a in node.names):
        return node
    names = [n for n in step.fact.get("names", []) if n.isidentifier() and not n.startswith("_")]
    if not names:
        return node
    return ast.ImportFrom(node.module, [ast.alias(n) for n in names], node.level)


def _imports_tracker(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] == "jupyter_mltrack" for a in node.names)
    return (node.module or "").split(".")[0] == "jupyter_mltrack"


def _tracker_aliases(imports: Sequence[ast.Import | ast.ImportFrom]) -> list[str]:
    """The notebook's names for ``jupyter_mltrack`` and its functions, bound to the script's
    recorder instead (``import jupyter_mltrack as mt`` -> ``mt = mltrack``)."""
    lines: list[str] = []
    for node in imports:
        if not _imports_tracker(node):
            continue
        for alias in node.names:
            if isinstance(node, ast.Import):
                name = alias.asname or alias.name.split(".")[0]
                if name != "mltrack":
                    lines.append(f"{name} = mltrack")
            elif alias.name != "*":
                lines.append(f"{alias.asname or alias.name} = mltrack.{alias.name}")
    return lines


#: Line length ruff formats to by default: longer ``from`` imports are wrapped.
LINE_LENGTH = 88


def _member_key(name: str) -> tuple[int, str, str]:
    """isort's ``order-by-type``: CONSTANTS, then Classes, then functions and variables."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, name.lower(), name


def _import_block(imports: Sequence[ast.Import | ast.ImportFrom], used: set[str]) -> str:
    """The hoisted imports as isort (and ruff's ``I`` rules) would write them: future, standard
    library, third-party and relative groups; ``import x`` before ``from x import y`` in each;
    one module per ``import`` line, ``from`` imports of a module merged. Names the script
    never uses are left out, so it stays clean of unused imports — except where importing
    is the point (see :func:`_side_effect_imports`): those come first, in a block of their
    own (``# isort: split`` keeps them there), since sorted, ``sklearn.model_selection``
    could come before the ``sklearn.experimental`` import that enables what it imports."""
    stdlib = set(sys.stdlib_module_names)
    imports = [node for node in imports if not _imports_tracker(node)]
    effects = _side_effect_imports(imports, used)
    kept, first = _Imports(), _Imports()
    for node in imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                top = alias.name.split(".")[0]
                group = 1 if top in stdlib else 2
                if bound in used:
                    kept.straight[group].add((alias.name, alias.asname))
                elif (alias.asname or alias.name) in effects:
                    first.straight[group].add((alias.name, alias.asname))
            continue
        module = "." * node.level + (node.module or "")
        if node.level:
            group = 3
        elif module == "__future__":
            group = 0
        else:
            group = 1 if module.split(".")[0] in stdlib else 2
        for alias in node.names:
            name = alias.asname or alias.name
            if alias.name == "*" or name in used:
                kept.froms[group].setdefault(module, set()).add((alias.name, alias.asname))
            elif name in effects:
                first.froms[group].setdefault(module, set()).add((alias.name, alias.asname))
    kept.froms[0].setdefault("__future__", set()).add(("annotations", None))
    blocks = kept.render((0,))
    rest = kept.render((1, 2, 3))
    effects_first = first.render((1, 2, 3))
    if effects_first:
        blocks.append(
            "# imported for what importing them does (they enable or register what the\n"
            "# imports below use): before those\n" + "\n".join(effects_first)
        )
        if rest:
            rest[0] = "# isort: split\n" + rest[0]
    return "\n".join(blocks + rest)


@dataclass
class _Imports:
    """Imports by isort section (0 future, 1 standard library, 2 third-party, 3 relative):
    ``import name [as asname]`` and ``from module import name [as asname]``."""

    straight: dict[int, set[tuple[str, str | None]]] = field(
        default_factory=lambda: {0: set(), 1: set(), 2: set(), 3: set()}
    )
    froms: dict[int, dict[str, set[tuple[str, str | None]]]] = field(
        default_factory=lambda: {0: {}, 1: {}, 2: {}, 3: {}}
    )

    def render(self, groups: Sequence[int]) -> list[str]:
        """One block of lines per non-empty section, sorted as isort sorts them."""
        blocks: list[str] = []
        for group in groups:
            lines = [
                f"import {_spell(name, asname)}"
                for name, asname in sorted(
                    self.straight[group], key=lambda a: (a[0].lower(), a[0], a[1] or "")
                )
            ]
            for module in sorted(self.froms[group], key=lambda m: (m.lower(), m)):
                members = self.froms[group][module]
                if ("*", None) in members:
                    lines.append(f"from {module} import *")
                    members = members - {("*", None)}
                    if not members:
                        continue
                names = [_spell(n, a) for n, a in sorted(members, key=lambda m: _member_key(m[0]))]
                line = f"from {module} import {', '.join(names)}"
                if len(line) > LINE_LENGTH:
                    line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"
                lines.append(line)
            if lines:
                blocks.append("\n".join(lines) + "\n")
        return blocks


def _spell(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname and asname != name else name


def _side_effect_imports(
    imports: Sequence[ast.Import | ast.ImportFrom], used: set[str]
) -> set[str]:
    """Names of imports the script never uses but keeps for what importing does: the slice
    keeps every import of a package it uses (:meth:`.slicer.Slicer.side_effects`), and one
    that runs a module no used import runs — ``from sklearn.experimental import
    enable_halving_search_cv`` (a submodule), ``import matplotlib.style`` — is written out
    (ruff marks it ``noqa: F401``). One whose modules the used imports run anyway
    (``from sklearn.metrics import f1_score`` beside a used ``accuracy_score``) is not."""
    ran: set[str] = set()  # modules the used imports run (and their parent packages)
    unused: list[tuple[ast.Import | ast.ImportFrom, list[ast.alias]]] = []
    for node in imports:
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        aliases = [a for a in node.names if a.name != "*"]
        if isinstance(node, ast.Import):
            taken = [a for a in aliases if (a.asname or a.name.split(".")[0]) in used]
            modules = [a.name for a in taken]
        else:
            taken = [a for a in aliases if (a.asname or a.name) in used]
            modules = [node.module or ""] if taken or len(aliases) < len(node.names) else []
        for module in modules:
            parts = module.split(".")
            ran.update(".".join(parts[: n + 1]) for n in range(len(parts)))
        if len(taken) < len(aliases):
            unused.append((node, [a for a in aliases if a not in taken]))
    packages = {module.split(".")[0] for module in ran}
    keep: set[str] = set()
    for node, aliases in unused:
        if isinstance(node, ast.Import):
            aliases = [a for a in aliases if a.name.split(".")[0] in packages]
            keep.update(a.name for a in aliases if a.asname is None and a.name not in ran)
            keep.update(a.asname for a in aliases if a.asname and a.name not in ran)
            continue
        module = node.module or ""
        if module.split(".")[0] not in packages:
            continue  # a package nothing in the script uses
        submodules = [a for a in aliases if _is_submodule(module, a.name)]
        if submodules:
            keep.update(a.asname or a.name for a in submodules if f"{module}.{a.name}" not in ran)
        elif module not in ran and not any((a.asname or a.name) in used for a in node.names):
            keep.update(a.asname or a.name for a in aliases)
        for a in aliases:
            ran.add(f"{module}.{a.name}")
        ran.add(module)
    return keep


def _is_submodule(module: str, name: str) -> bool:
    """Whether ``module.name`` is a module (found on the import path, not imported: the
    export must not run the notebook's libraries)."""
    from importlib.machinery import PathFinder

    path: list[str] | None = None
    parts = [*module.split("."), name]
    for n in range(len(parts)):
        try:
            spec = PathFinder.find_spec(".".join(parts[: n + 1]), path)
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        if n == len(parts) - 1:
            return True
        if not spec.submodule_search_locations:
            return False
        path = list(spec.submodule_search_locations)
    return False


def _names_used(text: str) -> set[str]:
    """Every name the generated code mentions (to keep only the imports it needs)."""
    return {node.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Name)}
