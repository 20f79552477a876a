"""The exception family of a user's mistake; the CLI prints it as one line, exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: bad data, a bad option, a file in the way.

    The message says what is wrong (naming the file, column or value) and how to fix it.
    """

    exit_code = 2


class AecliWarning(UserWarning):
    """Something the user should know that does not stop the command."""


class DataError(UserError):
    """The input data cannot be used as it is."""


class CheckpointError(UserError):
    """A checkpoint file is missing, damaged, tampered with or from a newer aecli."""


class OutputExistsError(UserError):
    """An output file already exists and --force was not given."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; nothing was saved."""


class TrainingInterrupted(UserError):
    """Training stopped on request (SIGINT / SIGTERM); its state was saved for --resume."""

    exit_code = 130

    def __init__(self, saved: object, epoch: int) -> None:
        self.saved = saved
        where = f"progress saved to {saved}" if saved else "nothing was saved"
        super().__init__(f"training interrupted in epoch {epoch}; {where}")


def check_int(value: object, name: str, low: int, high: int) -> int:
    """`value` if it is an int (not a bool) in [low, high]; else a CheckpointError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CheckpointError(f"checkpoint metadata: {name} = {value!r} is not in [{low}, {high}]")
    return value
