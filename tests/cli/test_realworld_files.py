"""Real-world CSV files (issue 13 items 1-4, 16): dates refused, dialects detected or named with
--sep/--decimal/--thousands/--encoding, a saved index dropped with a warning, constant columns
and case-variant labels warned about, compressed outputs really compressed, URLs explained."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aecli.data.table_files import read_table, write_table
from aecli.errors import DataError
from conftest import invoke

QUICK = ["--steps", "20", "--hidden", "8"]


def _numbers(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n).round(3), "b": rng.normal(size=n).round(3) * 100})


@pytest.mark.parametrize(
    "dates",
    [
        [f"2021-03-{d:02d}" for d in range(1, 29)] * 2,
        [f"{d:02d}/03/2021" for d in range(1, 29)] * 2,
        [f"2021-03-{d:02d}T10:{d:02d}:00" for d in range(1, 29)] * 2,
    ],
)
def test_text_dates_are_refused_with_the_readme_message(tmp_path, runner, dates):
    frame = _numbers(len(dates))
    frame["when"] = dates
    frame.to_csv(tmp_path / "d.csv", index=False)
    result = invoke(runner, "train", tmp_path / "d.csv", "-o", tmp_path / "m.safetensors", *QUICK)
    assert result.exit_code == 2, result.stderr
    assert "holds dates" in result.stderr and "--drop when" in result.stderr


def test_a_semicolon_file_with_decimal_commas_is_detected(tmp_path):
    text = "x;y;label\n" + "".join(f"{i},5;{i * 2},25;k{i % 3}\n" for i in range(30))
    (tmp_path / "eu.csv").write_text(text)
    frame = read_table(tmp_path / "eu.csv")
    assert list(frame.columns) == ["x", "y", "label"]
    assert frame["x"].iloc[3] == 3.5 and frame["y"].iloc[2] == 4.25


def test_a_utf8_bom_and_latin1_text_are_read(tmp_path):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfname,v\nA,1\nB,2\n")
    assert list(read_table(tmp_path / "bom.csv").columns) == ["name", "v"]
    (tmp_path / "latin.csv").write_bytes("ville,v\nMontréal,1\nQuébec,2\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="Latin-1"):
        frame = read_table(tmp_path / "latin.csv")
    assert frame["ville"].tolist() == ["Montréal", "Québec"]


def test_thousands_separators_are_reported_with_the_right_option(tmp_path, runner):
    frame = _numbers(30)
    frame["amount"] = [f"{1000 + 37 * i:,}.21" for i in range(30)]
    frame.to_csv(tmp_path / "money.csv", index=False)
    model = tmp_path / "m.safetensors"
    result = invoke(runner, "train", tmp_path / "money.csv", "-o", model, *QUICK)
    assert result.exit_code == 2
    assert "thousands separators" in result.stderr and "--thousands ," in result.stderr
    assert "--categorical" not in result.stderr
    result = invoke(
        runner, "train", tmp_path / "money.csv", "-o", model, "--thousands", ",", "--json", *QUICK
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["columns"] == 3


def test_a_saved_index_is_warned_about_and_not_modelled(tmp_path, runner):
    _numbers(40).to_csv(tmp_path / "i.csv")  # pandas' default: the index as 'Unnamed: 0'
    model = tmp_path / "m.safetensors"
    result = invoke(runner, "train", tmp_path / "i.csv", "-o", model, *QUICK)
    assert result.exit_code == 0, result.stderr
    assert "'Unnamed: 0' looks like a saved row index" in result.stderr
    info = json.loads(invoke(runner, "inspect", model, "--json").stdout)
    assert [c["name"] for c in info["schema"]["columns"]] == ["a", "b"]


def test_constant_columns_and_case_variant_labels_get_one_warning_each(tmp_path, runner):
    frame = _numbers(40)
    frame["unit"] = "kg"
    frame["sex"] = ["male", "Male", "female ", "female"] * 10
    frame.to_csv(tmp_path / "c.csv", index=False)
    result = invoke(runner, "train", tmp_path / "c.csv", "-o", tmp_path / "m.safetensors", *QUICK)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert sum("'unit' has the same value" in line for line in lines) == 1
    assert sum("'sex' has labels that differ only by case" in line for line in lines) == 1


@pytest.mark.parametrize("suffix,opener", [(".gz", gzip), (".bz2", bz2), (".xz", lzma)])
def test_compressed_outputs_are_compressed_and_read_back(tmp_path, suffix, opener):
    frame = _numbers(20)
    target = tmp_path / f"out.csv{suffix}"
    write_table(frame, target)
    with opener.open(target, "rt") as handle:
        assert handle.readline().strip() == "a,b"
    pd.testing.assert_frame_equal(read_table(target), frame)


def test_gzip_output_is_the_same_bytes_every_time(tmp_path):
    write_table(_numbers(20), tmp_path / "1.csv.gz")
    write_table(_numbers(20), tmp_path / "2.csv.gz")
    assert (tmp_path / "1.csv.gz").read_bytes() == (tmp_path / "2.csv.gz").read_bytes()


def test_urls_are_not_mangled_into_a_missing_file():
    with pytest.raises(DataError) as info:
        read_table("http://127.0.0.1:9/x.csv")
    message = str(info.value)
    assert "no such file" not in message and "curl" in message


def test_an_unquoted_glob_gets_a_quote_the_glob_hint(tmp_path, runner):
    files = [tmp_path / f"scan{i:03d}.png" for i in range(300)]  # what the shell expands to
    result = invoke(runner, "train", *files, "-o", tmp_path / "m.safetensors")
    assert result.exit_code == 2
    assert "quote the glob" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and len(result.stderr) < 400


SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,;.\t\"'|-é", max_size=12)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cells=st.lists(st.lists(SAFE_TEXT, min_size=1, max_size=4), min_size=1, max_size=6),
    sep=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
    quote=st.booleans(),
)
def test_fuzzed_csv_dialects_never_give_a_traceback(tmp_path, cells, sep, encoding, quote):
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote else value

    text = "\n".join(sep.join(cell(v) for v in row) for row in cells) + "\n"
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text.encode(encoding))
    try:
        frame = read_table(path)
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0


def test_without_fsspec_a_url_gets_a_plain_message(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "fsspec", None)  # as if not installed
    with pytest.raises(DataError, match=r"fsspec, which is not installed.*curl -LO"):
        read_table("https://example.org/x.csv")


def test_a_bad_dialect_option_is_one_line_and_exit_2(tmp_path, runner):
    _numbers(20).to_csv(tmp_path / "d.csv", index=False)
    result = invoke(runner, "train", tmp_path / "d.csv", "--sep", ";;", "-o", tmp_path / "m")
    assert result.exit_code == 2 and "--sep takes one character" in result.stderr
    result = invoke(runner, "train", tmp_path / "d.csv", "--encoding", "klingon", "-o", "m")
    assert result.exit_code == 2 and "--encoding 'klingon'" in result.stderr


def test_a_named_dialect_is_remembered_for_later_commands(tmp_path, runner):
    frame = _numbers(40)
    text = frame.to_csv(index=False, sep="|")
    (tmp_path / "p.csv").write_text(text)
    model = tmp_path / "m.safetensors"
    result = invoke(runner, "train", tmp_path / "p.csv", "--sep", "|", "-o", model, *QUICK)
    assert result.exit_code == 0, result.stderr
    codes = invoke(runner, "encode", model, tmp_path / "p.csv")
    assert codes.exit_code == 0, codes.stderr
    assert len(codes.stdout.splitlines()) == 41


def test_the_extra_arguments_message_counts_and_names_them(tmp_path, runner):
    files = [tmp_path / f"t{i}.csv" for i in range(4)]
    result = invoke(runner, "encode", "m.safetensors", *files)
    assert result.exit_code == 2
    assert "error: 3 unexpected extra arguments (" in result.stderr
    assert str(files[1]) in result.stderr and "(s)" not in result.stderr
