"""The exceptions the CLI reports as one line: bad input (exit 2) and failed tasks (exit 1)."""


class InputError(Exception):
    """Bad input: a path, a config key or value, a selection.

    The message is one line that names the file, key or value concerned; the CLI prints it and
    exits with status 2.
    """


class TaskFailed(Exception):
    """A task of a distributed run failed on every attempt; the message names the task (block,
    step, field, SPW and times, or an apply chunk's rows) and the error."""
