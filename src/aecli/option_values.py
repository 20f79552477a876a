"""Options as Python values and as TOML: names checked (with a "did you mean"), types checked and
brought to the declared type, every option documented, and options written back as TOML.

Generic over an options dataclass (options.py's `TrainOptions`), so the declaration stays the one
place an option is described. No torch here: the CLI imports this at start-up.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import numbers
import os
from typing import Any

from aecli.errors import UserError

TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "True or False",
    "tuple[int, ...]": "a list of whole numbers, such as (128, 64)",
    "tuple[str, ...]": "a list of column names",
}


class OptionError(UserError, TypeError):
    """An option with an unknown name or a value of the wrong type (a TypeError too, as Python
    raises for a wrong keyword argument)."""


def parse_int_list(text: str, flag: str = "--hidden") -> tuple[int, ...]:
    """'128,64' -> (128, 64); '' or 'none' -> () (no hidden layers)."""
    text = text.strip().lower()
    if text in ("", "none", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(
            f"{flag} {text!r} is not a list of layer sizes; write it like {flag} 128,64"
        ) from None
    return sizes


def suggestion(name: str, known: list[str]) -> str:
    """'; did you mean 'latent_dim'?' for the known name closest to `name`, else ''."""
    close = difflib.get_close_matches(name.replace("-", "_"), known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_names(cls: type, names: list[str], where: str = "") -> None:
    """Refuse names that are not fields of `cls`, with the closest field as a suggestion."""
    known = [f.name for f in dataclasses.fields(cls)]
    for name in names:
        if name not in known:
            raise OptionError(
                f"{where}unknown option {name!r}{suggestion(str(name), known)} "
                f"(the options: help(aecli.train))"
            )


def coerced(cls: type, data: dict[str, Any], where: str = "") -> dict[str, Any]:
    """`data` with each value checked against its field's declared type and brought to it
    (lists to tuples, NumPy scalars to Python ones, whole numbers to floats where a float is
    declared); a wrong type is an OptionError naming the option and the type it takes."""
    check_names(cls, list(data), where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return {
        name: _coerce(value, str(fields[name].type), name, where) for name, value in data.items()
    }


def _coerce(value: Any, declared: str, name: str, where: str) -> Any:
    optional = declared.endswith(" | None")
    base = declared.removesuffix(" | None")
    if value is None and optional:
        return None
    out = _convert(value, base, name)
    if out is _WRONG:
        shown = repr(value) if len(repr(value)) <= 40 else type(value).__name__
        takes = TYPE_WORDS.get(base, base) + (" or None" if optional else "")
        hint = ""
        if isinstance(value, str) and base in ("int", "float"):
            number = _convert(_number(value), base, name)
            hint = f"; did you mean {name}={number!r}?" if number is not _WRONG else ""
        raise OptionError(
            f"{where}option {name} takes {takes}, not {shown} ({type(value).__name__}){hint}"
        )
    return out


_WRONG = object()


def _number(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, anything else -> the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _convert(value: Any, base: str, name: str) -> Any:
    if base == "bool":
        return bool(value) if isinstance(value, bool | _numpy_bool()) else _WRONG
    if isinstance(value, bool | _numpy_bool()):
        return _WRONG  # True is an int to Python, never a size or a rate to us
    if base == "int":
        return int(value) if isinstance(value, numbers.Integral) else _WRONG
    if base == "float":
        return float(value) if isinstance(value, numbers.Real) else _WRONG
    if base == "str":
        return value if isinstance(value, str) else _WRONG
    if base == "tuple[int, ...]":
        if isinstance(value, str):
            return parse_int_list(value, "--" + name.replace("_", "-"))
        if isinstance(value, numbers.Integral):
            return (int(value),)
        if not isinstance(value, list | tuple):
            return _WRONG
        sizes = [_convert(v, "int", name) for v in value]
        return _WRONG if any(s is _WRONG for s in sizes) else tuple(sizes)
    if base == "tuple[str, ...]":
        names = (value,) if isinstance(value, str) else value
        ok = isinstance(names, list | tuple) and all(isinstance(v, str) for v in names)
        return tuple(names) if ok else _WRONG
    return value


def _numpy_bool() -> type:
    import sys

    numpy = sys.modules.get("numpy")  # only a loaded NumPy can have made a NumPy bool
    return numpy.bool_ if numpy is not None else bool


# --- documentation --------------------------------------------------------------------------


def describe(cls: type, indent: str = "    ") -> str:
    """Every option of `cls` with its meaning and default, one paragraph each, generated from
    the declaration (for the docstrings of `aecli.train` and `aecli.Autoencoder`)."""
    import textwrap

    lines = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        head = f"{f.name}: {f.type} = {default!r}"
        meta = f.metadata
        text = meta["help"].replace("--", "")
        if meta["choices"]:
            text += f" One of: {', '.join(meta['choices'])}."
        if meta["low"] is not None:
            top = f" to {meta['high']:g}" if meta["high"] is not None else " or more"
            text += f" Range: {meta['low']:g}{top}."
        body = textwrap.fill(
            text,
            width=92,
            initial_indent=indent + "    ",
            subsequent_indent=indent + "    ",
        )
        lines += [indent + head, body]
    return "\n".join(lines)


# --- TOML -----------------------------------------------------------------------------------


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The options a TOML file sets (keys may be written with '-' or '_'; an optional
    [train] table is read as well as top-level keys); a one-line UserError if it cannot be read."""
    import tomllib

    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise UserError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: the config file cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None
    section = data.pop("train", {})
    if not isinstance(section, dict):
        raise UserError(f"{path}: 'train' must be a table of options ([train])")
    merged = {**data, **section}
    return {key.replace("-", "_"): value for key, value in merged.items()}


def to_toml(options: Any, header: str = "", unset: dict[str, Any] | None = None) -> str:
    """The options as TOML, one `name = value` line each in declaration order; an option left
    unset (None: the default, chosen by kind or data) is written as a comment, or as its
    `unset` value where one is given (TOML has no None)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if value is None and f.name in (unset or {}):
            value = (unset or {})[f.name]
        if value is None:
            lines.append(f"# {f.name} = (not set: the default)")
        else:
            lines.append(f"{f.name} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """One TOML value: a boolean, a number, a string or an array of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
