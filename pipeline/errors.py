"""Exceptions that the CLI turns into a one-line message and a non-zero exit code."""


class StraitwatchError(Exception):
    """A user-facing error: bad input, bad configuration, unreachable database."""


class MigrationError(StraitwatchError):
    """A migration file is malformed, or an applied migration was edited afterwards."""
