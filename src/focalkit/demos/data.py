"""Data for the demos: long-tailed digits and MNIST, and seeded synthetic images.

Nothing here downloads anything: the digits ship with scikit-learn, MNIST is read from IDX
files the user already has, and the segmentation and detection images are generated in memory.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import DemoError

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
               0x0E: ">f8"}


@dataclass
class Split:
    """A long-tailed training set and a balanced test set, features scaled to [0, 1].

    Attributes:
        x_train: float32 array ``(n_train, features)``.
        y_train: int64 array ``(n_train,)``.
        x_test: float32 array ``(n_test, features)``.
        y_test: int64 array ``(n_test,)``.
        num_classes: number of classes C.
        name: a short description of the data.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    name: str

    @property
    def train_counts(self) -> list[int]:
        """Training images per class."""
        return np.bincount(self.y_train, minlength=self.num_classes).tolist()

    @property
    def test_counts(self) -> list[int]:
        """Test images per class."""
        return np.bincount(self.y_test, minlength=self.num_classes).tolist()


def long_tail_counts(n_max: int, num_classes: int, rho: float) -> list[int]:
    r"""Images kept per class for an exponential long tail with imbalance ratio ``rho``.

    .. math::
        n_k = \max\bigl(1, \operatorname{round}(n_\text{max}\,\rho^{-k/(C-1)})\bigr)

    Args:
        n_max: images of class 0, the most frequent.
        num_classes: C, at least 2.
        rho: ratio of the most to the least frequent class, ``>= 1``.

    Returns:
        list[int]: one count per class, non-increasing.

    Example:
        >>> from focalkit.demos.data import long_tail_counts
        >>> long_tail_counts(100, 3, 100.0)
        [100, 10, 1]
        >>> long_tail_counts(7, 4, 1.0)  # rho = 1 keeps the data balanced
        [7, 7, 7, 7]
    """
    return [max(1, round(n_max * rho ** (-k / (num_classes - 1)))) for k in range(num_classes)]


def _split_long_tail(x: np.ndarray, y: np.ndarray, num_classes: int, rho: float,
                     test_per_class: int | None, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a long-tailed training subset and of a balanced test subset of ``(x, y)``.

    With ``test_per_class`` None, every index is a training candidate and the test indices are
    empty; otherwise that many images of each class are held out first.
    """
    by_class = [rng.permutation(np.flatnonzero(y == k)) for k in range(num_classes)]
    if any(len(idx) == 0 for idx in by_class):
        empty = [k for k, idx in enumerate(by_class) if len(idx) == 0]
        raise DemoError(f"the data has no images of class(es) {empty}", status=2)
    held = 0 if test_per_class is None else test_per_class
    n_max = min(len(idx) for idx in by_class) - held
    if n_max < 1:
        raise DemoError(f"too few images per class ({n_max + held}) to hold out {held} per "
                        f"class for testing", status=2)
    counts = long_tail_counts(n_max, num_classes, rho)
    train = np.concatenate([idx[held:held + n] for idx, n in zip(by_class, counts, strict=True)])
    test = np.concatenate([idx[:held] for idx in by_class])
    return rng.permutation(train), test, np.asarray(counts)


def load_digits_long_tail(rho: float, seed: int, test_per_class: int = 40) -> Split:
    """scikit-learn's 8x8 handwritten digits, long-tailed, with a balanced test split.

    ``test_per_class`` images of every digit are held out for testing; of the rest, digit k
    keeps ``long_tail_counts(n_max, 10, rho)[k]`` images, n_max being the smallest number left
    in any class.

    Args:
        rho: imbalance ratio ``>= 1``.
        seed: seed of the random choice of images.
        test_per_class: held-out images per class. Default: 40.

    Returns:
        Split: pixels scaled from 0..16 to [0, 1].
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    train, test, _ = _split_long_tail(x, y, 10, rho, test_per_class, rng)
    return Split(x[train], y[train], x[test], y[test], 10,
                 f"scikit-learn digits (8x8), long-tailed rho={rho:g}")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed when the name ends in ``.gz``.

    Args:
        path: the file.

    Returns:
        np.ndarray: the array with the shape and dtype stored in the header.

    Raises:
        DemoError: (status 2) if the file is missing, is not IDX, or is truncated.

    Example:
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> from focalkit.demos.data import read_idx, write_idx
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x-idx3-ubyte.gz"
        >>> array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
        >>> write_idx(path, array)
        >>> np.array_equal(read_idx(path), array)
        True
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DemoError(f"file not found: {path}", status=2) from None
    except (OSError, EOFError) as err:
        raise DemoError(f"cannot read {path}: {err}", status=2) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DemoError(f"{path} is not an IDX file (bad magic number)", status=2)
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DemoError(f"{path} is truncated (incomplete IDX header)", status=2)
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    size = math.prod(shape)
    if len(raw) - header < size * dtype.itemsize:
        raise DemoError(f"{path} is truncated: the header promises shape {shape}",
                         status=2)
    return np.frombuffer(raw, dtype=dtype, count=size, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in ``.gz``).

    Args:
        path: the file to write.
        array: a uint8 array of at most 255 dimensions.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def find_mnist_file(data_dir: str | Path, stem: str) -> Path:
    """The path of ``stem`` or ``stem.gz`` in ``data_dir``.

    Raises:
        DemoError: (status 2) naming the file that is missing.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DemoError(f"--data-dir {str(data_dir)!r} is not a directory", status=2)
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    raise DemoError(f"MNIST file missing: {data_dir / stem} (or {stem}.gz); focalkit never "
                    f"downloads data, put the four MNIST IDX files in --data-dir", status=2)


def load_mnist_long_tail(data_dir: str | Path, rho: float, seed: int) -> Split:
    """MNIST from local IDX files, long-tailed like the digits, with a balanced test split.

    The training files are subsampled to ``long_tail_counts(n_max, C, rho)`` images per class
    (n_max the smallest class count); the test files to the same number of images per class
    (the smallest test class count).

    Args:
        data_dir: folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally ``.gz``.
        rho: imbalance ratio ``>= 1``.
        seed: seed of the random choice of images.

    Returns:
        Split: flattened pixels scaled from 0..255 to [0, 1].

    Raises:
        DemoError: (status 2) for a missing or malformed file.
    """
    paths = {key: find_mnist_file(data_dir, stem) for key, stem in MNIST_FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DemoError(f"{paths[part + '_images']} and {paths[part + '_labels']} do not "
                            f"match: images {images.shape}, labels {labels.shape}", status=2)
    num_classes = int(arrays["train_labels"].max()) + 1
    rng = np.random.default_rng(seed)

    def flat(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) / 255.0).astype(np.float32)

    x, y = flat(arrays["train_images"]), arrays["train_labels"].astype(np.int64)
    train, _, _ = _split_long_tail(x, y, num_classes, rho, None, rng)
    xt, yt = flat(arrays["test_images"]), arrays["test_labels"].astype(np.int64)
    per_class = min(int((yt == k).sum()) for k in range(num_classes))
    if per_class == 0:
        raise DemoError("the MNIST test files lack images of some class", status=2)
    test = np.concatenate([rng.permutation(np.flatnonzero(yt == k))[:per_class]
                           for k in range(num_classes)])
    side = arrays["train_images"].shape[1]
    return Split(x[train], y[train], xt[test], yt[test], num_classes,
                 f"MNIST ({side}x{side}) from {data_dir}, long-tailed rho={rho:g}")


#: Side lengths of the detection demo's square objects; anchor a matches side ANCHOR_SIDES[a].
ANCHOR_SIDES = (3, 5, 7)


def make_detection(num_images: int, size: int, seed: int, objects_per_image: int = 12,
                   clutter_per_image: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images of bright squares among bright rectangles, and a dense detector's targets.

    Every pixel of an image carries ``len(ANCHOR_SIDES)`` anchors; anchor ``a`` at pixel
    ``(i, j)`` is positive when a square of side ``ANCHOR_SIDES[a]`` is centred there.
    Rectangles whose two sides differ (drawn from the same side lengths) are clutter: hard
    negatives. With the defaults (64 x 64 pixels, 3 anchors, 12 squares) an image has 12,288
    anchors of which 12 (about 1 in 1,000) are positive. Shapes do not touch; the background
    is Gaussian noise.

    Args:
        num_images: number of images N.
        size: image side S, at least 16.
        seed: seed of the generator.
        objects_per_image: squares per image (fewer if they do not fit). Default: 12.
        clutter_per_image: non-square rectangles per image (fewer if they do not fit).
            Default: 12.

    Returns:
        tuple: float32 images ``(N, 1, S, S)`` and float32 0/1 targets ``(N, A, S, S)``.

    Example:
        >>> from focalkit.demos.data import make_detection
        >>> images, targets = make_detection(2, 64, seed=0)
        >>> images.shape, targets.shape, int(targets.sum())
        ((2, 1, 64, 64), (2, 3, 64, 64), 24)
    """
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 0.4, (num_images, 1, size, size)).astype(np.float32)
    targets = np.zeros((num_images, len(ANCHOR_SIDES), size, size), dtype=np.float32)
    margin = max(ANCHOR_SIDES) // 2 + 1
    wanted = objects_per_image + clutter_per_image
    for n in range(num_images):
        taken = np.zeros((size, size), dtype=bool)
        squares = clutter = 0
        for _ in range(50 * wanted):
            if squares + clutter == wanted:
                break
            is_square = squares < objects_per_image and (
                clutter == clutter_per_image or rng.random() < 0.5)
            a = int(rng.integers(len(ANCHOR_SIDES)))
            b = a if is_square else int((a + rng.integers(1, len(ANCHOR_SIDES)))
                                        % len(ANCHOR_SIDES))
            hi, hj = ANCHOR_SIDES[a] // 2, ANCHOR_SIDES[b] // 2
            i, j = (int(v) for v in rng.integers(margin, size - margin, 2))
            box = (slice(i - hi - 1, i + hi + 2), slice(j - hj - 1, j + hj + 2))
            if taken[box].any():
                continue
            taken[box] = True
            images[n, 0, i - hi:i + hi + 1, j - hj:j + hj + 1] += 1.0
            if is_square:
                targets[n, a, i, j] = 1.0
                squares += 1
            else:
                clutter += 1
    return images, targets


#: Foreground classes of the segmentation demo: (name, brightness, shape).
SEGMENT_CLASSES = (("disk", 1.0, "disk"), ("square", 1.0, "square"), ("ring", 1.0, "ring"))


def make_segmentation(num_images: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images with a few small disks, squares and rings, and their label masks.

    Every image holds one to four small shapes (radius 2 to 4 pixels) on a background of
    Gaussian noise with a smooth random gradient, so that about 2% of the pixels are
    foreground. Class 0 is background, classes 1, 2, 3 are disk, square and ring. Shapes are
    equally bright, so the network has to tell them apart by their form.

    Args:
        num_images: number of images N.
        size: image side S, at least 16.
        seed: seed of the generator.

    Returns:
        tuple: float32 images ``(N, 1, S, S)`` and int64 masks ``(N, S, S)``.

    Example:
        >>> from focalkit.demos.data import make_segmentation
        >>> images, masks = make_segmentation(4, 64, seed=0)
        >>> images.shape, masks.shape, sorted(set(masks.ravel().tolist())) <= [0, 1, 2, 3]
        ((4, 1, 64, 64), (4, 64, 64), True)
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = rng.normal(0.0, 0.3, (num_images, 1, size, size)).astype(np.float32)
    masks = np.zeros((num_images, size, size), dtype=np.int64)
    count = max(1, round(4 * (size / 64) ** 2))
    for n in range(num_images):
        slope = rng.normal(0.0, 0.4, 2)
        images[n, 0] += (slope[0] * (xx / size - 0.5) + slope[1] * (yy / size - 0.5))
        for _ in range(int(rng.integers(1, count + 1))):
            k = int(rng.integers(len(SEGMENT_CLASSES)))
            r = float(rng.uniform(2.0, 4.0))
            ci, cj = (float(v) for v in rng.uniform(r + 1, size - r - 1, 2))
            dist = np.hypot(yy - ci, xx - cj)
            if SEGMENT_CLASSES[k][2] == "disk":
                shape = dist <= r
            elif SEGMENT_CLASSES[k][2] == "square":
                shape = (np.abs(yy - ci) <= r * 0.85) & (np.abs(xx - cj) <= r * 0.85)
            else:
                r = max(r, 3.0)
                shape = (dist <= r + 0.5) & (dist >= r - 1.0)
            shape &= masks[n] == 0
            masks[n][shape] = k + 1
            images[n, 0][shape] += SEGMENT_CLASSES[k][1]
    return images, masks
