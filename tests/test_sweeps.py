import pytest

from lab import config, data, sweeps


@pytest.fixture(scope="module")
def small():
    cfg = config.preset("quick", epochs=3)
    return cfg, data.load_for(cfg)


def test_reference_settings_come_from_the_config():
    cfg = config.preset("workshop")
    settings = sweeps.reference_settings(cfg, latent_dim=2)
    assert settings["latent_dim"] == 2 and settings["units"] == cfg.units


def test_latent_size_sweep_table(small):
    cfg, ds = small
    table, trained = sweeps.latent_size_sweep(ds, cfg, sizes=(2, 4))
    assert set(table["method"]) == {"autoencoder", "PCA"}
    assert sorted(trained) == [2, 4]
    assert table["val_mse"].between(0, 1).all()
    assert table["probe_accuracy"].between(0, 1).all()
    pca = table[table.method == "PCA"].set_index("latent_dim")["val_mse"]
    assert pca[4] < pca[2]
    report = sweeps.compare_with_pca(ds, trained, "val")
    assert list(report.index) == [2, 4]
    assert report.loc[2, "reduction"] == pytest.approx(
        1 - report.loc[2, "autoencoder_mse"] / report.loc[2, "pca_mse"]
    )
