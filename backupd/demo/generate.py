"""Realistic synthetic data for the eight application tables (`backupd demo-data`).

Everything big is generated inside PostgreSQL with `INSERT ... SELECT ... FROM generate_series`, driven by
hashes of the series number (deterministic for a given day), so nothing crosses the wire row by row and a
million events (~1.5 GB) take well under a minute on two cores. Most of that time is PostgreSQL writing the
heap and WAL and building the GIN index on search_vector; see `generate_demo_data` for what is set aside.

Text is built from a small template grammar (`{list}` placeholders expanded from word lists, server-side) into
pools of a few thousand pieces whose tsvectors are computed once. An event's summary and reasoning are pool
pieces joined by spaces, and its search_vector is the `||` of their tsvectors, which equals
`to_tsvector('english', summary || ' ' || reasoning)` exactly: a piece is only kept when its last position
counts as its word count (it must not end in a stop word), the one condition under which concatenating
tsvectors matches parsing the concatenated text. Running to_tsvector per event would cost about 90 µs a row.

This module is the generator: one transaction that sets the big tables' indexes and foreign keys aside, fills
the small tables, builds the pools and runs the batches. What the data says is in `data.py`, the SQL that
makes it in `templates.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import psycopg
from psycopg import sql

from ..db.connection import first_line, one_row
from ..errors import BackupdError
from .data import (
    ALERT_CHANNELS,
    CAMERA_INDEX,
    CAMERAS,
    DAYPARTS,
    DAYS,
    HOURLY_WEIGHTS,
    LEVELS,
    MEMBERS,
    NOTES,
    PROMPT_TAILS,
    PROMPTS,
    RECOMMENDED,
    RULE_IDS,
    SCENARIOS,
    SETTINGS,
    SYSTEM_PROMPT,
    TIMEZONE,
    WORDS,
)
from .templates import (
    ALERTS_SQL,
    ANALYZE_SQL,
    EVENTS_SQL,
    EXPAND_SQL,
    JSON_POOL_SQL,
    SESSION_SETTINGS,
    text_groups,
    word_lists,
)

APP_TABLES = ("cameras", "zones", "prompts", "baselines", "household_members", "settings", "events", "alerts")
BIG_TABLES = ("events", "alerts")  # the ones whose indexes and foreign keys are set aside while loading
BATCH_SIZE = 100_000
POOL = 128  # pieces per text group, after de-duplication (groups with fewer distinct pieces repeat them)
CANDIDATES = 128  # expansions tried per group


class DemoDataError(BackupdError):
    """The demo data could not be generated; nothing was changed."""


def generate_demo_data(
    conn: psycopg.Connection, events: int = 10000, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Replace the data of the eight application tables with realistic synthetic data, in one transaction.

    `progress(step, percent)` is called as the work goes (percent 0..100, never decreasing). Returns the number
    of rows now in each table. The plain indexes and the foreign keys of events and alerts are dropped while
    loading and recreated from their catalog definitions before commit: per-row GIN maintenance and FK checks
    would more than double the time. Either everything is replaced or nothing changes.
    """
    if events < 0:
        raise ValueError("events must be >= 0")
    report = progress or (lambda _step, _percent: None)
    report("Preparing", 0)
    try:
        with conn.transaction():
            _check_schema(conn)
            for setting, value in SESSION_SETTINGS.items():
                conn.execute("SELECT set_config(%s, %s, true)", [setting, value])
            seqscan = one_row(conn.execute("SELECT current_setting('enable_seqscan')"))[0]
            indexes = _secondary_indexes(conn)
            foreign_keys = _foreign_keys(conn)
            conn.execute("TRUNCATE " + ", ".join(APP_TABLES) + " RESTART IDENTITY")
            for index, _, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(*index)))
            for table, name, _ in foreign_keys:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(*table), sql.Identifier(name))
                )
            counts = _fill_small_tables(conn)
            report("Preparing text pools", 2)
            params = _prepare_pools(conn, events)
            alert_params = {"rule_ids": list(RULE_IDS), "channels": list(ALERT_CHANNELS)}
            counts["events"] = counts["alerts"] = 0
            for lo in range(1, events + 1, BATCH_SIZE):
                hi = min(events, lo + BATCH_SIZE - 1)
                report(f"Inserting events {lo:,}-{hi:,} of {events:,}", 5 + 60 * (lo - 1) // events)
                bounds = {"@lo@": str(int(lo)), "@hi@": str(int(hi))}
                counts["events"] += conn.execute(_batch(EVENTS_SQL, bounds), params).rowcount
                # the new rows by primary key, never by scanning the whole table
                conn.execute("SELECT set_config('enable_seqscan', 'off', true)")
                counts["alerts"] += conn.execute(_batch(ALERTS_SQL, bounds), alert_params).rowcount
                conn.execute("SELECT set_config('enable_seqscan', %s, true)", [seqscan])
            # event i has id i: the sequence continues after them
            conn.execute("SELECT setval(pg_get_serial_sequence('events', 'id'), %s, %s)", [max(events, 1), events > 0])
            done, total = 0, sum(weight for _, _, weight in indexes)
            for (_, name), definition, weight in indexes:
                report(f"Building index {name}", 65 + 28 * done // max(total, 1))
                conn.execute(definition)  # pg_get_indexdef output
                done += weight
            report("Checking foreign keys", 93)
            for table, name, definition in foreign_keys:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(*table), sql.Identifier(name))
                    + sql.SQL(definition)
                )
            report("Analyzing", 97)
            conn.execute(ANALYZE_SQL)
    except psycopg.Error as exc:
        raise DemoDataError(f"demo data not generated: {first_line(exc)}") from exc
    report("Done", 100)
    return {table: counts[table] for table in APP_TABLES}


def _batch(query: str, bounds: dict[str, str]) -> sql.SQL:
    """The statement for one batch: its bounds are ints, written in so that the planner sees the batch size."""
    for marker, value in bounds.items():
        query = query.replace(marker, value)
    return sql.SQL(query)  # our constant with two ints substituted


def _check_schema(conn: psycopg.Connection) -> None:
    missing = [t for t in APP_TABLES if one_row(conn.execute("SELECT to_regclass(%s)", [t]))[0] is None]
    if missing:
        raise DemoDataError(f"the application schema is missing ({', '.join(missing)}); run `backupd migrate`")


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[tuple[str, str], str, int]]:
    """Plain (non-unique, non-constraint) indexes of the big tables: ((schema, name), CREATE INDEX, weight).

    Unique indexes stay: a foreign key may depend on one. The weight is the index's rough share of build time.
    """
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname,
               pg_get_indexdef(i.indexrelid)
               || CASE WHEN c.reltablespace = 0 THEN ''
                       ELSE ' TABLESPACE ' || quote_ident((SELECT spcname FROM pg_tablespace
                                                           WHERE oid = c.reltablespace)) END,
               am.amname
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_am am ON am.oid = c.relam
        WHERE i.indrelid = ANY (%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
        ORDER BY i.indrelid, c.relname
        """,
        [list(BIG_TABLES)],
    ).fetchall()
    return [((schema, name), definition, 6 if am == "gin" else 1) for schema, name, definition, am in rows]


def _foreign_keys(conn: psycopg.Connection) -> list[tuple[tuple[str, str], str, str]]:
    """Foreign keys of the big tables: ((schema, table), constraint name, definition for ADD CONSTRAINT)."""
    rows = conn.execute(
        """
        SELECT n.nspname, t.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class t ON t.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE k.contype = 'f' AND k.conrelid = ANY (%s::regclass[])
        ORDER BY k.conrelid, k.conname
        """,
        [list(BIG_TABLES)],
    ).fetchall()
    return [((schema, table), name, definition) for schema, table, name, definition in rows]


def _zone_rows() -> list[tuple[object, ...]]:
    """Two to four zones per camera: rectangles and polygons in normalised coordinates, varied names and colours."""
    zones: list[tuple[object, ...]] = []
    for i, c in enumerate(CAMERAS):
        for z in range(2 + i % 3):
            zone_type = ("entry_point", "driveway", "sidewalk", "yard", "other")[(i + z) % 5]
            polygon = (i + z) % 3 == 0
            x, y = 0.05 + 0.1 * z, 0.1 + 0.05 * i
            points = (
                [[x, y], [x + 0.3, y + 0.02], [x + 0.35, y + 0.4], [x + 0.1, y + 0.5], [x - 0.02, y + 0.3]]
                if polygon
                else [[x, y], [x + 0.3, y], [x + 0.3, y + 0.25], [x, y + 0.25]]
            )
            coordinates = {"points": [[round(a, 3), round(b, 3)] for a, b in points], "normalized": True}
            name = ("Allée d'entrée", "Walkway", "Lawn", "Flower bed", "Gate area")[(i + z) % 5]
            zones.append(
                (
                    f"{c.id}-{zone_type}-{z + 1}",
                    c.id,
                    f"{c.name}: {name}",
                    zone_type,
                    json.dumps(coordinates),
                    "polygon" if polygon else "rectangle",
                    ("#3B82F6", "#EF4444", "#10b981", "#F59E0B", "#8b5cf6")[(i + z) % 5],
                    (i + z) % 7 != 6,
                    z * 10 if z else 0,
                )
            )
    return zones


def _fill_small_tables(conn: psycopg.Connection) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO cameras (id, name, folder_path, status, created_at, last_seen_at) VALUES"
            " (%s, %s, %s, %s, now() - make_interval(days => %s), now() - make_interval(mins => %s))",
            [
                (
                    c.id,
                    c.name,
                    f"/export/foscam/{c.id}",
                    c.status,
                    400 - 30 * i,
                    None if c.status == "unknown" else 1 + i * 7 * (c.status != "online"),
                )
                for i, c in enumerate(CAMERAS)
            ],
        )
        zones = _zone_rows()
        cur.executemany(
            "INSERT INTO zones (id, camera_id, name, zone_type, coordinates, shape, color, enabled, priority)"
            " VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)",
            zones,
        )
        cur.executemany(
            "INSERT INTO prompts (model, system_prompt, temperature, max_tokens, version, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, now() - interval '120 days', now() - %s * interval '1 day')",
            [(m, SYSTEM_PROMPT.format(model=m), t, mt, v, 3 * v) for m, t, mt, v in PROMPTS],
        )
        cur.executemany(
            "INSERT INTO household_members (name, role, trusted_level, typical_schedule, notes, created_at)"
            " VALUES (%s, %s, %s, %s::jsonb, %s, now() - %s * interval '1 day')",
            [
                (n, r, t, None if s is None else json.dumps(s, ensure_ascii=False), notes, 200 - 20 * i)
                for i, (n, r, t, s, notes) in enumerate(MEMBERS)
            ],
        )
        cur.executemany(
            "INSERT INTO settings (key, value, updated_at) VALUES (%s, %s::jsonb, now() - %s * interval '1 hour')",
            [(k, json.dumps(v, ensure_ascii=False), 5 * i) for i, (k, v) in enumerate(SETTINGS)],
        )
    weights = ",".join(str(w) for w in HOURLY_WEIGHTS)
    baselines = conn.execute(
        f"""
        INSERT INTO baselines (camera_id, hour, day_of_week, avg_count, sample_count, last_updated)
        SELECT c.id, h, d,
               round(((ARRAY[{weights}])[h + 1] * (0.4 + (hashtext(c.id) & 7) / 10.0)
                      * CASE WHEN d IN (0, 6) THEN 1.25 ELSE 1 END
                      + ((hashint8extended(h * 7 + d, hashtext(c.id)) & 1023) / 1023.0))::numeric, 3)::float8,
               12 + (hashint8extended(h * 7 + d, 5) & 3),
               now() - ((hashint8extended(h * 7 + d, 6) & 4095) * interval '1 minute')
        FROM cameras c CROSS JOIN generate_series(0, 23) h CROSS JOIN generate_series(0, 6) d
        ORDER BY c.id, d, h
        """
    ).rowcount
    return {
        "cameras": len(CAMERAS),
        "zones": len(zones),
        "prompts": len(PROMPTS),
        "baselines": baselines,
        "household_members": len(MEMBERS),
        "settings": len(SETTINGS),
    }


def _prepare_pools(conn: psycopg.Connection, events: int) -> dict[str, object]:
    """Build the pools (temp tables of text pieces and json values) and the parameters of the events statement."""
    conn.execute("CREATE TEMP TABLE demo_words (name text PRIMARY KEY, items text[] NOT NULL) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE demo_template (kind int, grp int, template text) ON COMMIT DROP")
    conn.execute(
        "CREATE TEMP TABLE demo_scenario (sid int PRIMARY KEY, key text NOT NULL, entities text[] NOT NULL)"
        " ON COMMIT DROP"
    )
    with conn.cursor() as cur:
        with cur.copy("COPY demo_words (name, items) FROM STDIN") as copy:
            for name, items in word_lists().items():
                copy.write_row((name, list(items)))
        with cur.copy("COPY demo_template (kind, grp, template) FROM STDIN") as copy:
            for row in text_groups():
                copy.write_row(row)
        with cur.copy("COPY demo_scenario (sid, key, entities) FROM STDIN") as copy:
            for sid, s in enumerate(SCENARIOS):
                copy.write_row((sid, s.key, list(s.entities)))
    conn.execute(EXPAND_SQL, {"candidates": CANDIDATES, "pool": POOL})
    short = conn.execute(
        "SELECT t.kind, t.grp FROM demo_template t"
        " LEFT JOIN (SELECT kind, key / %(pool)s AS grp, count(*) AS n FROM demo_piece GROUP BY 1, 2) p"
        " USING (kind, grp)"
        " WHERE coalesce(p.n, 0) <> %(pool)s",
        {"pool": POOL},
    ).fetchall()
    if short:  # a template whose every expansion ends in a stop word: a bug in the word lists above
        raise DemoDataError(f"demo text pool incomplete for groups {short}")
    conn.execute(
        JSON_POOL_SQL,
        {
            "colours": list(WORDS["colour"]),
            "clothing": list(WORDS["clothing"]),
            "items": list(WORDS["item"]),
            "vehicles": list(WORDS["vehicle"]),
            "animals": list(WORDS["animal"]),
        },
    )
    conn.execute("ANALYZE demo_piece, demo_json")
    base_date = one_row(conn.execute("SELECT (now() AT TIME ZONE %s)::date - %s", [TIMEZONE, DAYS]))[0]
    tod, tod_step = _time_of_day_quantiles()
    return {
        "tz": TIMEZONE,
        "days": DAYS,
        "total": max(events, 1),
        "pool": POOL,
        "notes": list(NOTES),
        "note_count": len(NOTES),
        "base_date": base_date,
        "tod": tod,
        "tod_step": tod_step,
        "ymd": [int((base_date + timedelta(days=d)).strftime("%Y%m%d")) for d in range(DAYS)],
        "scenario_pick": _scenario_pick(),
        "cam_pick": _camera_pick(),
        "risk_lo": [s.risk[0] for s in SCENARIOS],
        "risk_span": [s.risk[1] - s.risk[0] + 1 for s in SCENARIOS],
        "objects": [s.objects for s in SCENARIOS],
        "cam_ids": [c.id for c in CAMERAS],
        "cam_names": [c.name for c in CAMERAS],
        "recommended": [a for level in LEVELS for a in RECOMMENDED[level]],
        "tails": list(PROMPT_TAILS),
    }


def _time_of_day_quantiles() -> tuple[list[int], list[float]]:
    """1000 quantiles of the daily activity curve (seconds after midnight) and the width of each.

    Event i of a day sits at quantile i/n of the curve, so timestamps grow with ids (as in the real
    application) while busy hours get more events than the night.
    """
    total = sum(HOURLY_WEIGHTS)
    cumulative = [0.0]
    for w in HOURLY_WEIGHTS:
        cumulative.append(cumulative[-1] + w / total)

    def seconds_at(p: float) -> float:
        for h in range(24):
            if p <= cumulative[h + 1]:
                return 3600 * (h + (p - cumulative[h]) / (cumulative[h + 1] - cumulative[h]))
        return 86399.0

    starts = [seconds_at(q / 1000) for q in range(1001)]
    return [int(s) for s in starts[:1000]], [float(min(starts[q + 1], 86399) - int(starts[q])) for q in range(1000)]


def _scenario_pick() -> list[int]:
    """For each daypart, 1000 slots filled with scenario ids in proportion to their weights."""
    pick: list[int] = []
    for dp in range(len(DAYPARTS)):
        weights = [s.weights[dp] for s in SCENARIOS]
        total = sum(weights)
        slots: list[int] = []
        for sid, w in enumerate(weights):
            slots += [sid] * round(1000 * w / total)
        slots = (slots + [weights.index(max(weights))] * 1000)[:1000]
        pick += slots
    return pick


def _camera_pick() -> list[int]:
    """For each scenario, 64 slots of camera indexes spread over the cameras it happens on."""
    return [CAMERA_INDEX[s.cameras[k % len(s.cameras)]] for s in SCENARIOS for k in range(64)]
