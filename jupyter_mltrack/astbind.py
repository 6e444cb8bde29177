"""Name binding in the less common statement forms, shared by the two syntax-tree passes.

Parameter detection (:mod:`jupyter_mltrack.capture.params`) and the slicer's statement
analysis (:mod:`jupyter_mltrack.pipeline.analysis`) each track which names a cell binds, for
different questions; how ``except … as e`` and ``match`` patterns bind is the same for both,
so it lives here once. Subclasses say what binding means by defining ``_bind``.
"""

from __future__ import annotations

import ast


class BindingVisitor(ast.NodeVisitor):
    """Visits exception handlers and ``match`` patterns, calling ``_bind`` for the names
    they bind (in the order Python binds them)."""

    def _bind(self, name: str) -> None:
        raise NotImplementedError

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._bind(node.rest)
