"""Fixtures of the bureau desk: desk users and signing in (issue 8)."""
