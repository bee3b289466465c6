"""The one exception type for problems with what the user gave us."""


class InputError(Exception):
    """Bad input: a path, a config key or value, a selection.

    The message is one line that names the file, key or value concerned; the CLI prints it and
    exits with status 2.
    """
