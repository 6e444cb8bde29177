"""Effect specs: which calls change the objects they are given.

The static analysis cannot know whether ``x.m()`` changes ``x``; the kernel records ``x``'s
type, and these tables answer from it. Unknown types and functions are assumed to change
what they are given (a larger slice, never a wrong one), except where a library is known:
the containers and numbers of the standard library, numpy, pandas, scikit-learn estimators.

scikit-learn's estimator API is a convention its code keeps: ``fit``, ``partial_fit``,
``fit_transform``, ``fit_predict`` (and ``set_params``, ``set_output``) change the estimator
they are called on; ``predict``, ``predict_proba``, ``decision_function``, ``score``,
``transform``, ``inverse_transform`` change nothing; none of them changes the data it is
given, and neither do its functions (``cross_val_score``, ``cross_validate``,
``train_test_split``, the metrics), which clone the estimators they are given. Library
functions in general are taken not to change their arguments, except those listed in
:data:`ARGUMENT_MUTATORS`.

Which code may *set* a global random generator's state (and not only draw from it) is in
:data:`RNG_SEEDERS` and :func:`library_value`: the slicer chains a stream's draws only from
the first statement that may have seeded it (see ``Slicer._library_only``).
"""

from __future__ import annotations

from typing import Any

#: Types whose values never change in place.
IMMUTABLE = frozenset(
    {
        "builtins.int",
        "builtins.float",
        "builtins.complex",
        "builtins.bool",
        "builtins.str",
        "builtins.bytes",
        "builtins.tuple",
        "builtins.frozenset",
        "builtins.NoneType",
        "builtins.range",
        "builtins.module",
        "builtins.function",
        "builtins.builtin_function_or_method",
        "builtins.type",
    }
)

#: Methods that change a builtin container.
_CONTAINER_MUTATORS = {
    "builtins.list": {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "clear",
        "sort",
        "reverse",
        "__setitem__",
        "__delitem__",
        "__iadd__",
    },
    "builtins.dict": {"update", "pop", "popitem", "clear", "setdefault", "__setitem__"},
    "builtins.set": {
        "add",
        "discard",
        "remove",
        "pop",
        "clear",
        "update",
        "intersection_update",
        "difference_update",
        "symmetric_difference_update",
    },
    "builtins.bytearray": {"append", "extend", "insert", "remove", "pop", "clear", "reverse"},
    "collections.deque": {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "pop",
        "popleft",
        "remove",
        "rotate",
        "clear",
        "insert",
    },
    "collections.Counter": {"update", "subtract", "pop", "clear", "setdefault"},
    "collections.OrderedDict": {"update", "pop", "popitem", "clear", "setdefault", "move_to_end"},
    "collections.defaultdict": {"update", "pop", "popitem", "clear", "setdefault"},
}

_NDARRAY_MUTATORS = {
    "sort",
    "fill",
    "resize",
    "put",
    "itemset",
    "partition",
    "setfield",
    "setflags",
    "byteswap",
}
_PANDAS_MUTATORS = {"insert", "pop", "update", "__setitem__", "__delitem__"}
#: scikit-learn estimators change themselves when fitted.
_FIT = {"fit", "partial_fit", "fit_transform", "fit_predict", "set_params", "set_output"}
#: scikit-learn methods that return the estimator they are called on: on an estimator just
#: constructed (``RandomForestClassifier(n_estimators=3).fit(X, y)``), a new object.
RETURNS_SELF = frozenset({"fit", "partial_fit", "set_params", "set_output"})
#: Objects whose every method call may advance them (random generators, iterators, files).
_STATEFUL_PREFIXES = (
    "numpy.random.",
    "random.Random",
    "builtins.generator",
    "_io.",
    "itertools.",
)

#: Builtins that leave their arguments alone (the rest of ``builtins`` may not: ``next``).
PURE_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "ascii",
        "bin",
        "bool",
        "bytes",
        "callable",
        "chr",
        "complex",
        "dict",
        "dir",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "format",
        "frozenset",
        "getattr",
        "hasattr",
        "hash",
        "hex",
        "id",
        "int",
        "isinstance",
        "issubclass",
        "iter",
        "len",
        "list",
        "map",
        "max",
        "min",
        "oct",
        "ord",
        "pow",
        "print",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "slice",
        "sorted",
        "str",
        "sum",
        "tuple",
        "type",
        "vars",
        "zip",
        "display",
    }
)
#: Library functions known to change an argument in place: dotted name -> argument positions.
ARGUMENT_MUTATORS = {
    "random.shuffle": (0,),
    "np.random.shuffle": (0,),
    "numpy.random.shuffle": (0,),
    "np.copyto": (0,),
    "numpy.copyto": (0,),
    "np.put": (0,),
    "np.place": (0,),
    "np.fill_diagonal": (0,),
    "next": (0,),
}


#: Functions and methods, by the name they are called by, that may set a global random
#: generator's state rather than draw from it: ``np.random.seed``, ``np.random.set_state``,
#: ``random.setstate``, and the usual helpers of other libraries that seed every generator
#: (``lightning.seed_everything``, ``transformers.set_seed``, ``torch.manual_seed``).
RNG_SEEDERS = frozenset(
    {
        "seed",
        "set_state",
        "setstate",
        "set_bit_generator",
        "manual_seed",
        "seed_everything",
        "set_seed",
        "set_random_seed",
    }
)
#: Builtins that run or reach code by name (``exec("np.random.seed(0)")``,
#: ``getattr(np.random, "seed")``): what a call of one does is not known.
DYNAMIC_BUILTINS = frozenset(
    {"exec", "eval", "compile", "__import__", "getattr", "globals", "locals", "vars", "breakpoint"}
)
#: Builtins that run no code but the special methods of what they are given.
LIBRARY_BUILTINS = (PURE_BUILTINS - DYNAMIC_BUILTINS) | {"next"}
#: Packages that never set a global random generator's state unless asked by name (a
#: ``seed``/``set_state`` call): their functions and objects draw from the global generators
#: at most (scikit-learn with ``random_state=None``, ``DataFrame.sample()``, scipy's ``rvs``).
#: Code of the session they are given (a callback, an estimator class of the notebook's) is
#: followed separately. (``random`` seeds only through ``seed``/``setstate``.)
NON_SEEDING_PACKAGES = frozenset(
    {"numpy", "pandas", "scipy", "sklearn", "random", "math", "statistics"}
)
#: Types of values that hold no code: numbers, strings, the builtin containers (the objects
#: they hold are followed by identity), and the objects of the packages above.
_VALUE_TYPES = frozenset(
    f"builtins.{t}"
    for t in (
        "int",
        "float",
        "complex",
        "bool",
        "str",
        "bytes",
        "NoneType",
        "range",
        "slice",
        "list",
        "dict",
        "set",
        "tuple",
        "frozenset",
        "bytearray",
    )
)


def library_value(type_name: str | None) -> bool:
    """Whether an object of this recorded type is plain data or a library object (of
    :data:`NON_SEEDING_PACKAGES`): using it runs none of the session's code. Functions and
    classes are not (a ``builtins.function`` may be the notebook's own)."""
    if type_name is None:
        return False
    if type_name in _VALUE_TYPES:
        return True
    return type_name.partition(".")[0] in NON_SEEDING_PACKAGES


def method_mutates(type_name: str | None, method: str, keywords: dict[str, Any]) -> bool:
    """Does calling ``method`` on an object of ``type_name`` change that object?"""
    if keywords.get("inplace") is True:
        return True
    if type_name is None:
        return True
    if type_name in IMMUTABLE:
        return False
    if type_name in _CONTAINER_MUTATORS:
        return method in _CONTAINER_MUTATORS[type_name]
    if type_name == "numpy.ndarray":
        return method in _NDARRAY_MUTATORS or (
            method == "byteswap" and keywords.get("inplace") is True
        )
    if type_name.startswith("pandas."):
        return method in _PANDAS_MUTATORS
    if type_name.startswith("sklearn.") or type_name.startswith(("xgboost.", "lightgbm.")):
        return method in _FIT
    if type_name.startswith(_STATEFUL_PREFIXES):
        return True
    return True  # an unknown object: its methods may change it


def is_iterator(type_name: str | None) -> bool:
    """Iterating over such an object consumes it (a second loop sees nothing)."""
    if type_name is None:
        return False
    if type_name in IMMUTABLE or type_name in _CONTAINER_MUTATORS:
        return False
    if type_name.startswith(("numpy.", "pandas.")):
        return False
    return type_name.endswith(("iterator", "generator", "Iterator")) or type_name.startswith(
        ("itertools.", "builtins.map", "builtins.filter", "builtins.zip", "builtins.enumerate")
    )


def mutable(type_name: str | None) -> bool:
    return type_name not in IMMUTABLE
