"""What time it is, for the scheduler: the wall clock, or in tests a clock that runs faster.

`BACKUPD_TEST_CLOCK=<ISO start>@<unix seconds>x<factor>` (tests only) makes every process that
has it agree that at real time <unix seconds> it was <ISO start>, and that time passes <factor>
times faster from then on. Three `serve` replicas then walk through a day of `* * * * *` in
seconds, with the real five-field cron expressions, real sleeps and real PostgreSQL.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import ConfigError

TEST_CLOCK_ENV = "BACKUPD_TEST_CLOCK"


class Clock:
    """The wall clock (UTC)."""

    scale = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, span: timedelta) -> float:
        """How long the process must really wait for `span` of this clock to pass."""
        return max(0.0, span.total_seconds() / self.scale)


@dataclass
class ScaledClock(Clock):
    start: datetime  # what this clock read ...
    real_start: float  # ... at this time.time()
    scale: float = 1.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.real_start) * self.scale)

    def spec(self) -> str:
        return f"{self.start.isoformat()}@{self.real_start}x{self.scale}"


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    text = (environ if environ is not None else os.environ).get(TEST_CLOCK_ENV, "").strip()
    if not text:
        return Clock()
    try:
        start, rest = text.split("@", 1)
        real, scale = rest.split("x", 1)
        when = datetime.fromisoformat(start.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return ScaledClock(when.astimezone(UTC), float(real), float(scale))
    except ValueError:
        raise ConfigError(
            f"{TEST_CLOCK_ENV} must look like 2026-03-29T00:59:00Z@1760000000.5x60, got {text!r}"
        ) from None
