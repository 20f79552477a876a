"""Property-based: whatever CSV text arrives on stdin, `encode`, `decode` and `denoise` answer
with exit code 0 or 2 and never a traceback (exit 1 would mean an unhandled internal error)."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import SAMPLE, invoke

COLUMNS = list(pd.read_csv(SAMPLE / "wine.csv").columns)
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "nan", "NA", "inf", "-", "1e400", "0x1F", '"1,5"', "ä", "True", " 3 "]),
    st.text(max_size=8),
)


FINITE = st.floats(-1e6, 1e6, allow_nan=False).map(repr)


@st.composite
def csv_text(draw: st.DrawFn, names: list[str]) -> str:
    """Half the time a well-formed table over the model's columns (any order, extra columns,
    a few odd cells); otherwise arbitrary headers, separators, widths and cells."""
    if draw(st.booleans()):
        extra = st.text("abcdefgh_", min_size=1, max_size=4).filter(lambda n: n not in names)
        header = [*draw(st.permutations(names)), *draw(st.lists(extra, max_size=2, unique=True))]
        sep = ","
        cell = st.integers(0, 29).flatmap(lambda i: CELLS if i == 0 else FINITE)
        widths = st.just(len(header))
    else:
        header = draw(
            st.lists(
                st.one_of(st.sampled_from(names), st.text(max_size=6)), min_size=1, max_size=16
            )
        )
        sep, cell = draw(st.sampled_from([",", ";", "\t"])), CELLS
        widths = st.integers(max(0, len(header) - 1), len(header) + 1)
    rows = draw(
        st.lists(widths.flatmap(lambda w: st.lists(cell, min_size=w, max_size=w)), max_size=6)
    )
    return "\n".join(sep.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", "\n"]))


SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def answers_cleanly(model, command: str, text: str) -> None:
    """The command exits 0 or 2 on `text` as stdin, never with a traceback."""
    result = invoke(CliRunner(), command, model, "-", input=text.encode())
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stderr


@SETTINGS
@given(text=csv_text(COLUMNS))
def test_encode_never_crashes(shared_model, text):
    answers_cleanly(shared_model, "encode", text)


@SETTINGS
@given(text=csv_text(["z1", "z2", "z3"]))
def test_decode_never_crashes(shared_model, text):
    answers_cleanly(shared_model, "decode", text)


@SETTINGS
@given(text=csv_text(COLUMNS))
def test_denoise_never_crashes(shared_model, text):
    answers_cleanly(shared_model, "denoise", text)
