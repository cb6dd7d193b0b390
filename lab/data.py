"""Datasets as fixed, stratified train/validation/test splits, and noise for denoising.

`digits` (scikit-learn's bundled 8x8 digits) needs no network and is the default.
`mnist` and `fashion_mnist` are downloaded by `keras.datasets` into the Keras cache
(`$KERAS_HOME/datasets`, `~/.keras/datasets` by default) and read from there by
this module, which checks the file's format and never loads pickles.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

DATASETS = ("digits", "mnist", "fashion_mnist")

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
    if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1.")

    if name == "digits":
        x, y, image_shape = _load_digits()
        x_rest, x_test, y_rest, y_test = train_test_split(
            x, y, test_size=test_fraction, stratify=y, random_state=seed
        )
        val_share = val_fraction / (1 - test_fraction)
    else:
        (x_rest, y_rest), (x_test, y_test) = _load_keras_cache(name, download=download)
        image_shape = x_rest.shape[1:3]
        x_rest = x_rest.reshape(len(x_rest), -1).astype("float32") / 255.0
        x_test = x_test.reshape(len(x_test), -1).astype("float32") / 255.0
        val_share = val_fraction

    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, stratify=y_rest, random_state=seed
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
    x_keep, _, y_keep, _ = train_test_split(x, y, train_size=limit, stratify=y, random_state=seed)
    return x_keep, y_keep


def keras_home() -> Path:
    """The Keras cache folder: `$KERAS_HOME` if set, else `~/.keras`."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


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
    try:
        return reader(paths)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ValueError(
            f"The cached {name} file at {paths[0].parent} is malformed ({exc}). "
            "Delete it and load again to download a fresh copy."
        ) from exc


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


def _check_images(x: np.ndarray, y: np.ndarray, what: str) -> None:
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{what} images have shape {x.shape}, expected (n, 28, 28)")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{what} labels have shape {y.shape}, expected ({x.shape[0]},)")


def _read_mnist_npz(paths: list[Path]):
    with np.load(paths[0], allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    _check_images(x_train, y_train, "training")
    _check_images(x_test, y_test, "test")
    return (x_train, y_train), (x_test, y_test)


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def _read_fashion_idx(paths: list[Path]):
    y_train, x_train, y_test, x_test = (_read_idx(p, 8 if "labels" in p.name else 16) for p in paths)
    for x, y, what in ((x_train, y_train, "training"), (x_test, y_test, "test")):
        if x.size != y.size * 28 * 28:
            raise ValueError(f"{what} file holds {x.size} pixels for {y.size} labels")
    x_train = x_train.reshape(-1, 28, 28)
    x_test = x_test.reshape(-1, 28, 28)
    return (x_train, y_train), (x_test, y_test)


def add_gaussian_noise(x: np.ndarray, std: float, *, seed: int = 0) -> np.ndarray:
    """Add zero-mean Gaussian noise of standard deviation `std`, clipped to [0, 1]."""
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    rng = np.random.default_rng(seed)
    noisy = x + rng.normal(0.0, std, size=x.shape)
    return np.clip(noisy, 0.0, 1.0).astype(x.dtype)


def add_masking_noise(x: np.ndarray, fraction: float, *, seed: int = 0) -> np.ndarray:
    """Set a random `fraction` of each image's pixels to zero."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
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
    x, y = _subsample(dataset.x_train, dataset.y_train, n, seed)
    return replace(dataset, x_train=x, y_train=y)


def without_classes(
    dataset: Dataset, classes: tuple[int, ...], *, splits: tuple[str, ...] = ("train",)
) -> Dataset:
    """The same dataset with `classes` removed from the named splits.

    For anomaly detection: a model trained (and early-stopped) on the result has
    never seen those classes; the untouched splits keep them as anomalies.
    """
    if not set(classes) < set(np.unique(dataset.y_train)):
        raise ValueError(f"classes {classes} must be a proper subset of the labels")
    changes = {}
    for split in splits:
        x, y = dataset.split(split)
        keep = ~np.isin(y, classes)
        changes[f"x_{split}"], changes[f"y_{split}"] = x[keep], y[keep]
    return replace(dataset, **changes)


def label_subset(y: np.ndarray, fraction: float, *, seed: int = 0) -> np.ndarray:
    """Indices of a stratified `fraction` of the examples, at least one per class."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    picks = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = max(1, round(fraction * len(members)))
        picks.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(picks))
