"""Turning an image held in memory into the PNG (or JPEG) file of an artifact.

``log_image`` takes what MLflow's ``log_image`` and W&B's ``Image`` take: a NumPy array (a
sample from a dataset, a generated picture, a saliency map), a PIL image, or anything NumPy
can read as an array (a PyTorch tensor on the CPU or a GPU, channels first as torchvision
gives them). The array's values are checked rather than guessed at: integers must be 0-255
and floats 0-1 (MLflow's rule), so an image of 0-255 floats is refused with how to fix it
instead of being stored white. Pillow encodes it; its PNG holds no time or version, so the
same pixels give the same bytes and are stored once.
"""

from __future__ import annotations

import io
from typing import Any

from .artifacts import ArtifactError, Source
from .figures import split_extension

#: Extension -> (Pillow's format, media type). PNG is the default: lossless.
FORMATS = {
    "png": ("PNG", "image/png"),
    "jpg": ("JPEG", "image/jpeg"),
    "jpeg": ("JPEG", "image/jpeg"),
}
#: Pillow mode by the number of channels.
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
#: JPEG keeps quality this high (Pillow's default, 75, blurs small images visibly).
JPEG_QUALITY = 95


def image_source(image: Any, name: str) -> tuple[Source, str, dict[str, Any]]:
    """``(source, media type, meta)`` for ``image`` logged as ``name``: ``digits`` is kept
    as ``digits.png``, ``digits.jpg`` as a JPEG; another extension is refused."""
    stem, ext = split_extension(name)
    ext = ext.lower() or "png"
    if ext not in FORMATS:
        raise ArtifactError(
            f"an image cannot be saved as .{ext} ({name!r}): end the name with .png or .jpg,"
            " or give it no extension (no dot) to keep it as .png"
        )
    fmt, media = FORMATS[ext]
    picture, meta = _as_pil(image)
    if fmt == "JPEG" and picture.mode in ("RGBA", "LA", "PA"):
        raise ArtifactError(
            f"JPEG keeps no transparency, and this image is {picture.mode} ({name!r}): name"
            " it .png, or drop its alpha channel first"
        )
    buf = io.BytesIO()
    try:
        picture.save(buf, format=fmt, **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {}))
    except (OSError, ValueError) as exc:  # a mode the format cannot hold (CMYK as PNG, …)
        raise ArtifactError(f"the image could not be saved as {fmt}: {exc}") from None
    meta.update(width=picture.width, height=picture.height, mode=picture.mode, format=ext)
    return Source(f"{stem}.{ext}", data=buf.getvalue()), media, meta


def _as_pil(image: Any) -> tuple[Any, dict[str, Any]]:
    """``image`` as a PIL image, with where it came from."""
    try:
        from PIL import Image
    except ImportError:
        raise ArtifactError(
            "log_image needs Pillow to encode images: pip install pillow (matplotlib"
            " installs it too)"
        ) from None
    if isinstance(image, Image.Image):
        return image, {"source": "PIL"}
    source = _library(image)
    array = _as_array(image)
    channels_first = _channels_first(array)
    if channels_first:
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    array = _as_bytes(array)
    mode = _MODES[1 if array.ndim == 2 else array.shape[2]]
    return Image.fromarray(array, mode=mode), {"source": source, "channels_first": channels_first}


def _library(image: Any) -> str:
    module = type(image).__module__.partition(".")[0]
    return module if module in ("numpy", "torch", "tensorflow", "jax", "jaxlib") else "array"


def _as_array(image: Any) -> Any:
    """``image`` as a NumPy array of 2 or 3 dimensions (a tensor on a GPU is copied out)."""
    import numpy as np

    if hasattr(image, "detach") and hasattr(image, "cpu"):  # a PyTorch tensor
        image = image.detach().cpu()
    try:
        array = np.asarray(image)
    except Exception as exc:
        raise ArtifactError(
            f"log_image takes a NumPy array, a PIL image or a tensor, not "
            f"{type(image).__module__}.{type(image).__qualname__} ({exc})"
        ) from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise ArtifactError(
            f"log_image takes an array of numbers, not of {array.dtype} (from "
            f"{type(image).__module__}.{type(image).__qualname__}; for a figure use"
            " log_figure, for a file already written log_artifact)"
        )
    shaped = array.ndim == 2 or (array.ndim == 3 and _channels(array) is not None)
    if not shaped or array.size == 0:
        raise ArtifactError(
            f"an image is HEIGHT x WIDTH, with 1, 3 (RGB) or 4 (RGBA) channels last or"
            f" first; this array's shape is {array.shape}"
        )
    return array


def _channels(array: Any) -> int | None:
    """The channel count of a 3-D array, last or first; ``None`` if neither fits."""
    if array.shape[2] in _MODES:
        return int(array.shape[2])
    if array.shape[0] in _MODES:
        return int(array.shape[0])
    return None


def _channels_first(array: Any) -> bool:
    """(C, H, W), as torchvision and PyTorch give images: channels first when only the
    first dimension can be a channel count (a 3 x 64 x 64 tensor, not a 64 x 64 x 3 array;
    a 3 x 3 x 3 array is read channels last, as NumPy code means it)."""
    return array.ndim == 3 and array.shape[2] not in _MODES and array.shape[0] in _MODES


def _as_bytes(array: Any) -> Any:
    """8-bit pixels: booleans as black and white, integers as they are (0-255), floats
    scaled from 0-1. Values outside those ranges are refused, saying how to bring them in."""
    import numpy as np

    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            raise ArtifactError(
                f"the image holds {int(array.size - finite.sum()):,} NaN or infinite"
                " value(s): replace them first, e.g. np.nan_to_num(image)"
            )
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            hint = (
                " (it looks like 0-255 values: divide by 255)"
                if low >= 0 and high <= 255
                else ": rescale it, e.g. (a - a.min()) / (a.max() - a.min())"
            )
            raise ArtifactError(
                f"a float image's values must be within 0-1; this one spans {low:g} to"
                f" {high:g}{hint}"
            )
        return np.rint(array * 255).astype(np.uint8)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 255:
        raise ArtifactError(
            f"an integer image's values must be within 0-255; this one spans {low} to {high}:"
            " rescale it, e.g. (a / a.max() * 255).astype('uint8')"
        )
    return np.ascontiguousarray(array, dtype=np.uint8)
