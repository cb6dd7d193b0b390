"""Damaged or odd dataset files are reported with their path and what to do, and left as they are."""

import gzip
import zipfile

import numpy as np
import pytest

from lab import data


def _arrays(n_train=60, n_test=30, **changes):
    rng = np.random.default_rng(0)
    arrays = dict(
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=np.arange(n_test, dtype=np.uint8) % 10,
    )
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path


def _npz(home, compressed=False, **arrays):
    path = home / "datasets" / "mnist.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def _refused(path, *words):
    before = path.read_bytes()
    with pytest.raises(ValueError) as info:
        data.load_dataset("mnist", download=False)
    message = str(info.value)
    assert str(path) in message, message
    assert "Delete it" in message and "digits" in message, message
    for word in words:
        assert word in message, message
    assert path.read_bytes() == before  # nothing deleted or rewritten
    return message


def _flip(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


# Damaged archives ---------------------------------------------------------------------------


def test_truncated_zip(home):
    path = _npz(home, **_arrays())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _refused(path, "truncated or corrupt")


def test_crc_error_in_a_stored_member(home):
    path = _npz(home, **_arrays())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("x_train.npy")
    _flip(path, info.header_offset + 30 + len(info.filename) + 500)  # inside x_train's pixels
    _refused(path, "truncated or corrupt", "CRC")


def test_corrupt_compressed_member(home):
    path = _npz(home, compressed=True, **_arrays())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("x_train.npy")
    _flip(path, info.header_offset + 30 + len(info.filename) + 200)
    _refused(path, "truncated or corrupt")


def test_empty_file(home):
    path = home / "datasets" / "mnist.npz"
    path.write_bytes(b"")
    _refused(path, "truncated or corrupt")


def test_text_file_posing_as_npz(home):
    path = home / "datasets" / "mnist.npz"
    path.write_text("<html>404 Not Found</html>")
    _refused(path, "not a NumPy .npz archive")


def test_a_single_npy_array_named_npz(home):
    path = home / "datasets" / "mnist.npz"
    with path.open("wb") as f:
        np.save(f, np.zeros((3, 28, 28), np.uint8))
    _refused(path, "a single array (a .npy file)")


def test_missing_array(home):
    path = _npz(home, **_arrays(y_test=None))
    _refused(path, "not y_test")


def test_pickled_objects(home):
    objects = np.array([{"a": 1}], dtype=object)
    path = _npz(home, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    _refused(path)


# Shapes, pixels and labels ------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(x_train=np.zeros((60, 14, 14), np.uint8)), ["expected (n, 28, 28)"]),
        (
            dict(x_train=np.zeros((0, 28, 28), np.uint8), y_train=np.zeros(0, np.uint8)),
            ["no training images"],
        ),
        (dict(y_train=np.zeros(59, np.uint8)), ["labels have shape (59,)"]),
        (dict(x_train=np.full((60, 28, 28), 1000, np.uint16)), ["go up to 1000", "0 to 255"]),
        (dict(x_train=np.full((60, 28, 28), -3, np.int8)), ["go down to -3"]),
        (dict(x_train=np.full((60, 28, 28), 1.5, np.float32)), ["fractions that run above 1"]),
        (dict(x_train=np.full((60, 28, 28), np.nan, np.float32)), ["NaN"]),
        (dict(x_train=np.full((60, 28, 28), "a")), ["pixels are of type <U1"]),
        (dict(y_train=np.full(60, 3, np.uint8)), ["one class, [3]"]),
        (dict(y_train=np.arange(60) % 10 + 0.5), ["labels are of type float64"]),
        (dict(y_train=np.arange(60) % 10 - 1), ["labels include -1"]),
        (dict(y_train=np.r_[np.arange(59) % 9, 9]), ["class(es) [9] have a single training example"]),
        (dict(y_train=np.arange(60, dtype=np.uint8) % 10 + 1), ["labels include 10", "from 0 to 9"]),
        (dict(y_test=np.arange(30, dtype=np.uint8) % 10 + 200), ["test labels include 209"]),
        (dict(x_train=np.ones((60, 28, 28), np.uint8)), ["binarized", "almost black"]),
        (
            dict(y_train=np.arange(60, dtype=np.uint8) % 9),
            ["test labels hold classes [9] that no training image has", "not belong to one dataset"],
        ),
    ],
    ids=[
        "14x14",
        "no-images",
        "label-count",
        "uint16-above-255",
        "negative-pixels",
        "fractions-above-1",
        "nan",
        "strings",
        "one-class",
        "fractional-labels",
        "negative-labels",
        "singleton-class",
        "labels-1-to-10",
        "labels-200s",
        "binary-bytes",
        "test-class-unseen",
    ],
)
def test_bad_contents_are_named(home, changes, words):
    _refused(_npz(home, **_arrays(**changes)), *words)


def test_pixels_in_any_honest_scale_load_the_same(home):
    reference = _arrays()
    _npz(home, **reference)
    expected = data.load_dataset("mnist", download=False).x_train
    for x in (
        reference["x_train"].astype(np.float32) / 255.0,  # already scaled: not divided again
        reference["x_train"].astype(np.uint16),  # 16-bit, but bytes' range
        reference["x_train"].astype(np.float64),  # whole numbers 0-255 as floats
    ):
        _npz(home, **{**reference, "x_train": x})
        got = data.load_dataset("mnist", download=False).x_train
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-6)


# Fashion-MNIST's IDX files ------------------------------------------------------------------


def _idx_files(home, **damage):
    rng = np.random.default_rng(0)
    paths = data.cached_files("fashion_mnist")
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        n = 50 if "train" in path.name else 20
        if "labels" in path.name:
            header = np.array([2049, n], ">u4").tobytes()
            payload = header + (np.arange(n) % 10).astype(np.uint8).tobytes()
        else:
            header = np.array([2051, n, 28, 28], ">u4").tobytes()
            payload = header + rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes()
        payload = damage.get(path.name, lambda raw: raw)(payload)
        with gzip.open(path, "wb") as f:
            f.write(payload)
    return paths


def test_fashion_files_with_headers_load(home):
    _idx_files(home)
    assert data.load_dataset("fashion_mnist", download=False).sizes() == {"train": 40, "val": 10, "test": 20}


@pytest.mark.parametrize(
    "name, damage, words",
    [
        ("train-images-idx3-ubyte.gz", lambda raw: raw[:-100], ["announces 50 images"]),
        ("train-labels-idx1-ubyte.gz", lambda raw: b"\x00\x00\x08\x03" + raw[4:], ["not an IDX labels file"]),
        (
            "t10k-images-idx3-ubyte.gz",
            lambda raw: raw[:8] + np.array([14, 56], ">u4").tobytes() + raw[16:],
            ["14x56 pixels"],
        ),
        ("t10k-labels-idx1-ubyte.gz", lambda raw: raw[:5], ["fewer than an IDX header"]),
        (
            "train-images-idx3-ubyte.gz",
            lambda raw: raw[:4] + np.array([5_478_275], ">u4").tobytes() + raw[8:],
            ["announces 5478275 images", "not 4,294,967,600"],
        ),
        (
            "train-images-idx3-ubyte.gz",
            lambda raw: raw[:4] + np.array([0], ">u4").tobytes() + raw[8:16],
            ["holds no training images"],
        ),
    ],
    ids=["short-images", "wrong-magic", "wrong-size", "cut-header", "huge-count", "no-images"],
)
def test_bad_idx_files_are_named(home, name, damage, words):
    paths = _idx_files(home, **{name: damage})
    path = next(p for p in paths if p.name == name)
    before = path.read_bytes()
    with pytest.raises(ValueError) as info:
        data.load_dataset("fashion_mnist", download=False)
    assert str(path) in str(info.value) and "Delete it" in str(info.value)
    for word in words:
        assert word in str(info.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("how", ["truncated", "not-gzip"])
def test_damaged_gzip_is_named(home, how):
    paths = _idx_files(home)
    path = paths[1]
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if how == "truncated" else b"plain bytes, no gzip header")
    with pytest.raises(ValueError) as info:
        data.load_dataset("fashion_mnist", download=False)
    assert str(path) in str(info.value) and "Delete it" in str(info.value)


# Arguments of load_dataset ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(seed=-1), "seed must be a whole number from 0"),
        (dict(seed=2**32), "seed must be a whole number from 0"),
        (dict(seed="one"), "got 'one' (str)"),
        (dict(max_train=5), "max_train is 5, fewer than the 10 classes"),
        (dict(max_eval=0), "max_eval must be a whole number of 1 or more"),
        (dict(max_train=2.5), "got 2.5 (float)"),
        (dict(val_fraction=0.5, test_fraction=0.5), "sum to less than 1"),
        (dict(val_fraction="a fifth"), "val_fraction must be a finite number"),
        (dict(val_fraction=0.001), "val_fraction=0.001 leaves 2 of the 1437 digits examples held out"),
        (dict(test_fraction=0.001), "Choose test_fraction between 0.006 and 0.994"),
        (dict(val_fraction=0.79, test_fraction=0.205), "val_fraction=0.79 leaves"),
    ],
)
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError, match=None) as info:
        data.load_dataset("digits", **kwargs)
    assert words in str(info.value)


def test_strings_from_a_command_line_are_converted():
    ds = data.load_dataset("digits", seed="1", max_train="100", max_eval="None")
    assert ds.sizes()["train"] == 100


def test_a_cap_just_below_the_split_keeps_every_class():
    full = data.load_dataset("digits").sizes()["train"]
    ds = data.load_dataset("digits", max_train=full - 3)
    assert ds.sizes()["train"] == full - 3
    assert set(np.unique(ds.y_train)) == set(range(10))


@pytest.mark.parametrize(
    "noise, amount, words",
    [
        (data.add_gaussian_noise, "0.1", None),
        (data.add_gaussian_noise, float("nan"), "std must be a finite number >= 0, got nan"),
        (data.add_gaussian_noise, -0.1, "got -0.1"),
        (data.add_masking_noise, 2, "fraction must be a finite number >= 0 and <= 1, got 2"),
        (data.add_masking_noise, "half", "got 'half' (str)"),
    ],
)
def test_noise_amounts_are_checked(noise, amount, words):
    x = np.full((4, 64), 0.5, np.float32)
    if words is None:
        assert np.isfinite(noise(x, amount)).all()
        return
    with pytest.raises(ValueError) as info:
        noise(x, amount)
    assert words in str(info.value)


def test_noise_refuses_images_that_are_not_scaled_and_negative_seeds():
    raw = np.full((4, 64), 200.0, np.float32)
    with pytest.raises(ValueError, match="expects images scaled to \\[0, 1\\].*run from 200 to 200"):
        data.add_gaussian_noise(raw, 0.1)
    with pytest.raises(ValueError, match="seed must be a whole number from 0"):
        data.add_masking_noise(raw / 255, 0.1, seed=-1)


def test_a_cache_of_small_whole_numbers_is_refused_not_darkened(home):
    _refused(
        _npz(home, **_arrays(x_train=np.full((60, 28, 28), 16, np.uint8))), "no larger than 16", "0 to 16"
    )


def test_a_keras_home_with_a_tilde_is_the_folder_keras_uses(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", "~/kh")
    assert data.keras_home() == tmp_path / "kh"
    assert data.cached_files("mnist")[0].is_relative_to(tmp_path / "kh")


def test_loading_flags_and_mnist_fractions_mean_what_they_say(home):
    with pytest.raises(ValueError, match="download must be True or False, got 'no'"):
        data.load_dataset("mnist", download="no")
    _npz(home, **_arrays())
    ds = data.load_dataset(
        "mnist", val_fraction=0.7, test_fraction=0.4, download=False
    )  # MNIST has its own test split
    assert len(ds.y_val) > len(ds.y_train) and len(ds.y_test) == 30


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda ds: data.add_masking_noise(np.round(ds.x_val * 255).astype(np.uint8), 0.3),
            TypeError,
            "float images",
        ),
        (lambda ds: data.add_masking_noise(ds.x_val * 2 - 1, 0.3), ValueError, "run from -1"),
        (lambda ds: data.add_gaussian_noise((ds.x_val > 0.5).astype(int), 0.3), TypeError, "of type int64"),
        (
            lambda ds: data.add_gaussian_noise(np.where(ds.x_val > 0.9, np.nan, ds.x_val), 0.3),
            ValueError,
            "NaN",
        ),
        (lambda ds: data.take_train(ds, 5000), ValueError, "ask for at most"),
        (lambda ds: data.take_train((ds.x_train, ds.y_train), 50), TypeError, "takes a Dataset"),
        (lambda ds: data.without_classes(ds, True), ValueError, "got True (bool)"),
        (lambda ds: data.without_classes(ds, [7, 42]), ValueError, "classes [42] are not labels"),
        (lambda ds: data.without_classes(ds, "7"), TypeError, "a class label or a list of them"),
        (
            lambda ds: data.label_subset(np.array([0.0, np.nan, 1.0]), 0.5),
            ValueError,
            "whole-number class labels",
        ),
        (lambda ds: data.label_subset(ds.y_train, 0.1, seed="x"), ValueError, "seed must be a whole number"),
    ],
)
def test_data_functions_refuse_what_they_would_mishandle(call, error, words):
    ds = data.load_dataset("digits", max_train=120, max_eval=60)
    with pytest.raises(error) as info:
        call(ds)
    assert words in str(info.value)
    assert data.without_classes(ds, np.array(7)).y_train.tolist().count(7) == 0  # a 0-d array is one class
