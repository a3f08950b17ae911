"""Retention: the pure keep policy (`policy.py`, restic's `forget --keep-*` meaning) and its
application to job rows and store objects (`apply.py`)."""
