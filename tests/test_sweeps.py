import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from lab import config, data, sweeps


@pytest.fixture(scope="module")
def small():
    # replace(), not preset(): preset() ignores None so that notebooks can pass DATASET=None.
    cfg = dataclasses.replace(config.preset("quick", epochs=3, sweep_epochs=3), max_sweep_values=None)
    return cfg, data.load_for(cfg)


def test_reference_settings_come_from_the_config():
    cfg = config.preset("workshop")
    settings = sweeps.reference_settings(cfg, latent_dim=2)
    assert settings["latent_dim"] == 2 and settings["units"] == cfg.units


def test_train_dense_separates_fit_and_builder_settings(small):
    cfg, ds = small
    trained = sweeps.train_dense(ds, cfg, latent_dim=3, epochs=2, batch_size=32, patience=None)
    assert trained.result.epochs_trained == 2
    assert trained.settings["latent_dim"] == 3 and trained.settings["batch_size"] == 32
    assert trained.model.encoder.output.shape[-1] == 3


def test_sweep_table_has_one_row_per_value_and_every_column(small):
    cfg, ds = small
    result = sweeps.sweep(ds, cfg, "latent_dim", [2, 4, 8])
    assert list(result.frame["latent_dim"]) == [2, 4, 8]
    expected = {"val_mse", "train_mse", "best_val_loss", "epochs_trained", "seconds_per_epoch", "status"}
    assert expected <= set(result.frame.columns)
    assert len(result.runs) == 3 and result.run(latent_dim=4).settings["latent_dim"] == 4
    assert result.frame["epochs_trained"].le(cfg.sweep_epochs).all()
    with pytest.raises(KeyError):
        result.run(latent_dim=5)


def test_grid_runs_every_combination(small):
    cfg, ds = small
    result = sweeps.grid(ds, cfg, {"latent_dim": [2, 4], "learning_rate": [1e-3, 1e-2]})
    assert len(result.frame) == 4
    assert set(map(tuple, result.frame[["latent_dim", "learning_rate"]].to_numpy())) == {
        (2, 1e-3),
        (2, 1e-2),
        (4, 1e-3),
        (4, 1e-2),
    }


def test_quick_preset_cuts_every_sweep():
    cfg = config.preset("quick", sweep_epochs=1)
    ds = data.load_for(cfg)
    result = sweeps.sweep(ds, cfg, "latent_dim", [2, 4, 8, 16])
    assert list(result.frame["latent_dim"]) == [2, 4]
    assert len(sweeps.grid(ds, cfg, {"latent_dim": [2, 4, 8], "units": [8, 16, 32]}).frame) == 4


def test_a_diverging_run_is_recorded_not_raised(small):
    cfg, ds = small
    result = sweeps.runs(
        ds,
        cfg,
        [dict(optimizer="momentum", learning_rate=1e3, output_activation="linear"), dict()],
        epochs=5,
    )
    statuses = list(result.frame["status"])
    assert statuses[0] == "diverged" and math.isnan(result.frame["val_mse"].iloc[0])
    assert statuses[1] in ("ok", "stalled")


def test_zero_initialisation_stalls(small):
    cfg, ds = small
    result = sweeps.sweep(ds, cfg, "kernel_initializer", ["zeros"], epochs=5)
    assert result.frame["status"].iloc[0] == "stalled"


def test_run_status_rules():
    assert sweeps.run_status(float("nan"), 0.07, False) == "diverged"
    assert sweeps.run_status(0.01, 0.07, True) == "diverged"
    assert sweeps.run_status(0.07, 0.07, False) == "stalled"
    assert sweeps.run_status(0.01, 0.07, False) == "ok"


def test_summarize_names_best_worst_and_failures():
    frame = pd.DataFrame(
        {
            "learning_rate": [1e-3, 1e-2, 1.0, 3.0],
            "val_mse": [0.02, 0.01, 0.07, float("nan")],
            "status": ["ok", "ok", "stalled", "diverged"],
        }
    )
    text = sweeps.summarize(frame, "learning_rate")
    assert "lowest val_mse with learning_rate=0.01 (0.0100)" in text
    assert "highest with learning_rate=0.001" in text
    assert "stalled: learning_rate=1.0" in text and "diverged: learning_rate=3.0" in text


def test_add_column_measures_each_run(small):
    cfg, ds = small
    result = sweeps.sweep(ds, cfg, "latent_dim", [2, 4])
    result.add_column("code_size", lambda t: t.model.encoder.output.shape[-1])
    assert list(result.frame["code_size"]) == [2, 4]


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


def test_empty_sweeps_are_refused(small):
    cfg, ds = small
    with pytest.raises(ValueError, match="at least one"):
        sweeps.runs(ds, cfg, [])
    with pytest.raises(ValueError, match="at least one"):
        sweeps.grid(ds, cfg, {})
    assert np.isfinite(sweeps.sweep(ds, cfg, "units", [8]).frame["val_mse"]).all()


def test_a_vae_setting_over_seeds_gives_one_scored_row_per_seed():
    cfg = config.preset("quick")
    ds = data.load_for(cfg)
    table = sweeps.vae_over_seeds(ds, cfg, [0, 1], beta=2.0)
    assert list(table["seed"]) == [0, 1] and (table["status"] == "ok").all()
    assert np.allclose(table["neg_elbo"], table["reconstruction"] + table["kl"], rtol=1e-5)
    assert (table["epochs"] >= 1).all() and table["neg_elbo"].nunique() == 2, "each seed trains its own model"


def test_a_trainer_given_something_else_than_a_dataset_and_a_config_says_so(small):
    cfg, ds = small
    with pytest.raises(TypeError, match="train a model with \\(dataset, cfg\\) .* got \\(Dataset, dict\\)"):
        sweeps.train_dense(ds, {"epochs": 2})
    with pytest.raises(TypeError, match="got \\(tuple, RunConfig\\)"):
        sweeps.train_conv((ds.x_train, ds.y_train), cfg)
