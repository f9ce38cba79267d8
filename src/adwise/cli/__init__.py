"""The ``adwise`` command line."""

from adwise.cli._main import app, main

__all__ = ["app", "main"]
