"""The only module a WSGI server needs."""

from webhooks.app import create_app

app = create_app()
