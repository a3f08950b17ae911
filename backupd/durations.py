"""Durations in PostgreSQL's lock_timeout syntax ('60s', '500ms', '2min').

A module of its own because it is no part of the swap that uses it most: the restore engine checks
a `lock_timeout` before loading anything (a malformed one fails at once, not after the load), and
the swap turns it into its deadline and names it in "tables are busy".
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|h|d)?\s*")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(value: str | float) -> float:
    """A number of seconds, or a string in PostgreSQL's lock_timeout syntax ('60s', '500ms', '2min';
    a bare number means milliseconds, as there)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid lock_timeout {value!r}: use e.g. '60s' or '500ms'")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "ms"]


def duration_text(value: str | float) -> str:
    """The duration as the user gave it, for messages: '60s' stays '60s', 1.5 becomes '1.5s'."""
    return value.strip() if isinstance(value, str) else f"{value:g}s"
