"""`aecli report` and `train --report`: one self-contained HTML page whose every image decodes,
that asks nothing of the network, and that a headless browser draws as more than a blank page."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from conftest import SAMPLE, invoke, train_model

pytest.importorskip("matplotlib")
TINY = ["--steps", "60", "--hidden", "16", "--seed", "1"]


class Links(HTMLParser):
    """Every src / href of the page, and the tags it uses."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.refs.append((tag, name, value))


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def check_self_contained(path: Path) -> int:
    """Every image is an embedded PNG that decodes; no other reference leaves the page."""
    links = parse(path)
    text = path.read_text(encoding="utf-8")
    assert "script" not in links.tags and "link" not in links.tags and "iframe" not in links.tags
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), "CSS fetches something"
    images = 0
    for tag, name, value in links.refs:
        if tag == "a" and value.startswith("#"):
            continue  # the table of contents
        assert not re.match(r"(https?:)?//", value), f"external reference {value[:60]}"
        assert tag == "img" and name == "src", f"unexpected reference <{tag} {name}>"
        assert value.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1], validate=True)))
        image.load()
        assert image.size[0] > 50 and image.size[1] > 50
        images += 1
    return images


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A table model with a label, a VAE (its report written by `train --report` on the
    validation rows), and an image model, each reported on."""
    from typer.testing import CliRunner

    runner = CliRunner()
    tmp = tmp_path_factory.mktemp("reports")
    digits = tmp / "digits"
    digits.mkdir()
    for png in sorted((SAMPLE / "mnist").glob("*.png"))[:80]:
        shutil.copy(png, digits / png.name)
    penguins = train_model(
        runner, SAMPLE / "penguins.csv", tmp / "penguins.safetensors", "--drop", "species", *TINY
    )
    image = train_model(
        runner, digits, tmp / "digits.safetensors", "-k", "4", "--conv", "4,8", *TINY
    )
    out = {"vae": tmp / "vae.html"}
    result = invoke(
        runner,
        "train",
        SAMPLE / "wine.csv",
        "-o",
        tmp / "vae.safetensors",
        "--kind",
        "vae",
        "-k",
        "3",
        "--report",
        out["vae"],
        "--report-label",
        "alcohol",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    for name, model, data, extra in (
        ("table", penguins, SAMPLE / "penguins.csv", ["--label", "species"]),
        ("images", image, digits, ["--label", r"-(\d)\.png$"]),
    ):
        target = tmp / f"{name}.html"
        result = invoke(runner, "report", model, data, "-o", target, *extra)
        assert result.exit_code == 0, result.output
        assert f"wrote report -> {target}" in result.stderr
        out[name] = target
    return out


def test_every_report_is_self_contained_and_its_images_decode(reports: dict[str, Path]) -> None:
    counts = {name: check_self_contained(path) for name, path in reports.items()}
    assert counts["table"] >= 6 and counts["vae"] >= 6 and counts["images"] >= 5, counts


def test_the_reports_hold_what_the_issue_lists(reports: dict[str, Path]) -> None:
    table = reports["table"].read_text()
    for needle in (
        "best epoch",
        "Beside PCA",
        "coloured by species",
        "Samples",
        "Correlations",
        "SHA-256",
    ):
        assert needle in table, needle
    assert "rgba(214, 39, 40, 0." in table  # reconstructed cells shaded by their error
    vae = reports["vae"].read_text()
    assert "KL per latent dimension" in vae and "units are active" in vae and "ELBO" in vae
    assert "the other panels show the two terms" in vae  # reconstruction and KL per epoch
    images = reports["images"].read_text()
    assert "above their reconstructions" in images and "Where the errors are" in images


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install -y chromium)")
@pytest.mark.parametrize("name", ["table", "vae", "images"])
def test_headless_chromium_draws_the_report(reports: dict[str, Path], name: str, tmp_path):
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1000,2000",
            f"--screenshot={shot}",
            reports[name].as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), run.stderr[-2000:]
    gray = Image.open(shot).convert("L")
    hist = gray.histogram()
    ink = sum(hist[:200]) / (gray.size[0] * gray.size[1])
    assert ink > 0.03, f"the screenshot is nearly blank ({ink:.1%} of pixels drawn)"
    assert len([count for count in hist if count]) > 50  # plots and text, not one flat colour


def test_train_writes_a_report_on_the_validation_rows(reports, tmp_path, runner) -> None:
    text = reports["vae"].read_text()
    assert "wine.csv (validation rows)" in text and "18 rows" in text  # 10% of 178
    assert "coloured by alcohol" in text
    again = invoke(
        runner,
        "train",
        SAMPLE / "wine.csv",
        "-o",
        tmp_path / "n.safetensors",
        "--report",
        reports["vae"],
        *TINY,
    )
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert not (tmp_path / "n.safetensors").exists()  # refused before training


def test_report_without_data_and_its_mistakes(tmp_path, runner, shared_model) -> None:
    target = tmp_path / "bare.html"
    result = invoke(runner, "report", shared_model, "-o", target, "--json", "--log-every", "0")
    assert result.exit_code == 0, result.output
    assert '"output"' in result.stdout
    assert "report: 3/3 sections (100%)" in result.stderr  # progress while the figures are drawn
    assert "No data given" in target.read_text()
    check_self_contained(target)
    bad = invoke(
        runner,
        "report",
        shared_model,
        SAMPLE / "wine.csv",
        "--label",
        "nope",
        "-o",
        tmp_path / "x.html",
    )
    assert bad.exit_code == 2 and "not a column" in bad.stderr and "Traceback" not in bad.output
    assert not (tmp_path / "x.html").exists()
    again = invoke(runner, "report", shared_model, "-o", target)
    assert again.exit_code == 2 and "--force" in again.stderr


def test_a_vae_report_without_data_reads_the_checkpoint_and_older_ones_still_report(
    reports: dict[str, Path], tmp_path
) -> None:
    import aecli
    from aecli.report import render_report

    vae = aecli.load(reports["vae"].parent / "vae.safetensors")
    bare = render_report(vae)
    assert "KL per latent dimension" in bare and "at the best epoch" in bare
    # a checkpoint written before the loop recorded a VAE's terms and latent use
    vae.history["records"] = [
        {k: r[k] for k in ("epoch", "train_loss", "val_loss")} for r in vae.history["records"]
    ]
    del vae.history["latent"]
    vae.save(tmp_path / "old.safetensors")
    old = render_report(aecli.load(tmp_path / "old.safetensors"))
    assert "predates the per-epoch record" in old and "KL per latent dimension" not in old
