"""Fixtures of the mini-program API: sessions and bearer tokens (issue 9)."""
