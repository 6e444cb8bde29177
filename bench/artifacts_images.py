"""Benchmark 11, part e: images held in memory, ``mltrack.log_image`` against
``mlflow.log_image``, in the same process, the order alternating. Split from
:mod:`bench.artifacts`, which runs it after part c and reports it.

Two images, made from a seeded RNG so every run logs the same pixels:
- a 1024 x 1024 RGB "photo": smooth gradients with a little noise, which PNG compresses as
  it compresses real pictures (random pixels would not compress at all);
- a 28 x 28 grayscale sample, as a digit of MNIST: the many small images a training loop
  logs, where a call's fixed cost is what counts.

Then a training loop: ``LOOP_STEPS`` different digits logged into one run, one per step,
each call timed (the first call of a fresh store among them): what a loop that logs a sample
image per epoch pays per image once the store and the run are warm. The loop runs twice: each
image under a name of its own (``digits/step007.png``), then as one series, each at its step,
the way both tools offer for it: ``mltrack.log_image(a, "digits", step=i)`` against
``mlflow.log_image(a, key="digits", step=i)``, which writes the image and a WebP thumbnail
(two files a step) and sets a tag. MLflow writes them on a background thread by default: its
calls are timed with ``synchronous=True`` (the files written when the call returns, as ours
are), and the whole loop is timed too, MLflow's by default, until
``mlflow.flush_artifact_async_logging()`` says the images are written (then
``flush_async_logging()``, the run's tag that it has images, which waits for its batch).

Both tools encode PNG with Pillow. Ours also checks the values (0-255 integers here) and
makes the blob durable (fsync) before recording it; MLflow writes the PNG to a temp folder
and copies it into the run's artifacts without fsync. A second log of the same pixels by
another run is timed too: ours stores nothing new (checked), MLflow writes it again. Both
tools' files are decoded and checked equal to the array.
"""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from bench.artifacts import (
    SEED,
    Ours,
    Theirs,
    Timings,
    _row,
    free_disk,
    fsync_tree,
    syncfs,
    timed_call,
)

#: Images a training loop logs into one run, a call timed each.
LOOP_STEPS = 100


def make_images() -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED + 2)
    y, x = np.mgrid[0:1024, 0:1024] / 1024.0
    photo = np.stack([x, y, (x + y) / 2], axis=2) * 200 + rng.normal(0, 6, (1024, 1024, 3))
    digit = np.zeros((28, 28))
    digit[6:22, 12:16] = 1.0  # a "1"
    digit = digit * 230 + rng.normal(0, 10, (28, 28))
    return {
        "photo": np.clip(photo, 0, 255).astype(np.uint8),
        "digit": np.clip(digit, 0, 255).astype(np.uint8),
    }


class _Images(Timings, ABC):
    """Both tools by turns, each turn in a fresh store, the disk freed after each."""

    def __init__(self, ours: Ours, theirs: Theirs, scratch: Path, warmup: int) -> None:
        super().__init__(warmup)
        self.ours, self.theirs, self.scratch = ours, theirs, scratch

    @abstractmethod
    def mine(self) -> None:
        """One turn of ours."""

    @abstractmethod
    def theirs_(self) -> None:
        """One turn of MLflow's."""

    def described(self) -> dict[str, Any]:
        """What the report says of the data, beside the timings."""
        return {}

    def run(self, reps: int) -> dict[str, Any]:
        self.alternate(
            reps, self.mine, self.theirs_, lambda: free_disk(self.scratch, self.ours, self.theirs)
        )
        return {**self.summaries(), "checks": self.checks, **self.described()}


class ImageBench(_Images):
    """One image logged twice (by two runs) by each tool."""

    def __init__(
        self, ours: Ours, theirs: Theirs, scratch: Path, key: str, image: Any, warmup: int
    ) -> None:
        super().__init__(ours, theirs, scratch, warmup)
        self.key, self.image = key, image

    def same_pixels(self, png: bytes) -> bool:
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(png)) as decoded:
            return bool(np.array_equal(np.asarray(decoded), self.image))

    def mine(self) -> None:
        import jupyter_mltrack as mltrack
        from jupyter_mltrack.models.artifacts import read_bytes

        self.ours.fresh_store()
        with self.ours.run():
            first = self.call("ours_first", lambda: mltrack.log_image(self.image, self.key))
        with self.ours.run():
            again = self.call("ours_second", lambda: mltrack.log_image(self.image, self.key))
        self.checks["ours_second_stored_bytes"] = again.meta.get("stored_bytes")
        self.checks["ours_png_bytes"] = first.size
        self.checks["ours_same_pixels"] = self.same_pixels(read_bytes(self.ours.store(), first))

    def theirs_(self) -> None:
        import mlflow

        name = f"{self.key}.png"
        with self.theirs.run() as run_id:
            self.call("mlflow_first", lambda: mlflow.log_image(self.image, name))
        with self.theirs.run():
            self.call("mlflow_second", lambda: mlflow.log_image(self.image, name))
        png = (self.theirs.artifact_dir(run_id) / name).read_bytes()
        self.checks["mlflow_png_bytes"] = len(png)
        self.checks["mlflow_same_pixels"] = self.same_pixels(png)

    def described(self) -> dict[str, Any]:
        return {"shape": list(self.image.shape)}


def loop_images(digit: Any) -> list[Any]:
    """``LOOP_STEPS`` different digits: the same stroke, fresh noise each step."""
    import numpy as np

    rng = np.random.default_rng(SEED + 3)
    noise = rng.integers(-12, 13, (LOOP_STEPS, *digit.shape))
    return [np.clip(digit.astype(int) + n, 0, 255).astype(np.uint8) for n in noise]


class LoopBench(_Images):
    """A training loop's images, into one run: every call of each tool timed."""

    def __init__(
        self, ours: Ours, theirs: Theirs, scratch: Path, images: list[Any], warmup: int
    ) -> None:
        super().__init__(ours, theirs, scratch, warmup)
        self.images = images

    def mine(self) -> None:
        import jupyter_mltrack as mltrack

        self.ours.fresh_store()
        with self.ours.run() as run_id:
            for i, image in enumerate(self.images):
                self.call("ours_loop", lambda i=i, a=image: mltrack.log_image(a, _step(i)))
        self.checks["ours_artifacts"] = len(self.ours.store().list_artifacts(run_id))
        self.ours.fresh_store()  # the same digits: the first loop's blobs would dedup them
        with self.ours.run() as run_id:
            t0 = time.perf_counter()
            for i, image in enumerate(self.images):
                self.call("ours_step", lambda i=i, a=image: mltrack.log_image(a, "digits", step=i))
            self.keep("ours_step_loop", time.perf_counter() - t0)
        steps = self.ours.store().list_artifacts(run_id)
        self.checks["ours_steps"] = sorted(a.meta.get("step") for a in steps) == list(
            range(len(self.images))
        )

    def theirs_(self) -> None:
        import mlflow

        with self.theirs.run() as run_id:
            for i, image in enumerate(self.images):
                seconds, _ = timed_call(lambda i=i, a=image: mlflow.log_image(a, _step(i)))
                # made durable right away, the cheapest way (as parts a and b do)
                copy = self.theirs.artifact_dir(run_id) / _step(i)
                t0 = time.perf_counter()
                if not syncfs(str(copy)):
                    fsync_tree(copy)
                self.keep("mlflow_loop", seconds)
                self.keep("mlflow_loop_durable", seconds + time.perf_counter() - t0)
        self.checks["mlflow_files"] = sum(
            1 for _ in (self.theirs.artifact_dir(run_id) / "digits").iterdir()
        )
        with self.theirs.run() as run_id:
            folder = self.theirs.artifact_dir(run_id) / "images"
            for i, image in enumerate(self.images):
                seconds, _ = timed_call(
                    lambda i=i, a=image: mlflow.log_image(a, key="digits", step=i, synchronous=True)
                )
                t0 = time.perf_counter()  # the step's two new files made durable
                if not syncfs(str(folder)):
                    fsync_tree(folder)
                self.keep("mlflow_step", seconds)
                self.keep("mlflow_step_durable", seconds + time.perf_counter() - t0)
        self.checks["mlflow_step_files"] = sum(1 for _ in folder.iterdir())
        with self.theirs.run() as run_id:  # MLflow's default: written on a background thread
            t0 = time.perf_counter()
            for i, image in enumerate(self.images):
                mlflow.log_image(image, key="digits", step=i)
            mlflow.flush_artifact_async_logging()  # the images written
            self.keep("mlflow_step_async_loop", time.perf_counter() - t0)
            mlflow.flush_async_logging()  # and the run's tag that says it has images
            self.keep("mlflow_step_async_all", time.perf_counter() - t0)
        folder = self.theirs.artifact_dir(run_id) / "images"
        self.checks["mlflow_async_files"] = sum(1 for _ in folder.iterdir())

    def described(self) -> dict[str, Any]:
        return {"steps": len(self.images)}


def _step(i: int) -> str:
    return f"digits/step{i:03}.png"


def bench_images(ours: Ours, theirs: Theirs, scratch: Path, p: dict[str, Any]) -> dict[str, Any]:
    images = make_images()
    out: dict[str, Any] = {
        key: ImageBench(ours, theirs, scratch, key, image, p["warmup"]).run(p["image_reps"])
        for key, image in images.items()
    }
    loop = loop_images(images["digit"])[: p.get("loop_steps", LOOP_STEPS)]
    out["loop"] = LoopBench(ours, theirs, scratch, loop, p["warmup"]).run(p["loop_reps"])
    return out


def image_rows(r: dict[str, Any], reps: int) -> list[str]:
    lines = [f"   e. images held in memory (log_image; median / p90 of {reps})"]
    for key, m in r.items():
        if key == "loop":
            continue
        c = m["checks"]
        shape = " x ".join(str(n) for n in m["shape"])
        lines += [
            f"   {key}: a {shape} uint8 array; PNG ours {c['ours_png_bytes']:,} bytes, MLflow"
            f" {c['mlflow_png_bytes']:,}; pixels read back equal: ours {c['ours_same_pixels']},"
            f" MLflow {c['mlflow_same_pixels']}",
            _row("ours  mltrack.log_image(array, name) [fsync]", m, "ours_first"),
            _row(
                "MLflow mlflow.log_image(array, name) [no fsync]", m, "mlflow_first", "ours_first"
            ),
            _row(
                f"ours  the same pixels by another run ({c['ours_second_stored_bytes']} bytes"
                " stored)",
                m,
                "ours_second",
            ),
            _row("MLflow the same, again", m, "mlflow_second", "ours_second"),
        ]
    if "loop" in r:
        m, c = r["loop"], r["loop"]["checks"]
        calls = len(m["ours_loop"]["runs_s"])
        lines += [
            f"   training loop: {m['steps']} different 28 x 28 digits logged into one run, every"
            f" call timed (median / p90 of {calls} calls); kept: ours {c['ours_artifacts']},"
            f" MLflow {c['mlflow_files']}",
            _row("ours  mltrack.log_image(array, f'digits/step{i}.png') [fsync]", m, "ours_loop"),
            _row("MLflow mlflow.log_image(array, ...) [no fsync]", m, "mlflow_loop", "ours_loop"),
            _row(
                "MLflow, then each copy made durable (one syncfs)",
                m,
                "mlflow_loop_durable",
                "ours_loop",
            ),
            f"   the same loop as one series (every step kept: ours {c['ours_steps']}; MLflow"
            f" {c['mlflow_step_files']} files, {c['mlflow_async_files']} by default)",
            _row("ours  mltrack.log_image(array, 'digits', step=i) [fsync]", m, "ours_step"),
            _row(
                "MLflow mlflow.log_image(array, key='digits', step=i) [no fsync]",
                m,
                "mlflow_step",
                "ours_step",
            ),
            _row(
                "MLflow, then the step's files made durable (one syncfs)",
                m,
                "mlflow_step_durable",
                "ours_step",
            ),
            f"   the whole loop of {m['steps']} steps (median of {len(m['ours_step_loop']['runs_s'])})",
            _row("ours  every step durable when its call returns", m, "ours_step_loop"),
            _row(
                "MLflow default (a background thread), images flushed [no fsync]",
                m,
                "mlflow_step_async_loop",
                "ours_step_loop",
            ),
            _row(
                "MLflow default, its tag flushed too (the run's 'has images')",
                m,
                "mlflow_step_async_all",
                "ours_step_loop",
            ),
        ]
    return lines


if __name__ == "__main__":
    import argparse
    import shutil

    from bench.artifacts import FULL, QUICK
    from bench.common import isolate

    parser = argparse.ArgumentParser(description="benchmark 11, part e alone (about a minute)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions, 20 loop images")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    root = isolate() / "artifacts"
    root.mkdir(parents=True)
    try:
        result = bench_images(Ours(root / "ours"), Theirs(root / "mlflow"), root / "scratch", sizes)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    print("\n".join(image_rows(result, sizes["image_reps"])))
