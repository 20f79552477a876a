"""Messages about the command line itself: help shown when arguments are missing (with the
missing ones named, not as an error wall), a shell-expanded glob, arguments given in the wrong
order, and one-line command summaries for `aecli --help`. No torch here."""

from __future__ import annotations

from typing import Any

from aecli.errors import UserError

# One line each for `aecli --help`; a command not listed shows its docstring's first sentence.
SUMMARIES = {
    "train": "Train an autoencoder on a table or images; save one checkpoint.",
    "encode": "Encode rows (or images) to their codes z1..zK.",
    "decode": "Decode codes back to rows (or images).",
    "denoise": "Fill a table's missing cells, or clean noisy images.",
    "sample": "Generate new rows (or images) from a model.",
    "score": "Score rows (or images) by how anomalous they are; flag outliers.",
    "evaluate": "Reconstruction error and likelihood on data, beside PCA's.",
    "inspect": "Show what a checkpoint holds.",
    "report": "Write an HTML page of plots: losses, codes, reconstructions, samples.",
}
MODEL_FIRST = ("encode", "decode", "denoise", "evaluate", "sample", "inspect", "score", "report")
TABLES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".gz", ".bz2", ".xz", ".zst")
SHOWN_EXTRAS = 3
PANEL_ORDER = ("Arguments", "Options", "Data", "Model", "Training", "VAE and sampling", "Images")


def summary_line(name: str, command: Any) -> str:
    if name in SUMMARIES:
        return SUMMARIES[name]
    text = (command.short_help or command.help or "").strip().split("\n\n")[0]
    sentence = " ".join(text.split()).split(". ")[0].rstrip(".")
    return sentence + "."


def command_rows(group: Any, ctx: Any) -> list[tuple[str, str]]:
    rows = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            rows.append((name, summary_line(name, command)))
    return rows


def usage_message(exc: Any) -> str:
    """The line (or, for missing arguments, the help and a line) for a Click usage error."""
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    if type(exc).__name__ == "NoArgsIsHelpError":
        help_text = exc.format_message().rstrip()
        missing = _missing_arguments(ctx)
        if ctx is None or ctx.parent is None or not missing:
            return help_text  # `aecli` alone: the help is the answer, not an error
        return f"{help_text}\n\nerror: missing argument {' and '.join(missing)}"
    message = exc.format_message()
    if "unexpected extra argument" in message:
        extras = message.rsplit(" (", 1)[-1].rstrip(")").split()  # "...argument(s) (a b)"
        shown = " ".join(extras[:SHOWN_EXTRAS]) + (" ..." if len(extras) > SHOWN_EXTRAS else "")
        hint = ""
        if len(extras) > 1 or any(ch in message for ch in "*?["):
            hint = "; if the shell expanded a glob, quote the glob ('scans/*.png')"
        many = "s" if len(extras) > 1 else ""
        return f"error: {len(extras)} unexpected extra argument{many} ({shown}){hint}{where}"
    return f"error: {message}{where}"


def _missing_arguments(ctx: Any) -> list[str]:
    if ctx is None:
        return []
    return [
        (p.metavar or p.name or "").upper()
        for p in ctx.command.params
        if getattr(p, "param_type_name", "") == "argument" and p.required
    ]


def check_argument_order(argv: list[str]) -> None:
    """`aecli encode data.csv model.safetensors`: say the two look swapped."""
    command = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if command is None or argv[command] not in MODEL_FIRST or len(argv) < command + 3:
        return
    first, second = argv[command + 1], argv[command + 2]
    if first.startswith("-") or second.startswith("-"):
        return
    if second.lower().endswith(".safetensors") and first.lower().endswith(TABLES):
        raise UserError(
            f"the arguments look swapped: the model comes first "
            f"(aecli {argv[command]} {second} {first})"
        )


def panel_command_class() -> Any:
    """A Typer command class whose plain-text help groups options under their
    `rich_help_panel` (the panel named in options.py) and ends with verbatim examples."""
    from typer.core import TyperCommand

    class PanelCommand(TyperCommand):
        def format_options(self, ctx: Any, formatter: Any) -> None:
            groups: dict[str, list[tuple[str, str]]] = {}
            for param in self.get_params(ctx):
                record = param.get_help_record(ctx)
                if record is not None:
                    panel = getattr(param, "rich_help_panel", None) or "Options"
                    if getattr(param, "param_type_name", "") == "argument":
                        panel = "Arguments"
                    groups.setdefault(panel, []).append(record)
            order = [p for p in PANEL_ORDER if p in groups] + [
                p for p in groups if p not in PANEL_ORDER
            ]
            for panel, records in ((p, groups[p]) for p in order):
                with formatter.section(panel):
                    formatter.write_dl(records)

        def format_epilog(self, ctx: Any, formatter: Any) -> None:
            if self.epilog:
                formatter.write_paragraph()
                for line in self.epilog.splitlines():
                    formatter.write_text(line) if not line.startswith("  ") else formatter.write(
                        line + "\n"
                    )

    return PanelCommand


TRAIN_EXAMPLES = """Examples:
  aecli train sample_data/wine.csv -k 3 -o wine.safetensors
  aecli train sample_data/penguins.csv --kind vae --json -o penguins.safetensors
  aecli train eu.csv --sep ';' --decimal , -o eu.safetensors
  aecli train 'scans/*.png' --kind denoiser -o scans.safetensors   (then aecli denoise)
  aecli train big.csv -o big.safetensors --checkpoint-every 10   (then --resume on SIGTERM)
  aecli train wine.csv --config run.toml --seed 2 -o wine2.safetensors   (flags override the file)
  aecli train wine.csv --config <(aecli inspect wine.safetensors --config) -o again.safetensors"""


def refuse_options_with_resume(options: dict[str, Any]) -> None:
    """--resume continues with the interrupted run's own options: refuse any other given."""
    given = ["--" + name.replace("_", "-") for name in options]
    if given:
        raise UserError(
            f"--resume continues the interrupted run with its own options; leave out "
            f"{', '.join(given)} (or start a new run with --force)"
        )
