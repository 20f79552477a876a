"""aecli.dask on a LocalCluster of two worker processes: a two-partition Parquet data set
encoded (and scored) partition by partition matches the CLI's output for the same folder, and
each worker loads the checkpoint once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE, invoke

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def dataset(folder):
    wine = pd.read_csv(SAMPLE / "wine.csv")
    folder.mkdir()
    wine.iloc[:90].to_parquet(folder / "part-0.parquet", index=False)
    wine.iloc[90:].to_parquet(folder / "part-1.parquet", index=False)
    return folder


def test_encode_on_two_workers_matches_the_cli(client, runner, tmp_path, shared_model):
    import aecli.dask

    folder = dataset(tmp_path / "rows")
    ddf = dd.read_parquet(folder)
    assert ddf.npartitions == 2
    codes = aecli.dask.encode(str(shared_model), ddf, device="cpu")
    assert codes.npartitions == 2
    got = codes.compute()
    cli = tmp_path / "codes.csv"
    assert invoke(runner, "encode", shared_model, folder, "-o", cli, "-q").exit_code == 0
    expected = pd.read_csv(cli)
    assert list(got.columns) == list(expected.columns) == ["z1", "z2", "z3"]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-6)
    loads = client.run(lambda: __import__("aecli.dask").dask.loads)
    assert len(loads) == 2 and all(n <= 1 for n in loads.values())  # once per worker


def test_score_and_denoise_keep_rows_in_order(client, runner, tmp_path, shared_model):
    import aecli.dask

    folder = dataset(tmp_path / "rows")
    scores = aecli.dask.score(str(shared_model), dd.read_parquet(folder), device="cpu")
    got = scores.compute()
    cli = tmp_path / "scores.csv"
    assert invoke(runner, "score", shared_model, folder, "-o", cli, "-q").exit_code == 0
    expected = pd.read_csv(cli)
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-5)
    assert (got["outlier"].to_numpy() == expected["outlier"].to_numpy()).all()
    holes = pd.read_csv(SAMPLE / "wine.csv")
    holes.iloc[3, 2] = np.nan
    filled = aecli.dask.denoise(
        str(shared_model), dd.from_pandas(holes, npartitions=2), iterations=3, device="cpu"
    ).compute()
    assert filled.notna().all().all() and len(filled) == len(holes)
    pd.testing.assert_frame_equal(filled.drop(index=3), holes.drop(index=3), check_dtype=False)


def test_a_model_object_or_a_pandas_frame_is_refused_in_one_line(shared_model):
    import aecli
    import aecli.dask
    from aecli.errors import UserError

    frame = pd.read_csv(SAMPLE / "wine.csv")
    with pytest.raises(UserError, match="Dask DataFrame"):
        aecli.dask.encode(str(shared_model), frame)
    with pytest.raises(UserError, match="checkpoint path"):
        aecli.dask.encode(aecli.load(shared_model), dd.from_pandas(frame, npartitions=2))
