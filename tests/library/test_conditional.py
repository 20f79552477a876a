"""Conditional models: trained on (x, y), they generate rows that belong to the asked-for y."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from conftest import invoke, train_model


def small_digits(n: int) -> pd.DataFrame:
    """scikit-learn's bundled 8x8 digits (pixels 0-16) with their labels as a column."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data[:n].astype(int), columns=[f"p{i}" for i in range(64)])
    frame.insert(0, "digit", digits.target[:n])
    return frame


def test_conditional_vae_samples_the_requested_digit(tmp_path, runner):
    frame = small_digits(1500)
    data = tmp_path / "digits.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "cvae.safetensors"
    train_model(
        runner,
        data,
        model,
        "--kind",
        "vae",
        "--condition",
        "digit",
        "-k",
        "4",
        "--hidden",
        "64",
        "--steps",
        "1500",
    )
    classifier = LogisticRegression(max_iter=2000).fit(frame.iloc[:, 1:], frame["digit"])
    hits = []
    for digit in (0, 3, 7):
        result = invoke(
            runner, "sample", model, "-n", "40", "--condition", str(digit), "--seed", "1"
        )
        assert result.exit_code == 0, result.stderr
        rows = pd.read_csv(io.StringIO(result.stdout))
        assert list(rows.columns) == list(frame.columns)
        assert (rows["digit"] == digit).all()
        hits.append(np.mean(classifier.predict(rows.iloc[:, 1:]) == digit))
    assert np.mean(hits) > 0.6, hits  # chance is 0.1
    unseen = invoke(runner, "sample", model, "--condition", "11")
    assert unseen.exit_code == 2 and "'11'" in unseen.stderr
    codes = invoke(runner, "encode", model, data, "--keep", "digit", "-o", tmp_path / "z.csv")
    assert codes.exit_code == 0, codes.stderr
    back = invoke(runner, "decode", model, tmp_path / "z.csv")
    assert back.exit_code == 0, back.stderr
    decoded = pd.read_csv(io.StringIO(back.stdout))
    assert decoded["digit"].tolist() == frame["digit"].tolist()
