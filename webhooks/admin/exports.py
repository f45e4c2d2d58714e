"""exports views of the desk (being built)."""

from webhooks.admin import bp  # noqa: F401
