"""The mini-program's JSON API under ``/api/v1/`` (being built)."""

from flask import Flask


def register(app: Flask) -> None:
    """Attach the API to the app."""
