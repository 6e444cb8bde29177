"""A fast syntax-tree visitor, and name binding in the less common statement forms, shared
by the two passes the kernel makes over cells.

Parameter detection (:mod:`jupyter_mltrack.capture.params`) and the slicer's statement
analysis (:mod:`jupyter_mltrack.pipeline.analysis`) each track which names a cell binds, for
different questions; how ``except … as e`` and ``match`` patterns bind is the same for both,
so it lives here once. Subclasses say what binding means by defining ``_bind``. Both run on
every cell the kernel executes, so the dispatch is made cheaper than ``ast.NodeVisitor``'s.
"""

from __future__ import annotations

import ast
from typing import Any, ClassVar


class BindingVisitor(ast.NodeVisitor):
    """Visits exception handlers and ``match`` patterns, calling ``_bind`` for the names
    they bind (in the order Python binds them)."""

    #: ``node type -> method``, per subclass (``NodeVisitor`` looks it up by name per node).
    _methods: ClassVar[dict[type, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._methods = {}

    def visit(self, node: ast.AST) -> Any:
        kind = type(node)
        method = self._methods.get(kind)
        if method is None:
            method = getattr(type(self), f"visit_{kind.__name__}", type(self).generic_visit)
            self._methods[kind] = method
        return method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass  # a leaf (``NodeVisitor``'s own handles long-gone node types, slowly)

    def visit_Load(self, node: ast.AST) -> None:
        pass  # expression contexts are leaves

    visit_Store = visit_Del = visit_Load

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
