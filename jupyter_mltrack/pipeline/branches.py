"""Branches that never ran: recorded by the kernel, cut from the export.

A top-level statement may hold ``if`` branches the notebook never took (``if len(xs) >
100:``). Slicing on the whole statement would drag in everything those branches mention —
helpers, data, even names defined nowhere — so the kernel records which branches ran, and
the export replaces each branch that did not with a ``raise`` saying so: the script stays
well-formed, does what the notebook did, and stops loudly (instead of silently doing
something the notebook never tested) if other parameters send it down a branch that was
never exported.

Both sides number a statement's ``if`` statements the same way (:func:`branch_points`):
preorder over the statement's own code, not entering function or class bodies (those run
when called, possibly with other arguments, so they are exported whole) nor loop bodies (a
marker there would run on every pass: in a tight loop that costs more than the log's whole
budget, so ``if`` statements inside loops are exported whole too). Branch ``2 * n``
is the body of ``if`` number ``n``, ``2 * n + 1`` its ``else`` (``elif`` included).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

#: The exception a pruned branch raises in the script.
NOT_EXPORTED = "this branch never ran in the notebook ({where}), so it was not exported"


def branch_points(node: ast.AST) -> list[ast.If]:
    """The ``if`` statements that run as part of ``node``, in a fixed order."""
    return list(_walk(node))


_BLOCK = (ast.stmt, ast.excepthandler, ast.match_case)
_OWN_SCOPE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def _walk(node: ast.AST) -> Iterator[ast.If]:
    # Only statements hold statements, in list fields (body, orelse, handlers, cases…):
    # expressions are skipped, which makes this cheap for the common simple statement (the
    # kernel runs it on every statement of every cell).
    if isinstance(node, ast.If):
        yield node
    elif isinstance(node, _LOOPS):
        return
    for name in node._fields:
        value = getattr(node, name, None)
        if type(value) is list:
            for child in value:
                if isinstance(child, _BLOCK) and not isinstance(child, _OWN_SCOPE):
                    yield from _walk(child)


def prune(code: str, taken: set[int], where: str) -> str | None:
    """``code`` with every branch not in ``taken`` replaced by a ``raise``; ``None`` when
    every branch ran (the code is then kept exactly as written)."""
    tree = ast.parse(code)
    changed = False
    for n, node in enumerate(branch_points(tree)):
        if 2 * n not in taken:
            node.body = [_raise(where, node.body[0])]
            changed = True
        if node.orelse and 2 * n + 1 not in taken:
            node.orelse = [_raise(where, node.orelse[0])]
            changed = True
    if not changed:
        return None
    return ast.unparse(tree) + "\n"


def _raise(where: str, at: ast.stmt) -> ast.stmt:
    message = NOT_EXPORTED.format(where=where)
    stmt = ast.parse(f"raise RuntimeError({message!r})").body[0]
    return ast.copy_location(stmt, at)
