"""Turning what IPython's transforms left of magics and shell escapes into plain Python.

IPython runs ``%time x = f()`` as ``get_ipython().run_line_magic('time', 'x = f()')``. In a
script there is no ``get_ipython()``, so each such statement is

* **translated** when it wraps code (``%time``, ``%%time``, ``%%capture``) or has a plain
  Python equivalent (``%cd``, ``%env``, ``%%writefile``);
* **dropped** when it only configures the session or displays something (``%matplotlib``,
  ``%load_ext``, ``%config``, ``%timeit``, ``%%html``…); a ``pip``/``conda`` install is dropped
  and becomes a requirement;
* **refused** otherwise (``files = !ls``, ``%run``, ``%%bash``): the export fails naming the
  line, rather than silently commenting it out — but only if the slice needs it.
"""

from __future__ import annotations

import ast
import shlex
import textwrap
from dataclasses import dataclass, field
from typing import Any

#: Line magics that only configure the session or show something.
DROP_LINE = frozenset(
    {
        "matplotlib",
        "load_ext",
        "reload_ext",
        "unload_ext",
        "config",
        "autoreload",
        "aimport",
        "precision",
        "pinfo",
        "pinfo2",
        "pdoc",
        "psource",
        "pfile",
        "who",
        "whos",
        "who_ls",
        "history",
        "lsmagic",
        "magic",
        "pwd",
        "ls",
        "timeit",
        "prun",
        "mltrack",
        "xmode",
        "colors",
        "page",
        "pprint",
        "doctest_mode",
        "notebook",
    }
)
#: Cell magics that only display something (or time code by running it many times).
DROP_CELL = frozenset(
    {"html", "HTML", "javascript", "js", "markdown", "latex", "svg", "timeit", "prun"}
)
WRAPPING_LINE = frozenset({"time"})
WRAPPING_CELL = frozenset({"time", "capture"})
INSTALLERS = frozenset({"pip", "conda", "mamba"})


@dataclass
class Translation:
    """What to do with one statement: ``code`` (keep ``source``), ``drop`` or ``refuse``."""

    kind: str
    source: str
    requirements: list[str] = field(default_factory=list)
    reason: str = ""
    #: Import statements the translated code needs (``import os`` for ``%cd``); the script
    #: puts them with its other imports, whether or not the notebook imported them.
    imports: list[str] = field(default_factory=list)


def _ipython_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """``('run_line_magic', [args])`` for ``get_ipython().<method>(<string args>)``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    owner = node.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return None
    args = []
    for arg in node.args:
        if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
            return node.func.attr, []
        args.append(arg.value)
    return node.func.attr, args


def _requirements(command: str) -> list[str]:
    """Packages a ``pip install …`` / ``conda install …`` command names (options skipped)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    while words and words[0] in ("python", "python3", "-m", "!", "%"):
        words = words[1:]
    if len(words) < 2 or words[0] not in INSTALLERS or words[1] != "install":
        return []
    out, skip = [], False
    for word in words[2:]:
        if skip:
            skip = False
            continue
        if word in ("-r", "-c", "-e", "--requirement", "--constraint", "-i", "--index-url"):
            skip = True
            continue
        if word.startswith("-") or word.startswith("{") or word.startswith("$"):
            continue
        out.append(word)
    return out


def cell_magic_body(source: str) -> str | None:
    """The body of a cell magic statement (``get_ipython().run_cell_magic(name, line,
    body)``), else ``None``: ``%%capture`` runs it as a cell of its own, logged right after."""
    try:
        (node,) = ast.parse(source).body
    except (SyntaxError, ValueError):
        return None
    call = _ipython_call(node.value) if isinstance(node, ast.Expr | ast.Assign) else None
    if call is None or call[0] != "run_cell_magic" or len(call[1]) != 3:
        return None
    return call[1][2]


def translate(node: ast.stmt, source: str) -> Translation:
    """The plain-Python form of one top-level statement (most are kept as they are)."""
    value = node.value if isinstance(node, ast.Expr | ast.Assign) else None
    call = _ipython_call(value) if value is not None else None
    if call is None:
        return Translation("code", source)
    method, args = call
    assigned = isinstance(node, ast.Assign)
    if method == "run_line_magic" and len(args) == 2:
        name, line = args
        if name in INSTALLERS:
            return Translation("drop", source, requirements=_requirements(f"{name} {line}"))
        if name in DROP_LINE and not assigned:
            return Translation("drop", source)
        if name in WRAPPING_LINE and not assigned:
            return Translation("code", line + "\n")
        if name == "cd" and not assigned:
            return Translation("code", f"os.chdir({line.strip()!r})\n", imports=["import os"])
        if name in ("env", "set_env") and not assigned:
            return _env(line, source)
    elif method == "run_cell_magic" and len(args) == 3:
        name, line, body = args
        if name == "capture" and line.strip():
            return _capture(line, body, source)
        if name in WRAPPING_CELL:
            return Translation("code", body if body.endswith("\n") else body + "\n")
        if name in DROP_CELL:
            return Translation("drop", source)
        if name == "writefile":
            return _writefile(line, body, source)
    elif method == "system" and len(args) == 1:
        requirements = _requirements(args[0].lstrip("!"))
        if requirements and not assigned:
            return Translation("drop", source, requirements=requirements)
    return Translation("refuse", source, reason=_refusal(method, args, assigned))


def _refusal(method: str, args: list[Any], assigned: bool) -> str:
    """Why a statement has no plain-Python form, in the user's terms."""
    if method in ("getoutput", "system"):
        what = "captures a shell command's output" if assigned else "runs a shell command"
    elif method == "run_line_magic" and args:
        what = f"uses the %{args[0]} magic" + (" for its value" if assigned else "")
    elif method == "run_cell_magic" and args:
        what = f"uses the %%{args[0]} cell magic"
    else:
        what = f"calls IPython ({method})"
    return f"{what}, which has no plain-Python form"


def _env(line: str, source: str) -> Translation:
    text = line.strip()
    if not text:
        return Translation("drop", source)  # %env alone lists the variables
    name, sep, val = text.partition("=")
    if not sep:
        parts = text.split(None, 1)
        if len(parts) != 2:
            return Translation("drop", source)  # %env NAME shows a value
        name, val = parts
    return Translation(
        "code", f"os.environ[{name.strip()!r}] = {val.strip()!r}\n", imports=["import os"]
    )


def _writefile(line: str, body: str, source: str) -> Translation:
    words = shlex.split(line)
    append = "-a" in words or "--append" in words
    paths = [w for w in words if not w.startswith("-")]
    if len(paths) != 1:
        return Translation("refuse", source, reason="%%writefile needs exactly one file name")
    mode = "a" if append else "w"
    code = f"with open({paths[0]!r}, {mode!r}) as _out:\n    _out.write({body!r})\n"
    return Translation("code", code)


def _capture(line: str, body: str, source: str) -> Translation:
    """``%%capture [--no-stdout] [--no-stderr] [--no-display] [NAME]``: IPython's own
    ``capture_output`` (it works without a kernel), so ``NAME.stdout``, ``NAME.outputs`` and
    ``NAME.show()`` mean in the script what they meant in the notebook."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    flags = {w for w in words if w.startswith("-")}
    names = [w for w in words if not w.startswith("-")]
    known = {"--no-stdout", "--no-stderr", "--no-display"}
    if flags - known or len(names) > 1 or (names and not names[0].isidentifier()):
        return Translation("refuse", source, reason=f"uses %%capture {line.strip()!r}")
    options = ", ".join(
        f"{what}=False" for what in ("stdout", "stderr", "display") if f"--no-{what}" in flags
    )
    target = f" as {names[0]}" if names else ""
    code = textwrap.indent(body.rstrip("\n") or "pass", "    ")
    return Translation(
        "code",
        f"with capture_output({options}){target}:\n{code}\n",
        imports=["from IPython.utils.capture import capture_output"],
    )
