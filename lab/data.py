"""Datasets as fixed, stratified train/validation/test splits, and noise for denoising.

`digits` (scikit-learn's bundled 8x8 digits) needs no network and is the default.
`mnist` and `fashion_mnist` are downloaded by `keras.datasets` into the Keras cache
(`$KERAS_HOME/datasets`, `~/.keras/datasets` by default) and read from there by
this module, which checks the file's format and never loads pickles.
"""

from __future__ import annotations

import gzip
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from lab import checks, config

DATASETS = config.DATASETS

# Where keras.datasets caches each dataset, relative to the Keras home.
_MNIST_FILE = Path("datasets") / "mnist.npz"
_FASHION_DIR = Path("datasets") / "fashion-mnist"
_FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither cached nor downloadable."""


@dataclass(frozen=True)
class Dataset:
    """Flattened images scaled to [0, 1], split three ways, with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]

    @property
    def n_features(self) -> int:
        """Pixels per image, the autoencoder's input size."""
        return int(np.prod(self.image_shape))

    @property
    def n_classes(self) -> int:
        """Number of distinct labels."""
        return int(np.unique(np.concatenate([self.y_train, self.y_val, self.y_test])).size)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels of one split: "train", "val" or "test"."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"Unknown split {name!r}. Use 'train', 'val' or 'test'.")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def sizes(self) -> dict[str, int]:
        """Number of examples in each split."""
        return {s: len(self.split(s)[1]) for s in ("train", "val", "test")}


def load_dataset(
    name: str = "digits",
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    max_train: int | None = None,
    max_eval: int | None = None,
    download: bool = True,
) -> Dataset:
    """Load a dataset as fixed, stratified splits with pixels in [0, 1].

    Args:
        name: "digits", "mnist" or "fashion_mnist".
        seed: fixes the splits and any subsampling.
        val_fraction: share of all examples held out for validation (digits), or
            of the official training set (MNIST, Fashion-MNIST).
        test_fraction: share held out for testing (digits only; the MNIST
            datasets keep their official test set).
        max_train: keep at most this many training examples, stratified.
        max_eval: keep at most this many validation and test examples each.
        download: let `keras.datasets` download a missing MNIST file.

    Returns:
        A `Dataset` whose images are flattened float32 rows.

    Raises:
        ValueError: for an unknown name or a malformed cached file.
        DatasetUnavailableError: when a file is neither cached nor downloadable.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASETS)}.")
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    val_fraction = checks.number(val_fraction, "val_fraction", above=0, below=1)
    test_fraction = checks.number(test_fraction, "test_fraction", above=0, below=1)
    if name == "digits" and val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must sum to less than 1, leaving examples to train.")
    download = checks.boolean(download, "download")
    max_train = checks.integer(max_train, "max_train", minimum=1, optional=True)
    max_eval = checks.integer(max_eval, "max_eval", minimum=1, optional=True)

    if name == "digits":
        x, y, image_shape = _load_digits()
        x_rest, x_test, y_rest, y_test = _stratified_split(x, y, test_fraction, seed, "test_fraction", name)
        val_share = val_fraction / (1 - test_fraction)
    else:
        (x_rest, y_rest), (x_test, y_test) = _load_keras_cache(name, download=download)
        image_shape = x_rest.shape[1:3]
        x_rest = x_rest.reshape(len(x_rest), -1)
        x_test = x_test.reshape(len(x_test), -1)
        val_share = val_fraction

    n_classes = np.unique(y_rest).size
    for cap, cap_name in ((max_train, "max_train"), (max_eval, "max_eval")):
        if cap is not None and cap < n_classes:
            raise ValueError(
                f"{cap_name} is {cap}, fewer than the {n_classes} classes of {name}: a stratified subset "
                f"keeps at least one example of each. Use {n_classes} or more, or None for the whole split."
            )

    x_train, x_val, y_train, y_val = _stratified_split(
        x_rest, y_rest, val_share, seed, "val_fraction", name, scale=val_fraction / val_share
    )
    x_train, y_train = _subsample(x_train, y_train, max_train, seed)
    x_val, y_val = _subsample(x_val, y_val, max_eval, seed)
    x_test, y_test = _subsample(x_test, y_test, max_eval, seed)
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train.astype("int64"),
        x_val=x_val,
        y_val=y_val.astype("int64"),
        x_test=x_test,
        y_test=y_test.astype("int64"),
        image_shape=(int(image_shape[0]), int(image_shape[1])),
    )


def _stratified_split(
    x: np.ndarray, y: np.ndarray, share: float, seed: int, setting: str, name: str, scale: float = 1.0
):
    """Hold out `share` of (x, y) with every class on both sides, or say which fraction to change.

    `scale` converts `share` back to the user's setting (the validation share of digits is
    taken from what is left after the test split).
    """
    n_classes = np.unique(y).size
    held = math.ceil(share * len(y))
    kept = len(y) - held
    if held < n_classes or kept < n_classes:
        side = "held out" if held < n_classes else "left"
        raise ValueError(
            f"{setting}={share * scale:g} leaves {held if held < n_classes else kept} of the {len(y)} {name} "
            f"examples {side}, fewer than its {n_classes} classes: a stratified split needs at least one of "
            f"each. Choose {setting} between {math.ceil(1000 * scale * n_classes / len(y)) / 1000:g} and "
            f"{math.floor(1000 * scale * (1 - n_classes / len(y))) / 1000:g}."
        )
    return train_test_split(x, y, test_size=share, stratify=y, random_state=seed)


def load_for(cfg) -> Dataset:
    """Load the dataset, seed and caps that a `RunConfig` names."""
    return load_dataset(cfg.dataset, seed=cfg.seed, max_train=cfg.max_train, max_eval=cfg.max_eval)


def _load_digits() -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel intensities in the bundled data run from 0 to 16.
    x = (digits.data / 16.0).astype("float32")
    return x, digits.target, digits.images.shape[1:]


def _subsample(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int):
    if limit is None or limit >= len(y):
        return x, y
    n_classes = np.unique(y).size
    if limit < n_classes:
        raise ValueError(
            f"A stratified subset of {limit} cannot hold one example of each of the {n_classes} classes; "
            f"ask for {n_classes} or more."
        )
    if len(y) - limit < n_classes:
        # scikit-learn's split needs one of each class in the part left out too; leave
        # out a few examples of the largest classes instead, which keeps the proportions.
        rng = np.random.default_rng(seed)
        labels, counts = np.unique(y, return_counts=True)
        largest_first = labels[np.argsort(-counts, kind="stable")]
        drop = [rng.choice(np.flatnonzero(y == label)) for label in largest_first]
        keep = np.setdiff1d(np.arange(len(y)), drop[: len(y) - limit])
        return x[keep], y[keep]
    x_keep, _, y_keep, _ = train_test_split(x, y, train_size=limit, stratify=y, random_state=seed)
    return x_keep, y_keep


def keras_home() -> Path:
    """The Keras cache folder: `$KERAS_HOME` if set, else `~/.keras`."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def cached_files(name: str) -> list[Path]:
    """Where the cached files of an MNIST-style dataset are expected."""
    if name == "mnist":
        return [keras_home() / _MNIST_FILE]
    if name == "fashion_mnist":
        return [keras_home() / _FASHION_DIR / f for f in _FASHION_FILES]
    raise ValueError(f"{name!r} has no cached files; only 'mnist' and 'fashion_mnist' do.")


def _load_keras_cache(name: str, *, download: bool):
    paths = cached_files(name)
    if not all(p.exists() for p in paths):
        if download:
            _download(name)
        if not all(p.exists() for p in paths):
            raise DatasetUnavailableError(_missing_message(name, paths, download))
    reader = _read_mnist_npz if name == "mnist" else _read_fashion_idx
    (x_rest, y_rest), (x_test, y_test) = reader(paths)
    unseen = sorted(set(np.unique(y_test).tolist()) - set(np.unique(y_rest).tolist()))
    if unseen:
        raise _refuse(
            paths[0] if name == "mnist" else paths[2],
            f"its test labels hold classes {unseen} that no training image has, so the training and test "
            "parts do not belong to one dataset",
        )
    return (x_rest, y_rest), (x_test, y_test)


class _Malformed(ValueError):
    """What is wrong inside one cached file; `_refuse` adds its path and what to do."""


def _refuse(path: Path, problem: str) -> ValueError:
    return ValueError(
        f"The cached dataset file {path} is malformed: {problem}. Delete it and load again to "
        "download a fresh copy, or copy a good one from a machine that has it in ~/.keras/datasets; "
        "or use the bundled dataset: DATASET = 'digits'."
    )


# What reading a damaged zip or gzip file raises, from the zipfile, gzip, zlib and NumPy modules.
_READ_ERRORS = (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error)


def _read_mnist_npz(paths: list[Path]):
    path = paths[0]
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):
            raise _Malformed("it holds a single array (a .npy file), not an .npz archive of four")
        with loaded as f:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
            if missing:
                raise _Malformed(f"it holds {', '.join(f.files) or 'no arrays'}, not {', '.join(missing)}")
            x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except _Malformed as exc:
        raise _refuse(path, str(exc)) from None
    except _READ_ERRORS as exc:
        raise _refuse(path, _reason(exc)) from exc
    try:
        split = [_checked(x_train, y_train, "training"), _checked(x_test, y_test, "test")]
    except _Malformed as exc:
        raise _refuse(path, str(exc)) from None
    return tuple(split)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return f"it is truncated or corrupt ({exc})"
    if isinstance(exc, ValueError) and "pickle" in str(exc):
        return "it is not a NumPy .npz archive (and pickled Python objects are never loaded)"
    return f"{type(exc).__name__}: {exc}"


def _checked(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 in [0, 1] and labels as int64, or `_Malformed` saying what is wrong."""
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise _Malformed(f"its {what} images have shape {x.shape}, expected (n, 28, 28)")
    if len(x) == 0:
        raise _Malformed(f"it holds no {what} images")
    if y.shape != (x.shape[0],):
        raise _Malformed(f"its {what} labels have shape {y.shape}, expected ({x.shape[0]},)")
    return _pixels(x, what), _labels(y, what)


def _pixels(x: np.ndarray, what: str) -> np.ndarray:
    """Bytes 0-255 (as Keras stores them) scaled to [0, 1]; floats already in [0, 1] kept as they are."""
    kind = x.dtype.kind
    if kind not in "uif":
        raise _Malformed(f"its {what} pixels are of type {x.dtype}, expected unsigned bytes (uint8)")
    if kind == "f" and not np.isfinite(x).all():
        raise _Malformed(f"its {what} pixels include NaN or infinite values")
    low, high = float(x.min()), float(x.max())
    if low < 0:
        raise _Malformed(f"its {what} pixels go down to {low:g}; pixels run from 0 up")
    if kind == "f" and high <= 1.0:
        return x.astype("float32")  # already scaled: dividing again would darken every image
    if kind in "ui" and high <= 1:
        raise _Malformed(
            f"its {what} pixels are whole numbers no larger than {high:g} (binarized images?); the Keras "
            "file stores bytes from 0 to 255, and 0/1 bytes divided by 255 would be almost black"
        )
    if kind in "ui" and high < 32:
        raise _Malformed(
            f"its {what} pixels are whole numbers no larger than {high:g} (another scale, such as "
            "the 0 to 16 of scikit-learn's digits?); the Keras file stores bytes from 0 to 255, "
            "and these divided by 255 would be almost black"
        )
    if high > 255:
        raise _Malformed(
            f"its {what} pixels ({x.dtype}) go up to {high:g}; the Keras file stores bytes from 0 to 255"
        )
    if kind == "f" and not np.array_equal(x, np.round(x)):
        raise _Malformed(
            f"its {what} pixels are fractions that run above 1 (up to {high:g}): neither bytes from 0 to 255 "
            "nor values scaled to [0, 1]"
        )
    return (x.astype("float32") / 255.0).astype("float32")


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    """Whole-number labels of at least two classes, each with two examples or more (for stratified splits)."""
    if y.dtype.kind not in "uif" or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        raise _Malformed(f"its {what} labels are of type {y.dtype}, expected whole numbers (class indices)")
    if y.size and y.min() < 0:
        raise _Malformed(f"its {what} labels include {int(y.min())}; class indices run from 0 up")
    if y.size and y.max() >= config.N_CLASSES:
        raise _Malformed(
            f"its {what} labels include {int(y.max())}; the classes run from 0 to {config.N_CLASSES - 1}"
        )
    y = y.astype("int64")
    if what == "training":
        labels, counts = np.unique(y, return_counts=True)
        if labels.size < 2:
            raise _Malformed(
                f"its {what} labels hold one class, {labels.tolist()}; a split needs two or more"
            )
        rare = labels[counts < 2].tolist()
        if rare:
            raise _Malformed(
                f"class(es) {rare} have a single {what} example; a stratified split needs two of each"
            )
    return y


_IDX_MAGIC = {"labels": 2049, "images": 2051}


def _read_idx(path: Path) -> np.ndarray:
    kind = "labels" if "labels" in path.name else "images"
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except _READ_ERRORS as exc:
        raise _refuse(path, _reason(exc)) from exc
    header = 8 if kind == "labels" else 16
    if len(raw) < header:
        raise _refuse(path, f"it holds {len(raw)} bytes, fewer than an IDX header's {header}")
    magic, count = (int(v) for v in np.frombuffer(raw[:8], ">u4"))
    if magic != _IDX_MAGIC[kind]:
        raise _refuse(path, f"it is not an IDX {kind} file (magic number {magic}, not {_IDX_MAGIC[kind]})")
    body = np.frombuffer(raw, np.uint8, offset=header)
    expected = count * (1 if kind == "labels" else 28 * 28)
    if kind == "images" and tuple(np.frombuffer(raw[8:16], ">u4")) != (28, 28):
        rows, cols = np.frombuffer(raw[8:16], ">u4")
        raise _refuse(path, f"its images are {rows}x{cols} pixels, expected 28x28")
    if body.size != expected:
        raise _refuse(
            path, f"its header announces {count} {kind} but it holds {body.size} bytes, not {expected:,}"
        )
    return body if kind == "labels" else body.reshape(-1, 28, 28)


def _read_fashion_idx(paths: list[Path]):
    y_train, x_train, y_test, x_test = (_read_idx(p) for p in paths)
    split = []
    for x, y, what, (labels, images) in (
        (x_train, y_train, "training", paths[0:2]),
        (x_test, y_test, "test", paths[2:4]),
    ):
        try:
            split.append(_checked(x, y, what))
        except _Malformed as exc:
            about_labels = "label" in str(exc) or "class" in str(exc)
            raise _refuse(labels if about_labels else images, str(exc)) from None
    return tuple(split)


def _download(name: str) -> None:
    """Let keras.datasets fetch the files into its cache; failures are reported later."""
    import keras

    module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    try:
        module.load_data()
    except Exception:  # noqa: BLE001 - any network failure means "not available"
        # keras raises a bare Exception wrapping URL errors; the caller explains.
        return


def _missing_message(name: str, paths: list[Path], download: bool) -> str:
    tried = "Downloading it failed (no network?). " if download else ""
    files = "\n".join(f"  {p}" for p in paths)
    return (
        f"The {name} dataset is not available. {tried}"
        f"Place the Keras copy of it at:\n{files}\n"
        "(copy it from a machine that has it in ~/.keras/datasets, or set KERAS_HOME "
        "to a folder that holds datasets/), or use the bundled dataset instead: "
        "DATASET = 'digits'."
    )


def add_gaussian_noise(x: np.ndarray, std: float, *, seed: int = 0) -> np.ndarray:
    """Add zero-mean Gaussian noise of standard deviation `std`, clipped to [0, 1]."""
    std = checks.number(std, "std", minimum=0)
    x = _check_scaled(x, "add_gaussian_noise")
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    rng = np.random.default_rng(seed)
    noisy = x + rng.normal(0.0, std, size=x.shape)
    return np.clip(noisy, 0.0, 1.0).astype(x.dtype)


def _check_scaled(x: np.ndarray, who: str) -> np.ndarray:
    """`x` as an array of float pixels in [0, 1], or a message that says how to get there."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(
            f"{who} expects float images scaled to [0, 1] (as lab.data loads them), got values of type "
            f"{x.dtype}; convert them first, e.g. x.astype('float32') / 255 for bytes."
        )
    if np.isnan(x).any():
        raise ValueError(
            f"{who} got images with {int(np.isnan(x).sum())} NaN pixels; replace or drop them first."
        )
    if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
        raise ValueError(
            f"{who} expects images scaled to [0, 1] (as lab.data loads them); these run from "
            f"{np.nanmin(x):g} to {np.nanmax(x):g}. Divide bytes by 255 first."
        )
    return x


def add_masking_noise(x: np.ndarray, fraction: float, *, seed: int = 0) -> np.ndarray:
    """Set a random `fraction` of each image's pixels to zero."""
    fraction = checks.number(fraction, "fraction", minimum=0, maximum=1)
    x = _check_scaled(x, "add_masking_noise")
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    rng = np.random.default_rng(seed)
    keep = rng.random(x.shape) >= fraction
    return (x * keep).astype(x.dtype)


def class_counts(dataset: Dataset):
    """A table of examples per class (rows) and split (columns), with totals."""
    import pandas as pd

    table = (
        pd.DataFrame(
            {s: pd.Series(dataset.split(s)[1]).value_counts().sort_index() for s in ("train", "val", "test")}
        )
        .fillna(0)
        .astype(int)
    )
    table.index.name = "label"
    table.loc["total"] = table.sum()
    return table


def take_train(dataset: Dataset, n: int, *, seed: int = 0) -> Dataset:
    """The same splits with only `n` training examples (stratified), for overfitting on purpose."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"take_train takes a Dataset (data.load_for(cfg)), got {type(dataset).__name__}.")
    n = checks.integer(n, "n", minimum=1)
    if n > len(dataset.y_train):
        raise ValueError(
            f"n is {n}, but the training split holds only {len(dataset.y_train)} examples; "
            f"ask for at most {len(dataset.y_train)}."
        )
    x, y = _subsample(dataset.x_train, dataset.y_train, n, checks.integer(seed, "seed", minimum=0))
    return replace(dataset, x_train=x, y_train=y)


def without_classes(
    dataset: Dataset, classes: tuple[int, ...], *, splits: tuple[str, ...] = ("train",)
) -> Dataset:
    """The same dataset with `classes` removed from the named splits.

    For anomaly detection: a model trained (and early-stopped) on the result has
    never seen those classes; the untouched splits keep them as anomalies.
    """
    if isinstance(classes, (str, bytes, dict)) or np.ndim(classes) not in (0, 1):
        raise TypeError(
            f"classes must be a class label or a list of them, such as [7] or (3, 8); got {classes!r}."
        )
    if np.ndim(classes) == 0:
        listed = [classes.item() if isinstance(classes, np.ndarray) else classes]
    else:
        listed = list(classes)
    classes = tuple(checks.integer(c, "each class in classes", minimum=0) for c in listed)
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    labels = np.unique(dataset.y_train).tolist()
    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise ValueError(f"classes {unknown} are not labels of this dataset; its labels are {labels}.")
    if not classes or set(classes) == set(labels):
        raise ValueError(f"classes {classes} must be some, not all, of the labels {labels}")
    changes = {}
    for split in splits:
        x, y = dataset.split(split)
        keep = ~np.isin(y, classes)
        changes[f"x_{split}"], changes[f"y_{split}"] = x[keep], y[keep]
    return replace(dataset, **changes)


def label_subset(y: np.ndarray, fraction: float, *, seed: int = 0) -> np.ndarray:
    """Indices of a stratified `fraction` of the examples, at least one per class."""
    fraction = checks.number(fraction, "fraction", above=0, maximum=1)
    seed = checks.integer(seed, "seed", minimum=0, maximum=checks.MAX_SEED)
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of class labels, got shape {y.shape}")
    if y.dtype.kind not in "iu" and not (
        y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == y.round())
    ):
        raise ValueError(
            f"y must hold whole-number class labels, got values of type {y.dtype} such as {y[:3]}."
        )
    rng = np.random.default_rng(seed)
    picks = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = max(1, round(fraction * len(members)))
        picks.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(picks))
