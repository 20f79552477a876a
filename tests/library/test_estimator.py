"""aecli.Autoencoder, the scikit-learn estimator: scikit-learn's own checks, pipelines, grid
search, cloning, pickling and checkpoints; and NumPy arrays and option checks in the library
verbs it is built on."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.estimator_checks import check_estimator

import aecli
from aecli.estimator import EXPECTED_FAILED_CHECKS, Autoencoder
from aecli.options import TrainOptions
from conftest import SAMPLE

QUICK = {"steps": 5, "hidden": (8,), "components": 1}  # a few steps: behaviour, not quality


def low_rank(n: int = 120, seed: int = 0) -> np.ndarray:
    """n rows of 8 columns lying near a 3-dimensional subspace."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    return z @ rng.normal(size=(3, 8)) + 0.05 * rng.normal(size=(n, 8))


def test_passes_scikit_learns_check_estimator():
    assert len(EXPECTED_FAILED_CHECKS) <= 2 and all(EXPECTED_FAILED_CHECKS.values())
    results = check_estimator(
        Autoencoder(**QUICK), expected_failed_checks=EXPECTED_FAILED_CHECKS, on_fail=None
    )
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 40


def test_transform_of_a_subset_is_the_transform_of_those_rows_at_float32_precision():
    """What the skipped check_methods_subset_invariance asks, at the network's precision."""
    x = low_rank(40)
    est = Autoencoder(**QUICK).fit(x)
    for method in (est.transform, est.score_samples):
        whole = method(x)
        part = method(x[:7])
        np.testing.assert_allclose(part, whole[:7], rtol=1e-5, atol=1e-5)


def test_parameters_mirror_the_training_options():
    params = Autoencoder().get_params()
    fields = {f.name: f for f in TrainOptions.__dataclass_fields__.values()}
    assert list(params) == sorted(fields)
    defaults = TrainOptions()
    assert all(params[name] == getattr(defaults, name) for name in fields)
    for name in fields:  # help(aecli.Autoencoder) and help(aecli.train) list every option
        assert f"\n    {name}: " in Autoencoder.__doc__
        assert f"\n    {name}: " in aecli.train.__doc__


def test_clone_get_params_and_set_params_round_trip():
    est = Autoencoder(latent_dim=2, hidden=(16, 8), kind="vae", seed=3)
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    copy.set_params(latent_dim=4, drop=("a",))
    assert copy.latent_dim == 4 and copy.drop == ("a",) and est.latent_dim == 2
    assert repr(est) == "Autoencoder(hidden=(16, 8), kind='vae', latent_dim=2, seed=3)"


def test_wrong_names_and_types_raise_user_error_with_a_suggestion():
    with pytest.raises(aecli.UserError, match="did you mean 'latent_dim'"):
        Autoencoder(latnt_dim=3)
    x = low_rank(30)
    with pytest.raises(aecli.UserError, match="latent_dim takes a whole number or None, not '3'"):
        Autoencoder(latent_dim="3", **QUICK).fit(x)
    with pytest.raises(TypeError, match=r"\(str\); did you mean latent_dim=3\?"):
        aecli.train(x, latent_dim="3")  # an OptionError is a TypeError too
    with pytest.raises(aecli.UserError, match="did you mean 'hidden'"):
        aecli.train(x, hiden=(8,))
    with pytest.raises(aecli.UserError, match="lr takes a number or None, not 'fast'"):
        aecli.train(x, lr="fast")
    with pytest.raises(aecli.UserError, match="--latent-dim must be at least 1, not 0"):
        aecli.train(x, latent_dim=0)
    with pytest.raises(aecli.UserError, match="--activation 'gelo' is not one of"):
        Autoencoder(activation="gelo").fit(x)


def test_pipeline_of_autoencoder_and_logistic_regression_on_digits():
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.3, random_state=0
    )
    pipe = make_pipeline(
        Autoencoder(latent_dim=12, steps=300, hidden=(64,), components=1),
        LogisticRegression(max_iter=2000),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the digits' constant border pixels are warned about
        pipe.fit(x_train, y_train)
    assert pipe.score(x_test, y_test) > 0.85
    assert pipe[0].transform(x_test).shape == (len(x_test), 12)


def test_grid_search_over_latent_dim_with_two_jobs_chooses_by_reconstruction():
    x = low_rank(150)
    search = GridSearchCV(
        Autoencoder(steps=100, hidden=(16,), components=1),
        {"latent_dim": [1, 3]},
        cv=3,
        n_jobs=2,
    )
    search.fit(x)
    assert search.best_params_ == {"latent_dim": 3}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores < 0) and scores[1] > 2 * scores[0]  # far less error with 3 codes
    assert search.best_estimator_.latent_dim_ == 3


def test_dataframes_with_categories_pandas_output_and_inverse_transform():
    frame = pd.read_csv(SAMPLE / "penguins.csv")
    est = Autoencoder(latent_dim=3, **QUICK).set_output(transform="pandas")
    codes = est.fit_transform(frame)
    assert list(codes.columns) == ["z1", "z2", "z3"] and len(codes) == len(frame)
    assert list(est.feature_names_in_) == list(frame.columns)
    back = est.inverse_transform(codes.to_numpy())
    assert isinstance(back, pd.DataFrame) and set(back.columns) == set(frame.columns)
    assert set(back["species"]) <= set(frame["species"])  # categories come back as labels
    assert est.sample(4).shape[0] == 4
    with pytest.raises(ValueError, match="feature names"):
        est.transform(frame[list(reversed(frame.columns))])


def test_column_transformer_feeds_the_numbers_to_the_autoencoder():
    frame = pd.read_csv(SAMPLE / "penguins.csv").dropna()
    numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    columns = ColumnTransformer(
        [
            ("codes", Autoencoder(latent_dim=2, **QUICK), numbers),
            ("island", OneHotEncoder(), ["island"]),
        ]
    )
    out = columns.fit_transform(frame)
    assert out.shape == (len(frame), 2 + frame["island"].nunique())
    names = list(columns.get_feature_names_out())
    assert names[:2] == ["codes__z1", "codes__z2"]


def test_pickling_in_memory_and_the_pickle_free_checkpoint(tmp_path):
    x = low_rank(60)
    est = Autoencoder(latent_dim=3, **QUICK).fit(x)
    codes = est.transform(x)
    again = pickle.loads(pickle.dumps(est))  # what joblib does between processes
    np.testing.assert_array_equal(again.transform(x), codes)
    path = est.save(tmp_path / "est.safetensors")
    assert b"\x80\x04\x95" not in path.read_bytes()  # no pickle stream in the file
    loaded = Autoencoder.load(path)
    np.testing.assert_array_equal(loaded.transform(x), codes)
    assert loaded.n_features_in_ == 8 and not hasattr(loaded, "feature_names_in_")
    assert loaded.latent_dim == 3 and loaded.latent_dim_ == 3
    np.testing.assert_allclose(loaded.inverse_transform(codes), est.inverse_transform(codes))


def test_numpy_arrays_go_to_the_library_verbs():
    """An array used to be taken for a file name ("File name too long")."""
    x = low_rank(60)
    model = aecli.train(x, latent_dim=3, **QUICK)
    codes = model.encode(x)
    assert list(codes.columns) == ["z1", "z2", "z3"]
    rows = model.decode(codes.to_numpy())  # an array of codes is read as z1..zK
    assert list(rows.columns) == [f"x{i}" for i in range(8)]
    assert model.score_samples(x).shape == (60,)
    with pytest.raises(aecli.UserError, match="must be 2-D"):
        model.encode(x[0])


def test_import_aecli_does_not_load_scikit_learn():
    code = (
        "import sys, aecli; assert 'sklearn' not in sys.modules; "
        "aecli.Autoencoder; assert 'sklearn' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    code = readme.split("### scikit-learn")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the digits' constant border pixels are warned about
        exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy from 12 codes: ")[1].split()[0])
    assert accuracy > 0.85
    assert "{'latent_dim': 12}" in out
    assert (tmp_path / "digits-ae.safetensors").exists()
