"""The exceptions the CLI reports as one line: bad input (exit 2) and failed tasks (exit 1);
the check of an output path."""

import os


class InputError(Exception):
    """Bad input: a path, a config key or value, a selection.

    The message is one line that names the file, key or value concerned; the CLI prints it and
    exits with status 2.
    """


class TaskFailed(Exception):
    """A task of a distributed run failed on every attempt; the message names the task (block,
    step, field, SPW and times, or an apply chunk's rows) and the error."""


def check_output(path: str) -> None:
    """InputError unless a new file or table can be written at `path` (its folder exists
    and is writable)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{path}: folder {folder} is not writable")
