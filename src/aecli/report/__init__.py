"""`aecli report`: one self-contained HTML page that shows what a model learned: loss curves, the
model beside PCA, a map of the codes, originals beside reconstructions, samples, and what it was
trained with. Figures are PNGs drawn by matplotlib (the `report` extra) and embedded in the page,
which needs no network and no script to read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aecli.model import Model

__all__ = ["render_report", "write_report"]


def render_report(
    model: Model,
    data: Any = None,
    *,
    label: str | None = None,
    held_out: bool = False,
    max_rows: int | None = None,
    seed: int = 0,
    name: str = "model",
    source: str | None = None,
) -> str:
    """The report's HTML for `model`, drawn from the rows of `data` (a table or images, as for
    `encode`; with `held_out`, only the rows training held out for validation) when given.
    `label` colours the map of the codes: a column of the table, or for images `folder` or a
    regular expression over the file names."""
    _require_matplotlib()
    from aecli.progress import tick

    if model.is_denoiser and data is not None:  # no codes to map: its page shows its training
        if not held_out:
            from aecli.errors import UserError

            raise UserError(
                "a denoiser has no codes to map or reconstruct; report it without DATA "
                "(its training), and see it at work with: aecli denoise MODEL IMAGE -o OUT"
            )
        data = None  # train --report: the training alone
    from aecli.report.collect import MAX_ROWS, gather
    from aecli.report.page import page

    ev = None
    if data is not None:
        ev = gather(
            model,
            data,
            label=label,
            held_out=held_out,
            max_rows=max_rows or MAX_ROWS,
            seed=seed,
            source=source,
        )
    steps = _section_steps(model, ev, name, seed)
    parts = []
    for done, step in enumerate(steps, 1):  # each section draws its figures: seconds apiece
        parts.append(step())
        tick(done, len(steps), "sections")
    what = "images" if model.is_image else "a table"
    lead = f"A {model.kind} autoencoder trained on {what}, {model.latent_dim} codes."
    if model.is_denoiser:
        lead = "A denoiser of images (residual, no bottleneck: it predicts the noise)."
    return page(f"aecli report: {name}", lead, parts)


def _section_steps(model: Model, ev: Any, name: str, seed: int) -> list[Any]:
    """The report's sections, each a function that draws it: the ones every model has, and
    with data the comparisons, codes, reconstructions and samples."""
    from aecli.report import sections

    steps: list[Any] = [
        lambda: sections.overview(model, ev, name),
        lambda: sections.training(model, ev),
    ]
    if ev is not None:
        steps += [lambda: sections.baseline(model, ev), lambda: sections.codes(model, ev)]
        if model.is_image:
            from aecli.report import images

            steps += [
                lambda: images.reconstructions(model, ev),
                lambda: images.samples(model, seed),
            ]
        else:
            from aecli.report import tables

            steps += [
                lambda: tables.reconstructions(model, ev),
                lambda: tables.samples(model, ev, seed),
            ]
    steps.append(lambda: sections.provenance(model))
    return steps


def write_report(
    model: Model,
    path: str | os.PathLike[str],
    data: Any = None,
    *,
    force: bool = False,
    **how: Any,
) -> Path:
    """Write `render_report(model, data, **how)` to `path` atomically (refused if it exists,
    unless `force`)."""
    from aecli.store.atomic import atomic_path, check_output

    check_output(path, force, inputs=[] if data is None or not isinstance(data, str) else [data])
    text = render_report(model, data, **how)
    with atomic_path(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from aecli.errors import UserError

        raise UserError(
            "reports need matplotlib; install it with: pip install 'aecli[report]'"
        ) from None
