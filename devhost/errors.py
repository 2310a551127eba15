"""Errors that stop the host from starting (the real host refuses to index the same things)."""


class StartupError(Exception):
    """A configuration or metadata problem found before any trigger starts.

    The message says what is wrong and what to do; the CLI prints it and exits non-zero.
    """
