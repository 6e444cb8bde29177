"""``mltrack.log_image``: images held in memory (NumPy arrays, PIL images, PyTorch tensors)
kept as PNG or JPEG artifacts, as MLflow's ``log_image`` and W&B's ``Image`` take them.
Every image is decoded back and compared pixel by pixel; values outside what an image holds
are refused with how to fix them, and nothing is recorded then."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import jupyter_mltrack as mltrack
from jupyter_mltrack.compare.artifacts import view_of
from jupyter_mltrack.models import artifacts
from jupyter_mltrack.models.artifacts import ArtifactError
from jupyter_mltrack.models.preview import preview
from jupyter_mltrack.store import Store


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


def _pixels(st: Store, run_id: str, name: str) -> tuple[np.ndarray, str, str]:
    """The artifact's image decoded: its pixels, Pillow's mode and the file's name."""
    art = st.get_artifact(run_id, name)
    (f,) = art.files
    with Image.open(io.BytesIO(artifacts.read_bytes(st, art))) as img:
        return np.asarray(img), img.mode, f.path


def test_arrays_of_every_kind_read_back_pixel_for_pixel(api_store: Store) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    gray = rng.random((8, 8))
    mask = rng.random((4, 9)) > 0.5
    ints = rng.integers(0, 256, (3, 4), dtype=np.int64)
    with mltrack.start_run() as run:
        art = mltrack.log_image(rgb, "samples/rgb")
        mltrack.log_image(rgba, "rgba")
        mltrack.log_image(gray, "gray")
        mltrack.log_image(mask, "mask")
        mltrack.log_image(ints, "ints")
        mltrack.log_image(gray[:, :, None], "gray1")  # (H, W, 1) is grayscale
    assert art.kind == "file" and art.media_type == "image/png"
    assert art.meta["width"] == 20 and art.meta["height"] == 12
    assert (art.meta["mode"], art.meta["source"], art.meta["channels_first"]) == (
        "RGB",
        "numpy",
        False,
    )
    pixels, mode, path = _pixels(api_store, run.id, "samples/rgb")
    assert (mode, path) == ("RGB", "rgb.png") and np.array_equal(pixels, rgb)
    pixels, mode, _ = _pixels(api_store, run.id, "rgba")
    assert mode == "RGBA" and np.array_equal(pixels, rgba)
    pixels, mode, _ = _pixels(api_store, run.id, "gray")
    assert mode == "L" and np.array_equal(pixels, np.rint(gray * 255).astype(np.uint8))
    assert np.array_equal(_pixels(api_store, run.id, "gray1")[0], pixels)
    assert np.array_equal(_pixels(api_store, run.id, "mask")[0], mask.astype(np.uint8) * 255)
    assert np.array_equal(_pixels(api_store, run.id, "ints")[0], ints.astype(np.uint8))


def test_a_tensor_channels_first_and_a_pil_image(api_store: Store) -> None:
    torch = pytest.importorskip("torch")
    chw = torch.rand(3, 16, 10)  # as torchvision gives an image: C x H x W, floats 0-1
    expected = np.rint(chw.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    square = np.zeros((3, 3, 3), dtype=np.uint8)  # channels last, as NumPy code means it
    square[0, 1, 2] = 200
    pil = Image.new("RGBA", (7, 5), (10, 20, 30, 128))
    with mltrack.start_run() as run:
        art = mltrack.log_image(chw.requires_grad_(), "tensor")  # detached for it
        mltrack.log_image(square, "square")
        mltrack.log_image(pil, "pil")
    assert art.meta["source"] == "torch" and art.meta["channels_first"] is True
    pixels, mode, _ = _pixels(api_store, run.id, "tensor")
    assert mode == "RGB" and pixels.shape == (16, 10, 3) and np.array_equal(pixels, expected)
    assert np.array_equal(_pixels(api_store, run.id, "square")[0], square)
    pixels, mode, _ = _pixels(api_store, run.id, "pil")
    assert mode == "RGBA" and np.array_equal(pixels, np.asarray(pil))


def test_jpeg_by_name_and_what_it_cannot_keep(api_store: Store) -> None:
    rgb = np.full((10, 10, 3), (200, 40, 90), dtype=np.uint8)
    with mltrack.start_run() as run:
        art = mltrack.log_image(rgb, "photo.jpg")
        with pytest.raises(ArtifactError, match="JPEG keeps no transparency, and this image"):
            mltrack.log_image(np.zeros((4, 4, 4), dtype=np.uint8), "alpha.jpeg")
        with pytest.raises(ArtifactError, match=r"cannot be saved as \.gif"):
            mltrack.log_image(rgb, "anim.gif")
        # a mode one format takes and the other not: Pillow's refusal, said as ours
        cmyk = Image.new("CMYK", (4, 4), (0, 50, 100, 0))
        mltrack.log_image(cmyk, "print.jpg")
        with pytest.raises(
            ArtifactError, match="could not be saved as PNG: cannot write mode CMYK"
        ):
            mltrack.log_image(cmyk, "print")
    assert art.media_type == "image/jpeg" and art.files[0].path == "photo.jpg"
    pixels, mode, _ = _pixels(api_store, run.id, "photo.jpg")
    assert mode == "RGB" and np.abs(pixels.astype(int) - rgb).max() <= 2  # lossy, but close
    assert sorted(a.name for a in api_store.list_artifacts(run.id)) == ["photo.jpg", "print.jpg"]


def test_the_same_pixels_are_stored_once(api_store: Store) -> None:
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with mltrack.start_run():
        first = mltrack.log_image(image, "a")
    with mltrack.start_run():
        again = mltrack.log_image(image.copy(), "a")
    assert first.meta["stored_bytes"] > 0 and again.meta["stored_bytes"] == 0
    assert first.files[0].digest == again.files[0].digest


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((4, 4), 128.0), "spans 128 to 128 (it looks like 0-255 values: divide by 255)"),
        (np.array([[-1.0, 2.0]]), "spans -1 to 2: rescale it"),
        (np.array([[0.5, np.nan]]), "holds 1 NaN or infinite value(s)"),
        (np.array([[0, 300]]), "an integer image's values must be within 0-255; this one spans 0"),
        (np.zeros(5), "this array's shape is (5,)"),
        (np.zeros((2, 2, 2)), "this array's shape is (2, 2, 2)"),
        (np.zeros((0, 4)), "this array's shape is (0, 4)"),
        (np.array([["a"]]), "an array of numbers, not of <U1"),
        ("picture.png", "an array of numbers, not of <U11"),
    ],
    ids=[
        "0-255 floats",
        "floats out of range",
        "nan",
        "ints over 255",
        "1-D",
        "2 channels",
        "empty",
        "strings",
        "a path",
    ],
)
def test_what_is_no_image_is_refused_saying_how_to_fix_it(
    api_store: Store, image: object, message: str
) -> None:
    with mltrack.start_run() as run, pytest.raises(ArtifactError) as refused:
        mltrack.log_image(image, "x")
    assert message in str(refused.value)
    assert api_store.list_artifacts(run.id) == []


def test_an_image_previews_and_compares_as_an_image(api_store: Store) -> None:
    with mltrack.start_run() as run:
        art = mltrack.log_image(np.eye(8), "identity")
    shown = preview(api_store, art)
    assert list(shown["bundle"]) == ["image/png"]
    assert view_of(api_store.get_artifact(run.id, "identity")) == "image"
