"""The ``p2c`` command: a thin face over the library (parse, call, render)."""

from p2c.cli._app import app, main

__all__ = ["app", "main"]
