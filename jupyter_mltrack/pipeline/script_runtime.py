"""The fixed text the exported script carries besides the notebook's code: ``run()``, the
``_Tracker`` recorder that stands in for ``mltrack``, ``restore_rng`` and the ``__main__``
command line. Plain template strings (``_RUN`` is ``str.format``-ed by :func:`.codegen.generate`),
kept apart so the generator's logic reads without 300 lines of embedded script.
"""

from __future__ import annotations

_RUN = '''

def run(**params) -> dict:
    """Run the pipeline; returns the targets by name. Keyword arguments override PARAMS."""
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise TypeError(f"unknown parameter(s): {{', '.join(sorted(unknown))}}")
    import copy

    # a fresh copy each call: the steps may change a parameter's list or dict in place
    values = copy.deepcopy({{**PARAMS, **params}})
    globals().update(values)
    mltrack.start(values)
    try:
{calls}    except BaseException as exc:
        mltrack.end("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    mltrack.end("finished")
    return {results}
'''

_TRACKER = '''

class _Tracker:
    """``mltrack`` in the notebook's code: collects the metrics it logs (what ``run()``
    returns) and, when jupyter_mltrack is installed, records the pipeline's run in its store
    (source ``pipeline``, linked to the notebook's run). Without it the pipeline still runs."""

    def __init__(self) -> None:
        self.metrics: dict = {}
        self.params: dict = {}
        self.active = None
        self.capture = None
        self.autolog = None

    def start(self, params: dict) -> None:
        self.metrics = {}
        self.params = dict(params)
        try:
            from jupyter_mltrack.capture.api import start_pipeline_run
        except ImportError:
            return
        self.active = start_pipeline_run(EXPERIMENT, params, PARENT_RUN, ORIGIN)

    def end(self, status: str) -> None:
        if self.autolog is not None:  # restores its patches; logs the fits' params and times
            self.autolog.end()
            self.autolog = None
        if self.capture is not None:
            self.capture.end(globals())
            self.capture = None
        if self.active is not None:
            from jupyter_mltrack.capture.api import wait_pending

            self.active.end(status)
            self.active = None
            wait_pending()

    def cell_begins(self, autolog: bool = True) -> None:
        """The run's own cell starts: from here autolog records its fits and scores into
        this tracker (what ``run()`` returns) and the pipeline's run, as ``%%track`` did in
        the notebook. Under ``mltrack reproduce`` (which asks for it in the environment),
        what it prints and the values it binds are recorded to be compared with the run's."""
        try:
            from jupyter_mltrack import autolog as autologging
            from jupyter_mltrack.capture.results import CellCapture
        except ImportError:
            return
        if autolog and self.autolog is None:
            self.autolog = autologging.begin(self, globals())  # never raises
        self.capture = CellCapture.from_environment()
        if self.capture is not None:
            self.capture.begin(globals())

    def show(self, value):
        """The value the notebook's cell displayed last (recorded under reproduce)."""
        if self.capture is not None:
            self.capture.result(value)
        return value

    @property
    def all_params(self) -> dict:
        """The run's params so far (autolog never overwrites one)."""
        return self.active.all_params if self.active is not None else self.params

    def log_metric(self, key, value, step=None) -> None:
        self.metrics[key] = value
        if self.active is not None:  # to the innermost open run, as in the notebook
            from jupyter_mltrack import log_metric

            log_metric(key, value, step)

    def log_metrics(self, metrics, step=None) -> None:
        for key, value in dict(metrics).items():
            self.log_metric(key, value, step)

    def log_params(self, params=None, **kwargs) -> None:
        values = {**(params or {}), **kwargs}
        self.params.update(values)
        if self.active is not None:
            from jupyter_mltrack import log_params

            log_params(values)

    def set_tags(self, tags=None, **kwargs) -> None:
        if self.active is not None:
            from jupyter_mltrack import set_tags

            set_tags({**(tags or {}), **kwargs})

    def log_model(self, model, name="model", *, register=None, run=None, **kwargs):
        """The model, logged into the pipeline's run as the notebook logged it into its own
        (``mltrack reproduce`` compares its predictions on the recorded example rows with the
        original's). ``register=`` is dropped: a pipeline, and every reproduction of it,
        would otherwise add a registry version each time it runs; register the model you
        trust with ``mltrack models register``. ``run=`` is dropped too: the notebook's run
        keeps its own model. Skipped (``None``) when the pipeline records no run."""
        return self._artifact("log_model", model, name, **kwargs)

    def log_artifact(self, path, name=None, *, run=None):
        return self._artifact("log_artifact", path, name)

    def log_text(self, text, name, *, run=None):
        return self._artifact("log_text", text, name)

    def log_dict(self, obj, name, *, run=None):
        return self._artifact("log_dict", obj, name)

    def log_figure(self, fig, name, *, step=None, run=None):
        return self._artifact("log_figure", fig, name, step=step)

    def log_image(self, image, name, *, step=None, run=None):
        return self._artifact("log_image", image, name, step=step)

    def log_table(self, data, name, *, key=None, run=None):
        return self._artifact("log_table", data, name, key=key)

    def _artifact(self, function, *args, **kwargs):
        """Log through jupyter_mltrack into the innermost open run (the pipeline's, or one
        the notebook's code opened in it), as the notebook did. Nothing, and no error,
        without a store (jupyter_mltrack missing, or no store could be opened); a store
        that cannot take it now skips it, saying so, as a pipeline must run anyway."""
        if self.active is None:
            return None
        import jupyter_mltrack
        from jupyter_mltrack.store.errors import reason, unavailable

        try:
            self.active.store.blobs  # where its files go: a store may have none configured
        except Exception as exc:
            return self._not_recorded(function, args, reason(exc))
        try:
            return getattr(jupyter_mltrack, function)(*args, **kwargs)
        except Exception as exc:
            if not unavailable(exc):  # the store is there: a real error, the notebook's too
                raise
            return self._not_recorded(function, args, reason(exc))

    @staticmethod
    def _not_recorded(function, args, why) -> None:
        import sys

        what = args[1] if args[1] is not None else args[0]  # its name, or the path
        print(f"pipeline: {function} {what!r} not recorded ({why})", file=sys.stderr)

    def register_model(self, *args, **kwargs):
        """Not done by a pipeline: its runs (reproductions among them) leave the registry
        as it is; register the model you trust with ``mltrack models register``."""
        return None

    def set_alias(self, *args, **kwargs):
        """Not done by a pipeline: a reproduction must not move ``production``."""
        return None

    def delete_alias(self, *args, **kwargs):
        """Not done by a pipeline (see :meth:`set_alias`)."""
        return None

    def delete_model(self, *args, **kwargs):
        """Not done by a pipeline (see :meth:`set_alias`): running it must not take a
        model out of the registry."""
        return None

    def describe_model(self, *args, **kwargs):
        """Not done by a pipeline (see :meth:`set_alias`): a reproduction must not rewrite
        what a team wrote of a model or a version (``validation=passed``)."""
        return None

    set_model_tag = delete_model_tag = describe_model
    set_model_version_tag = delete_model_version_tag = describe_model

    def start_run(self, *args, **kwargs):
        """A run the notebook opened itself: here a child of the pipeline's run."""
        import jupyter_mltrack

        kwargs.setdefault("source", "pipeline")
        if self.active is not None:
            kwargs.setdefault("parent_run_id", self.active.id)
            kwargs.setdefault("experiment", self.active.run.experiment)
        return jupyter_mltrack.start_run(*args, **kwargs)

    def __getattr__(self, name):
        import jupyter_mltrack

        return getattr(jupyter_mltrack, name)


mltrack = _Tracker()


def _file_digest(path) -> str:
    import xxhash

    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return "xxh3-128:" + digest.hexdigest()


def check_inputs(strict: bool = False) -> list:
    """Compare the files the notebook read with the snapshots its run recorded."""
    import sys

    changed = []
    for path, expected in INPUT_FILES.items():
        try:
            found = _file_digest(path)
        except ImportError:
            print("pipeline: xxhash is not installed: input files are not checked", file=sys.stderr)
            return changed
        except OSError as exc:
            found = f"unreadable ({exc.strerror})"
        if found != expected:
            changed.append(path)
            print(
                f"pipeline: {path} differs from the data the notebook read "
                f"(snapshot {expected}, now {found}); rerun with --from-snapshots to use it",
                file=sys.stderr,
            )
    if changed and strict:
        raise SystemExit(f"pipeline: {len(changed)} input file(s) changed")
    return changed


def restore_inputs(folder) -> None:
    """Put the snapshotted input files at their paths under ``folder`` and work there.

    A relative path keeps its place relative to the working folder, ``..`` included: the
    script works in a subfolder of ``folder`` deep enough for it. A file read by absolute
    path is outside ``folder`` and is never written: it is used as it is when it holds the
    snapshotted bytes, else the run stops saying how to restore it, rather than overwriting
    the user's file with old data."""
    import os
    from pathlib import Path

    from jupyter_mltrack import load_snapshot

    root = Path(folder).resolve()
    ups = [
        len(parts) - len([p for p in parts if p != ".."])
        for parts in (Path(os.path.normpath(p)).parts for p in INPUT_FILES if not os.path.isabs(p))
    ]
    work = root.joinpath(*["work"] * max(ups, default=0))
    work.mkdir(parents=True, exist_ok=True)
    outside = []
    for path, digest in INPUT_FILES.items():
        if os.path.isabs(path):
            try:
                same = _file_digest(path) == digest
            except (OSError, ImportError):  # unreadable, or xxhash missing: not known same
                same = False
            if not same:
                outside.append((path, digest))
            continue
        target = (work / path).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(load_snapshot(digest)).read_bytes())
    if outside:
        raise SystemExit(
            "pipeline: --from-snapshots does not overwrite files outside the folder it works"
            " in, and these differ from the data the notebook read: "
            + "; ".join(
                f"{path} (mltrack snapshots restore {digest} -o {path} --force)"
                for path, digest in outside
            )
        )
    os.chdir(work)
'''

_RESTORE_RNG = '''

def restore_rng(index: int) -> None:
    """Put a global random generator in the state the notebook's kernel had before a
    statement that drew from it unseeded: entry ``index`` of rng_state.json, beside this
    file. The notebook's draws came from the OS's entropy; this gives the same values."""
    import json
    from pathlib import Path

    states = json.loads(Path(__file__).with_name("rng_state.json").read_text())
    state = states[index]
    if state["stream"] == "numpy":
        import numpy

        key = numpy.array(state["key"], dtype=numpy.uint32)
        numpy.random.set_state(("MT19937", key, state["pos"], state["has_gauss"], state["gauss"]))
    else:
        import random

        random.setstate((3, (*state["key"], state["pos"]), state["gauss_next"]))
'''

_MAIN = """

def _parse(text, default):
    import json

    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, str):
        return text
    return json.loads(text)


def _load_params(path) -> dict:
    import json
    from pathlib import Path

    values = {}
    if not Path(path).is_file():
        return values
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, raw = line.partition(":")
        try:
            values[key.strip()] = json.loads(raw.strip())
        except ValueError:
            values[key.strip()] = raw.strip()
    return values


def _jsonable(value):
    # numbers of any kind (numpy's included) as numbers; anything else as its repr
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)


def main(argv=None) -> dict:
    import argparse
    import json
    from pathlib import Path

    here = Path(__file__).resolve().parent
    defaults = {**PARAMS, **_load_params(here / "params.yaml")}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in defaults.items():
        parser.add_argument(f"--{name}", default=value, type=lambda t, d=value: _parse(t, d))
    parser.add_argument(
        "--from-snapshots",
        action="store_true",
        help="run on the snapshotted input files instead of the current ones",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = vars(parser.parse_args(argv))
    from_snapshots, out = args.pop("from_snapshots"), args.pop("json")
    if INPUT_FILES:
        if from_snapshots:
            import tempfile

            restore_inputs(tempfile.mkdtemp(prefix="pipeline-inputs-"))
        else:
            check_inputs()
    results = run(**{k: v for k, v in args.items() if k in PARAMS})
    if out:
        Path(out).write_text(json.dumps(results, default=_jsonable, indent=2))
    for key, value in results.items():
        print(f"{key}: {value!r}"[:200])
    return results


if __name__ == "__main__":
    main()
"""
