import numpy as np
import pytest

from lab import data


def test_digits_splits_are_disjoint_scaled_and_stratified():
    ds = data.load_dataset("digits", seed=0)
    assert ds.image_shape == (8, 8)
    assert ds.n_features == 64
    sizes = ds.sizes()
    assert sum(sizes.values()) == 1797
    for split in ("train", "val", "test"):
        x, y = ds.split(split)
        assert x.dtype == np.float32 and x.shape == (len(y), 64)
        assert 0.0 <= x.min() and x.max() <= 1.0
        # Stratified: every class holds a share close to its overall share.
        shares = np.bincount(y, minlength=10) / len(y)
        assert np.all(np.abs(shares - 0.1) < 0.02)
    rows = {split: {r.tobytes() for r in ds.split(split)[0]} for split in ("train", "val", "test")}
    assert not rows["train"] & rows["test"]


def test_same_seed_same_splits_other_seed_other_splits():
    a, b, c = (data.load_dataset("digits", seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


def test_caps_keep_every_class():
    ds = data.load_dataset("digits", max_train=100, max_eval=50)
    assert ds.sizes() == {"train": 100, "val": 50, "test": 50}
    assert set(ds.y_train) == set(range(10))


def test_class_counts_table_adds_up():
    ds = data.load_dataset("digits")
    table = data.class_counts(ds)
    assert list(table.columns) == ["train", "val", "test"]
    assert table.loc["total"].to_dict() == ds.sizes()


def test_unknown_dataset_and_split_are_clear():
    with pytest.raises(ValueError, match="digits, mnist, fashion_mnist"):
        data.load_dataset("cifar")
    with pytest.raises(ValueError, match="'train', 'val' or 'test'"):
        data.load_dataset("digits").split("validation")


def _write_mnist(home, n_train=60, n_test=30, shape=(28, 28)):
    rng = np.random.default_rng(0)
    folder = home / "datasets"
    folder.mkdir(parents=True)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        y_train=np.arange(n_train, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        y_test=np.arange(n_test, dtype=np.uint8) % 10,
    )


def test_mnist_from_a_cached_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _write_mnist(tmp_path)
    ds = data.load_dataset("mnist", download=False)
    assert ds.image_shape == (28, 28)
    assert ds.x_train.shape[1] == 784
    assert ds.sizes() == {"train": 48, "val": 12, "test": 30}
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0


def test_missing_mnist_says_where_to_put_it_and_how_to_fall_back(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load_dataset("mnist", download=False)
    message = str(info.value)
    assert str(tmp_path / "datasets" / "mnist.npz") in message
    assert "digits" in message


def test_failed_download_is_reported_not_raised_raw(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    import keras

    def offline_load_data():
        raise Exception("URL fetch failure: no network")  # what keras raises offline

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline_load_data)
    with pytest.raises(data.DatasetUnavailableError, match="Downloading it failed"):
        data.load_dataset("mnist")


def test_gaussian_noise_is_seeded_clipped_and_scaled(tiny_images):
    noisy = data.add_gaussian_noise(tiny_images, 0.3, seed=1)
    assert noisy.shape == tiny_images.shape and noisy.dtype == tiny_images.dtype
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_array_equal(noisy, data.add_gaussian_noise(tiny_images, 0.3, seed=1))
    small = np.abs(data.add_gaussian_noise(tiny_images, 0.05) - tiny_images).mean()
    large = np.abs(data.add_gaussian_noise(tiny_images, 0.5) - tiny_images).mean()
    assert small < large
    with pytest.raises(ValueError):
        data.add_gaussian_noise(tiny_images, -0.1)


def test_masking_noise_zeroes_about_the_fraction(tiny_images):
    masked = data.add_masking_noise(tiny_images, 0.5, seed=0)
    zeroed = (masked == 0) & (tiny_images > 0)
    assert 0.4 < zeroed.mean() < 0.6
    np.testing.assert_array_equal(data.add_masking_noise(tiny_images, 0.0), tiny_images)
    with pytest.raises(ValueError):
        data.add_masking_noise(tiny_images, 1.5)


def test_take_train_keeps_the_other_splits():
    ds = data.load_dataset("digits")
    small = data.take_train(ds, 50)
    assert small.sizes()["train"] == 50 and set(small.y_train) == set(range(10))
    np.testing.assert_array_equal(small.x_val, ds.x_val)


def test_without_classes_and_label_subset():
    ds = data.load_dataset("digits")
    normal = data.without_classes(ds, (8, 9))
    assert not np.isin(normal.y_train, (8, 9)).any() and np.isin(normal.y_val, (8, 9)).any()
    with pytest.raises(ValueError, match="must be some, not all, of the labels"):
        data.without_classes(ds, tuple(range(10)))
    one = data.without_classes(ds, 7, splits="val")  # one class and one split, not their characters
    assert not np.isin(one.y_val, 7).any() and np.isin(one.y_train, 7).any()
    idx = data.label_subset(ds.y_train, 0.01)
    assert len(idx) >= 10 and set(ds.y_train[idx]) == set(range(10))
    assert len(np.unique(idx)) == len(idx)
    with pytest.raises(ValueError, match="fraction"):
        data.label_subset(ds.y_train, 0)
    assert len(data.label_subset(ds.y_train, "0.01")) == len(idx)
    with pytest.raises(ValueError, match="1-D array of class labels, got shape"):
        data.label_subset(np.eye(10)[ds.y_train], 0.1)  # one-hot labels
    with pytest.raises(ValueError, match="n must be a whole number"):
        data.take_train(ds, 50.5)
