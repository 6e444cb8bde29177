"""One autolog session: the patches a tracked cell (or an autologged run) installs, and what
they record, from :func:`begin` until :meth:`Session.end`.

Everything here is scoped: patches go in when the session begins and come out when it ends
(only those still in place, so a name the user rebound is left alone), and a wrapper left
behind anyway (a module imported during the cell that copied one) calls straight through once
its session is over. Only libraries already imported, or imported while the session is open,
are touched: importing scikit-learn ourselves would cost the user a second per kernel.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import math
import numbers
import re
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable
from typing import Any

#: The open session, read by every wrapper (a wrapper that outlives it calls through).
_current: Session | None = None
_begin_lock = threading.Lock()
#: Ended sessions whose patches are still in place, their restoring left for later (see
#: ``Session.end``).
_unrestored: list[Session] = []
_MISSING = object()
#: Longest text kept for a parameter that is not plain data (an estimator, a callable).
_MAX_REPR = 250
#: Entry points of the integrations: the module whose presence turns each one on.
_INSTALLERS: dict[str, tuple[str, str]] = {
    "sklearn.base": ("sklearn", "install_base"),
    "sklearn.metrics": ("sklearn", "install_metrics"),
    "sklearn.model_selection": ("sklearn", "install_model_selection"),
    "xgboost": ("xgboost", "install"),
    "lightgbm": ("lightgbm", "install"),
    "keras": ("keras", "install"),
    # Lightning ships under both names, as two copies with their own Trainer class
    "lightning.pytorch": ("lightning", "install"),
    "pytorch_lightning": ("lightning", "install"),
}


def current() -> Session | None:
    """The session open now, if any."""
    return _current


def plain(value: Any, depth: int = 0) -> bool:
    """A value small and simple enough to be a parameter as it is."""
    if value is None or isinstance(value, bool | str):
        return not isinstance(value, str) or len(value) <= _MAX_REPR
    if isinstance(value, numbers.Real):
        return True
    if depth >= 2:
        return False
    if isinstance(value, list | tuple):
        return len(value) <= 32 and all(plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 32 and all(
            isinstance(k, str) and plain(v, depth + 1) for k, v in value.items()
        )
    return False


def param_value(value: Any) -> Any:
    """``value`` as a parameter: plain data as it is, anything else as a short text that is
    the same in every process (a nested estimator's own parameters are flattened beside it).

    No memory address survives, so two runs of one notebook differ only in what changed: a
    function or class is its name (``refit_strategy``, ``sklearn.feature_selection.f_classif``),
    a ``RandomState`` is ``RandomState``, a frozen scipy distribution is ``randint(1, 6)``, and
    any other ``<Foo object at 0x…>`` is ``<Foo object>``."""
    if plain(value):
        return value
    text = " ".join(describe(value).split())
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 1] + "…"


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def describe(value: Any, depth: int = 0) -> str:
    """A repr of ``value`` without memory addresses (see :func:`param_value`); containers
    are described item by item, and stop once longer than a parameter may be."""
    try:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return _scalar(value, depth)
        if isinstance(value, dict) and depth < 3:
            items = _bounded(
                f"{describe(k, depth + 1)}: {describe(v, depth + 1)}" for k, v in value.items()
            )
            return "{" + items + "}"
        if isinstance(value, list | tuple) and depth < 3:
            items = _bounded(describe(v, depth + 1) for v in value)
            if isinstance(value, list):
                return f"[{items}]"
            return f"({items},)" if len(value) == 1 else f"({items})"
        name = _name_of_code(value)
        if name is not None:
            return name
        if type(value).__name__ == "RandomState":
            return "RandomState"
        frozen = _frozen_distribution(value, depth)
        if frozen is not None:
            return frozen
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return _ADDRESS.sub("", text)


def _bounded(parts: Iterable[str]) -> str:
    kept: list[str] = []
    size = 0
    for part in parts:
        if size > _MAX_REPR:
            kept.append("…")
            break
        kept.append(part)
        size += len(part) + 2
    return ", ".join(kept)


def _name_of_code(value: Any) -> str | None:
    """A function's, method's or class's name: bare when the user defined it (``__main__``,
    a notebook cell), else dotted by the shortest public module that exports it
    (``sklearn.feature_selection.f_classif``, not its private ``_univariate_selection``)."""
    value = getattr(value, "__wrapped__", value) if isinstance(value, _FunctionWrapper) else value
    if isinstance(value, types.MethodType):
        value = value.__func__
    # functions, classes, and what stands for a function (numpy's ``np.mean``, a ufunc):
    # plain instances have no ``__qualname__``, only their class has
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(qualname, str) or not callable(value):
        return None
    module = getattr(value, "__module__", None)
    if not isinstance(module, str) or module in ("__main__", "builtins"):
        return qualname
    if "<" not in qualname:
        parts = module.split(".")
        best = None
        for end in range(len(parts), 0, -1):
            if any(part.startswith("_") for part in parts[:end]):
                continue
            candidate = sys.modules.get(".".join(parts[:end]))
            held: Any = candidate
            for piece in qualname.split("."):
                held = getattr(held, piece, None)
            if isinstance(held, _FunctionWrapper):
                held = held.__wrapped__
            if held is value:
                best = ".".join(parts[:end])
        if best is not None:
            return f"{best}.{qualname}"
    return f"{module}.{qualname}"


def _frozen_distribution(value: Any, depth: int) -> str | None:
    """``randint(1, 6)``, ``norm(loc=1, scale=2)`` for a frozen scipy.stats distribution."""
    dist = getattr(value, "dist", None)
    name = getattr(dist, "name", None)
    args, kwds = getattr(value, "args", None), getattr(value, "kwds", None)
    if not (
        type(value).__name__.endswith("_frozen")
        and isinstance(name, str)
        and isinstance(args, tuple)
        and isinstance(kwds, dict)
    ):
        return None
    parts = [_scalar(a, depth) for a in args]
    parts += [f"{k}={_scalar(v, depth)}" for k, v in kwds.items()]
    return f"{name}({', '.join(parts)})"


def _scalar(value: Any, depth: int) -> str:
    """A number as Python writes it (``1``, ``0.5``: not numpy 2's ``np.int64(1)``)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return repr(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return describe(value, depth + 1)


def number(value: Any) -> float | None:
    """``value`` as a finite float when it is one number (a numpy scalar or 0-d array
    included); ``None`` for arrays, bools, NaN and everything else."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, numbers.Real):
        if getattr(value, "ndim", None) != 0 or getattr(value, "dtype", None) is None:
            return None
        kind = getattr(value.dtype, "kind", None)  # a torch dtype has none: not numpy's
        if not isinstance(kind, str) or len(kind) != 1 or kind not in "iuf":
            return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _copy_identity(wrapper: Any, original: Any) -> None:
    """What ``functools.wraps`` copies, without its ``__dict__`` update: ``inspect.signature``
    (scikit-learn reads ``fit``'s signature for metadata routing) follows ``__wrapped__``."""
    for name in ("__module__", "__name__", "__qualname__", "__doc__"):
        value = getattr(original, name, None)
        if value is not None:
            setattr(wrapper, name, value)
    wrapper.__wrapped__ = original


#: Top-level packages whose calls are not the user's: a fit, score or metric one of them
#: makes (the LabelEncoder ``classification_report`` fits, the KMeans a GaussianMixture
#: starts from, the folds of ``cross_val_predict``) is part of the user's call that made it,
#: and is not recorded, nor is anything it calls (it counts as an autologged call).
LIBRARIES = frozenset(
    {"sklearn", "xgboost", "lightgbm", "imblearn", "scikeras", "keras_tuner"}
    | {"keras", "lightning", "pytorch_lightning", "torch"}
)


#: Code of the libraries' decorators that only pass a call on (scikit-learn's ``set_output``
#: wrapper of ``fit_transform``): their frame is looked through, to whoever called them.
PASS_THROUGH: set[Any] = set()


def internal(frame: Any) -> bool:
    """Whether ``frame`` (the caller of a patched function) is code of one of the
    :data:`LIBRARIES` rather than the user's."""
    while frame is not None and frame.f_code in PASS_THROUGH:
        frame = frame.f_back
    name = frame.f_globals.get("__name__") if frame is not None else None
    return isinstance(name, str) and name.partition(".")[0] in LIBRARIES


#: Wrappers made so far, by what they wrap: they read the open session when called, so one
#: serves every session, and building ~200 of them again would be most of a session's cost.
#: (They keep their originals alive: library functions, which live as long as their module.)
_made: dict[tuple[Any, ...], Any] = {}


class _FunctionWrapper:
    """A module-level function (``accuracy_score``, ``xgboost.train``) while a session is open.

    An object rather than a plain function for one reason: pickling. Pickle saves a function
    by its module and name and checks that this finds the very same object, so a wrapper
    copied somewhere during the cell (``make_scorer(accuracy_score)`` inside a search the user
    later saves with ``joblib.dump``) would fail to pickle once the session has restored the
    original. ``__reduce__`` hands pickle the original instead (``copy.copy`` of a function is
    the function itself), so what is saved never mentions this package and loads anywhere.
    It looks like the original otherwise: name, doc, ``inspect.signature`` (through
    ``__wrapped__``), and it binds like a function when stored on a class.
    """

    def __init__(
        self, original: Callable[..., Any], handler: Callable[..., Any], module: str, name: str
    ) -> None:
        _copy_identity(self, original)
        self.__module__ = module
        self.__qualname__ = name
        self._handler = handler

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        session = _current
        if session is None or session.depth:
            return self.__wrapped__(*args, **kwargs)
        frame = sys._getframe(1)
        if internal(frame):
            return session.call(self.__wrapped__, *args, **kwargs)[0]
        return self._handler(session, self.__wrapped__, args, kwargs, frame)

    def __reduce__(self) -> tuple[Any, ...]:
        return (copy.copy, (self.__wrapped__,))

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)


def function_wrapper(
    original: Callable[..., Any], handler: Callable[..., Any], module: str, name: str
) -> Any:
    """The wrapper of a module-level function, named after the attribute it replaces
    (``sklearn.metrics.accuracy_score``); made once per process (see ``_made``)."""
    key = (original, handler, module, name)
    made = _made.get(key)
    if made is None:
        made = _made[key] = _FunctionWrapper(original, handler, module, name)
    return made


def method_wrapper(original: Callable[..., Any], handler: Callable[..., Any]) -> Any:
    """A method (``fit``, ``score``) while a session is open: a plain function, so it binds
    like the original."""
    key = (original, handler)
    made = _made.get(key)
    if made is not None:
        return made

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        session = _current
        if session is None or session.depth:
            return original(self, *args, **kwargs)
        frame = sys._getframe(1)
        if internal(frame):
            return session.call(original, self, *args, **kwargs)[0]
        return handler(session, original, self, args, kwargs, frame)

    _copy_identity(wrapper, original)
    _made[key] = wrapper
    return wrapper


#: Per set of method handlers, per class: ``(name, what the class's own __dict__ held, its
#: replacement while a session is open)`` for each method a handler wraps (see
#: ``Session._plan_of``). Like the wrappers, made once and reused by every session.
_plans: dict[tuple[Any, ...], dict[type, tuple[tuple[str, Any, Any], ...]]] = {}


def _plan(own: Any, handlers: dict[str, Callable[..., Any]]) -> tuple[tuple[str, Any, Any], ...]:
    """The methods of a class's own ``__dict__`` (``own``) that have a handler, and what
    replaces each while a session is open."""
    plan = []
    for name, handler in handlers.items():
        attr = own.get(name)
        if attr is None:
            continue
        if isinstance(attr, types.FunctionType):
            plan.append((name, attr, method_wrapper(attr, handler)))
        elif isinstance(getattr(attr, "fn", None), types.FunctionType) and hasattr(attr, "check"):
            # scikit-learn's available_if: wrap the function, keep the availability check
            descriptor = copy.copy(attr)
            descriptor.fn = method_wrapper(attr.fn, handler)
            plan.append((name, attr, descriptor))
    return tuple(plan)


class _LoaderProxy:
    """The loader of a watched module: runs the module, puts the real loader back, then
    installs that module's integration."""

    def __init__(self, loader: Any, session: Session, name: str) -> None:
        self._loader = loader
        self._session = session
        self._name = name

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._session.imported(self._name, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PostImportFinder:
    """A ``sys.meta_path`` entry that lets the other finders find a watched module and wraps
    its loader, so its integration is installed as soon as it has been imported."""

    def __init__(self, session: Session, names: Iterable[str]) -> None:
        self.session = session
        self.names = set(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.names:
            return None
        self.names.discard(fullname)
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _LoaderProxy(spec.loader, self.session, fullname)
            return spec
        return None


class Session:
    """The patches of one tracked cell or run, and what they recorded.

    Metrics (scores, search results, training curves) go to the run as they happen; the
    parameters of fitted estimators and their training times are kept until :meth:`end`,
    which names them knowing every estimator class fitted (a prefix only when there are
    several, or when the cell itself already recorded that name).
    """

    def __init__(self, run: Any, namespace: dict[str, Any] | None) -> None:
        self.run = run
        self.namespace = namespace
        #: Nesting of autologged calls in progress (any thread): a call made while one runs
        #: belongs to it (a GridSearchCV's inner fits, the accuracy_score inside score()).
        self.depth = 0
        self._depth_lock = threading.Lock()
        self.closed = False
        self._restored = False
        self._reported = False
        #: (owner, attribute, what its own __dict__ held or _MISSING, what we put there)
        self._patches: list[tuple[Any, str, Any, Any]] = []
        self._patched_classes: set[type] = set()
        #: id(original function) -> its wrapper, for swapping the user's names.
        self._wrappers: dict[int, Any] = {}
        self._wrapper_ids: set[int] = set()
        self._finder: _PostImportFinder | None = None
        self._modules_at_begin = len(sys.modules)
        self._imported_during = False
        #: Per estimator class fitted: its latest parameters, and each fit's duration.
        self.fits: dict[str, dict[str, Any]] = {}
        self.fit_times: list[tuple[str, float]] = []
        #: The estimator whose ``partial_fit`` was recorded last (a loop records it once).
        self.partial_fitted: Any = None
        #: Parameters recorded at the end under the owner's prefix if their name is taken.
        self.extra_params: list[tuple[str, str, Any]] = []
        #: Per metric function, the first-argument names seen, in order.
        self._arguments: dict[str, list[str | None]] = {}
        #: Per class, the hooks run after its outermost fit (xgboost/lightgbm curves).
        self.after_fit: list[Callable[[Session, Any], None]] = []
        self.method_handlers: dict[str, Callable[..., Any]] = {}
        #: The plans of ``_plans`` for these handlers (set when the first class is patched,
        #: after the integrations registered their handlers).
        self._plans: dict[type, tuple[tuple[str, Any, Any], ...]] | None = None

    # lifecycle ---------------------------------------------------------------------------

    def install(self) -> None:
        """Patch the libraries imported already; watch for the others."""
        missing = []
        for name, (module_name, installer) in _INSTALLERS.items():
            module = sys.modules.get(name)
            if module is None:
                missing.append(name)
            else:
                self._install(module_name, installer, module)
        if missing:
            self._finder = _PostImportFinder(self, missing)
            sys.meta_path.insert(0, self._finder)
        self._swap_namespace()

    def _install(self, module_name: str, installer: str, module: Any) -> None:
        integration = importlib.import_module(f"{__package__}.{module_name}")
        getattr(integration, installer)(self, module)

    def imported(self, name: str, module: Any) -> None:
        """A watched module was just imported during the session: patch it now."""
        if self.closed:
            return
        self._imported_during = True
        module_name, installer = _INSTALLERS[name]
        self.guard(self._install, module_name, installer, module)

    def end(self, later: Callable[[Callable[[], None]], None] | None = None) -> None:
        """Close the session, restore every patch still in place, then write the buffered
        params and times. Idempotent; never raises.

        ``later`` (a tracked cell in a kernel: ``api.after_reply``) takes the restoring, to
        run once the kernel has replied to the cell and before it reports idle; meanwhile
        the wrappers, with no session open, call straight through, and a session that
        begins first restores them itself (:func:`begin`)."""
        global _current
        if self.closed:
            return
        self.closed = True
        with _begin_lock:
            if _current is self:
                _current = None
            if later is not None:
                _unrestored.append(self)
        if later is None:
            self.restore()
        else:
            try:
                later(self.restore)
            except Exception:
                self.restore()
        self.guard(self._write)

    def restore(self) -> None:
        """Undo the session's patches, once (see :meth:`end`); never raises."""
        with _begin_lock:
            if self in _unrestored:
                _unrestored.remove(self)
            elif self._restored:
                return
            self._restored = True
        try:
            self._restore()
        except Exception as exc:  # each patch is undone on its own; this is the rest
            self.report(exc)

    def _restore(self) -> None:
        if self._finder is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self._finder)
        for owner, name, before, wrapper in reversed(self._patches):
            try:
                held = owner.__dict__.get(name, _MISSING)
                if held is not wrapper:
                    continue  # rebound since: not ours to undo
                if before is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, before)
            except Exception as exc:
                self.report(exc)
        self._patches.clear()
        wrappers = {id(w): w for w in self._wrappers.values()}
        if not wrappers:
            return
        spaces: list[dict[str, Any]] = []
        if self.namespace is not None:
            spaces.append(self.namespace)
        if self._imported_during:
            # a module imported during the session may have copied a wrapper
            for module in list(sys.modules.values())[self._modules_at_begin :]:
                space = getattr(module, "__dict__", None)
                if isinstance(space, dict):
                    spaces.append(space)
        for space in spaces:
            for key, value in list(space.items()):
                wrapper = wrappers.get(id(value))
                if wrapper is not None and wrapper is value:
                    space[key] = value.__wrapped__

    def _swap_namespace(self) -> None:
        """Names the user bound to a patched function in an earlier cell
        (``from sklearn.metrics import accuracy_score``) call the wrapper during the session."""
        if self.namespace is None or not self._wrappers:
            return
        for key, value in list(self.namespace.items()):
            wrapper = self._wrappers.get(id(value))
            if wrapper is not None and wrapper.__wrapped__ is value:
                self.namespace[key] = wrapper

    # patching ----------------------------------------------------------------------------

    def set_attr(self, owner: Any, name: str, value: Any) -> None:
        """Set ``owner.name`` for the session, remembering what its own ``__dict__`` held."""
        before = owner.__dict__.get(name, _MISSING)
        setattr(owner, name, value)
        self._patches.append((owner, name, before, value))

    def wrap_function(self, module: Any, name: str, handler: Callable[..., Any]) -> None:
        """Route calls of ``module.name`` through ``handler`` for the session."""
        original = module.__dict__.get(name)
        if original is None or id(original) in self._wrapper_ids or not callable(original):
            return
        wrapper = self._wrappers.get(id(original))
        if wrapper is None:
            wrapper = function_wrapper(original, handler, module.__name__, name)
            self._wrappers[id(original)] = wrapper
            self._wrapper_ids.add(id(wrapper))
        self.set_attr(module, name, wrapper)

    def patch_class(self, cls: type) -> None:
        """Wrap the methods ``cls`` defines itself that a handler was registered for."""
        if cls in self._patched_classes:
            return
        self._patched_classes.add(cls)
        self._apply(cls, self._plan_of(cls))

    def _plan_of(self, cls: type) -> tuple[tuple[str, Any, Any], ...]:
        """What the session puts on ``cls``: planned once per class and set of handlers
        (every session of a kernel patches the same ~200 methods, and deciding which is most
        of the cost of patching them), planned again when the class's methods changed."""
        plans = self._plans
        if plans is None:
            plans = self._plans = _plans.setdefault(tuple(self.method_handlers.items()), {})
        plan = plans.get(cls)
        if plan is not None:
            own = cls.__dict__
            for name, held, _ in plan:
                if own.get(name) is not held:
                    plan = None
                    break
        if plan is None:
            plan = plans[cls] = _plan(cls.__dict__, self.method_handlers)
        return plan

    def _apply(self, cls: type, plan: tuple[tuple[str, Any, Any], ...]) -> None:
        for name, held, replacement in plan:
            setattr(cls, name, replacement)
            self._patches.append((cls, name, held, replacement))

    def patch_subclasses(self, base: type) -> None:
        """``base`` and every subclass defined so far."""
        todo = [base]
        seen = {base}
        patched = self._patched_classes
        while todo:
            cls = todo.pop()
            if cls not in patched:
                patched.add(cls)
                plan = self._plan_of(cls)
                if plan:
                    self._apply(cls, plan)
            try:
                subclasses = type.__subclasses__(cls)
            except TypeError:
                continue
            for sub in subclasses:
                if sub not in seen:
                    seen.add(sub)
                    todo.append(sub)

    # calls -------------------------------------------------------------------------------

    def enter(self) -> None:
        with self._depth_lock:
            self.depth += 1

    def leave(self) -> None:
        with self._depth_lock:
            self.depth -= 1

    def call(self, original: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
        """Call ``original`` as an autologged call (whatever it calls is not logged); its
        result and duration. Its exception propagates unchanged."""
        self.enter()
        started = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        finally:
            self.leave()
        return result, time.perf_counter() - started

    def report(self, exc: BaseException) -> None:
        """A logging failure: said once per session on stderr, never raised into the cell."""
        if self._reported:
            return
        self._reported = True
        with contextlib.suppress(Exception):
            print(f"mltrack: autolog: {type(exc).__name__}: {exc}", file=sys.stderr)

    def guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            self.report(exc)
            return None

    # recording ---------------------------------------------------------------------------

    def metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Log ``value`` when it is one finite number."""
        figure = number(value)
        if figure is not None:
            self.run.log_metric(key, figure, step)

    def record_fit(self, owner: str, params: dict[str, Any], seconds: float | None) -> None:
        """The parameters of a fit of ``owner``, and its duration (``None``: not a training
        time, e.g. one ``partial_fit`` batch)."""
        self.fits.pop(owner, None)  # the latest fit decides the order and the values
        self.fits[owner] = {k: param_value(v) for k, v in params.items()}
        if seconds is not None:
            self.fit_times.append((owner, seconds))

    def name_of(self, value: Any, frame: Any) -> str | None:
        """The variable ``value`` is bound to where the call was made (the caller's locals,
        its globals, then the user's namespace), or ``None``."""
        if value is None or isinstance(value, str | bytes | numbers.Number | bool):
            return None  # interned or cached: identity says nothing
        spaces: list[Any] = []
        if frame is not None:
            spaces.append(frame.f_locals)
            if frame.f_globals is not frame.f_locals:
                spaces.append(frame.f_globals)
        if self.namespace is not None and all(s is not self.namespace for s in spaces):
            spaces.append(self.namespace)
        for space in spaces:
            for key, held in space.items():
                if held is value and not key.startswith("_") and key.isidentifier():
                    return key
        return None

    def metric_key(self, function: str, argument: str | None) -> str:
        """``function`` for the first argument it is called with, ``function_<argument>`` for
        each other one (by variable name), so repeated calls on the same data add steps."""
        seen = self._arguments.setdefault(function, [])
        if argument not in seen:
            seen.append(argument)
        if seen[0] == argument:
            return function
        return f"{function}_{argument}" if argument else f"{function}_{seen.index(argument) + 1}"

    def _write(self) -> None:
        taken = set(getattr(self.run, "all_params", None) or ())
        several = len(self.fits) > 1
        params: dict[str, Any] = {}

        def put(owner: str, key: str, value: Any) -> None:
            name = f"{owner}.{key}" if several or key in taken else key
            if name in taken:
                return  # the cell or the user recorded it: never overwritten
            params[name] = value

        for owner, values in self.fits.items():
            for key, value in values.items():
                put(owner, key, value)
        for owner, key, value in self.extra_params:
            put(owner, key, param_value(value))
        if params:
            self.run.log_params(params)
        for owner, seconds in self.fit_times:
            self.run.log_metric(f"{owner}.fit_time" if several else "fit_time", seconds)


def begin(run: Any, namespace: dict[str, Any] | None = None) -> Session | None:
    """Open a session for ``run`` (anything with ``log_metric``/``log_params``); ``None``
    when one is open already (a tracked cell running another) or it could not start."""
    global _current
    with _begin_lock:
        if _current is not None:
            return None
        pending = list(_unrestored)
    for earlier in pending:  # patches whose restoring was left for later: undone first
        earlier.restore()
    with _begin_lock:
        if _current is not None:
            return None
        session = Session(run, namespace)
        _current = session
    try:
        session.install()
    except Exception as exc:
        session.report(exc)
        session.end()
        return None
    return session
