"""The error of a session directory that cannot do what was asked."""

from __future__ import annotations


class SessionError(ValueError):
    """The session directory cannot do what was asked (one line that says what to do)."""
