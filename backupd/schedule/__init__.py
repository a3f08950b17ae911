"""Automatic backups and drills: cron expressions in a time zone (`cron.py`), the schedule and
retention settings in force with their bookkeeping of anchors and slots (`settings.py`), the
scheduler thread of `serve` (`scheduler.py`), and the clock it reads (`clock.py`, fast in tests)."""
