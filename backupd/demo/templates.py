"""The demo data's SQL: the template grammar expanded server-side, and the statements that draw events and alerts.

Text comes from a small template grammar (`{list}` placeholders expanded from word lists, inside
PostgreSQL) into pools of pieces whose tsvectors are computed once; events and alerts are drawn
from hashes of their number by `generate_series` statements. A module of its own because these
templates are long SQL written for the planner (see the comments on each), read apart from the
Python that runs them (`generate.py`).
"""

from __future__ import annotations

from .data import CAMERA_INDEX, CAMERAS, DAYPARTS, LEVELS, SCENARIOS, WORDS


def word_lists() -> dict[str, tuple[str, ...]]:
    lists = dict(WORDS)
    for s in SCENARIOS:
        lists[f"subject:{s.key}"] = s.subject
        lists[f"action:{s.key}"] = s.action
        lists[f"obs:{s.key}"] = s.observation
    for c in CAMERAS:
        lists[f"at:{c.id}"] = c.at
    return lists


def _level(score: int) -> int:
    return 0 if score < 30 else 1 if score < 60 else 2 if score < 85 else 3


def text_groups() -> list[tuple[int, int, str]]:
    """(kind, group, template) for every pool group: 1 summary, 2 reasoning, 3 optional extra sentence.

    Whole sentences are pooled rather than assembled per event: each `||` of tsvectors costs about as much
    as a hash join, so an event's search_vector is at most three pieces.
    """
    groups = []
    for sid, s in enumerate(SCENARIOS):
        for cam in s.cameras:
            groups.append((1, sid * 16 + CAMERA_INDEX[cam], f"{{subject:{s.key}}} {{action:{s.key}}} {{at:{cam}}}."))
        for dp, part in enumerate(DAYPARTS):
            # time-of-day context only where it matters (night, evening): GIN build time grows with lexemes
            context = f" {{ctx:{part}}}" if part in ("night", "evening") else ""
            for lv in range(_level(s.risk[0]), _level(s.risk[1]) + 1):
                groups.append((2, (sid * 4 + dp) * 4 + lv, f"{{obs:{s.key}}}{context} {{assess:{LEVELS[lv]}}}"))
    groups.append((3, 0, "{extra}"))
    return groups


EXPAND_SQL = """
CREATE TEMP TABLE demo_piece ON COMMIT DROP AS
WITH RECURSIVE expand (kind, grp, cand, depth, txt) AS (
    SELECT t.kind, t.grp, c.cand, 0, t.template
    FROM demo_template t CROSS JOIN generate_series(0, %(candidates)s - 1) AS c (cand)
  UNION ALL
    SELECT e.kind, e.grp, e.cand, e.depth + 1,
           left(e.txt, p.pos - 1)
           || w.items[1 + (hashint8extended(e.cand::bigint * 1000003 + e.grp * 101 + e.kind * 31 + e.depth, 7)
                           & 2147483647) %% cardinality(w.items)]
           || substr(e.txt, p.pos + length(m.name) + 2)
    FROM expand e
    CROSS JOIN LATERAL (SELECT strpos(e.txt, '{') AS pos) p
    CROSS JOIN LATERAL (SELECT split_part(substr(e.txt, p.pos + 1), '}', 1) AS name) m
    JOIN demo_words w ON w.name = m.name
    WHERE p.pos > 0 AND e.depth < 12
),
probed AS MATERIALIZED (  -- one parse per distinct piece, with a sentinel word appended
    SELECT kind, grp, txt, to_tsvector('english', txt || ' zzzq') AS probe
    FROM (SELECT DISTINCT kind, grp, txt FROM expand WHERE strpos(txt, '{') = 0) d
),
usable AS (  -- concatenating tsvectors equals parsing the concatenated text only for these pieces
    SELECT kind, grp, txt, ts_delete(probe, 'zzzq') AS tsv,
           row_number() OVER (PARTITION BY kind, grp ORDER BY md5(txt)) - 1 AS rn,
           count(*) OVER (PARTITION BY kind, grp) AS n
    FROM probed
    WHERE ts_delete(probe, 'zzzq') || 'zzzq:1'::tsvector = probe
)
SELECT kind::int AS kind, grp * %(pool)s + k::int AS key, txt, tsv
FROM usable CROSS JOIN LATERAL generate_series(rn, %(pool)s - 1, n) AS k
"""

JSON_POOL_SQL = """
CREATE TEMP TABLE demo_json ON COMMIT DROP AS
SELECT (s.sid * 2 + night::int) * 64 + v AS key,  -- 64 variants per scenario, by day and by night
    COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
            'type', k.kind,
            'confidence', round(0.55 + ((hashint8extended(v * 7 + k.ord, 21 + s.sid) & 1023) %% 45) / 100.0, 2),
            'bbox', jsonb_build_array(round(((hashint8extended(v, 31 + k.ord) & 1023) %% 60) / 100.0, 2),
                                      round(((hashint8extended(v, 41 + k.ord) & 1023) %% 50) / 100.0, 2),
                                      round(0.08 + ((hashint8extended(v, 51 + k.ord) & 1023) %% 30) / 100.0, 2),
                                      round(0.1 + ((hashint8extended(v, 61 + k.ord) & 1023) %% 40) / 100.0, 2)),
            'attributes', CASE k.kind
                WHEN 'person' THEN jsonb_build_object(
                    'clothing', %(colours)s[1 + v %% cardinality(%(colours)s)] || ' '
                                || %(clothing)s[1 + (v / 3) %% cardinality(%(clothing)s)],
                    'face_visible', v %% 3 = 0,
                    'carrying', CASE WHEN v %% 4 = 1 THEN %(items)s[1 + v %% cardinality(%(items)s)] END,
                    'known_member', CASE WHEN s.key IN ('resident', 'kids_playing') THEN to_jsonb('household'::text)
                                         ELSE 'null'::jsonb END)
                WHEN 'vehicle' THEN jsonb_build_object(
                    'kind', %(vehicles)s[1 + v %% cardinality(%(vehicles)s)],
                    'colour', %(colours)s[1 + (v / 2) %% cardinality(%(colours)s)],
                    'plate', CASE WHEN v %% 5 = 0 THEN 'KX-' || (4100 + v * 37) END,
                    'moving', v %% 2 = 0)
                WHEN 'package' THEN jsonb_build_object(
                    'size', (ARRAY['small', 'medium', 'large'])[1 + v %% 3],
                    'label_visible', v %% 2 = 1)
                ELSE jsonb_build_object(
                    'species', %(animals)s[1 + v %% cardinality(%(animals)s)],
                    'size', (ARRAY['small', 'medium', 'large'])[1 + (v / 4) %% 3])
            END
        ) ORDER BY k.ord)
        FROM unnest(s.entities) WITH ORDINALITY AS k (kind, ord)
    ), '[]'::jsonb) AS entities,
    jsonb_build_object(
        'after_hours', night,
        'unknown_person', s.key IN ('lingering', 'prowler', 'door_tamper', 'package_theft', 'solicitor',
                                    'vehicle_night'),
        'loitering', s.key IN ('lingering', 'prowler', 'vehicle_night'),
        'repeat_visitor', v %% 6 = 0,
        'tags', to_jsonb((ARRAY[s.key] || CASE WHEN night THEN ARRAY['night'] ELSE ARRAY[]::text[] END)
                         || CASE WHEN v %% 5 = 0 THEN ARRAY['reviewed-by-model'] ELSE ARRAY[]::text[] END)
    ) AS flags,
    jsonb_build_object(
        'detection', round(0.5 + ((hashint8extended(v, 71 + s.sid) & 1023) %% 50) / 100.0, 2),
        'time_of_day', CASE WHEN night THEN 0.35 ELSE -0.1 END,
        'familiarity', CASE WHEN s.key IN ('resident', 'kids_playing', 'service_worker') THEN 0.9
                            ELSE round(((hashint8extended(v, 81) & 1023) %% 40) / 100.0, 2) END,
        'zone_sensitivity', round(((hashint8extended(v, 91 + s.sid) & 1023) %% 100) / 100.0, 2),
        'frames', 8 + v %% 24
    ) AS confidence_factors
FROM demo_scenario s CROSS JOIN (VALUES (false), (true)) AS n (night) CROSS JOIN generate_series(0, 63) AS v
"""

# What each event of a batch is made of, drawn from hashes of its number i (which is also its id). Each derived
# value is computed once, in a chain of subqueries that OFFSET 0 keeps apart (flattened, every reference would
# re-evaluate the whole expression chain). `@lo@`/`@hi@` are literal ints so the planner knows the batch size
# and hashes the small pools.
_DRAW_SQL = """
    SELECT y.*,
           (y.local_date + y.tod * interval '1 second') AT TIME ZONE %(tz)s AS started_at,
           y.local_date + y.tod * interval '1 second' AS local_ts,
           lpad((y.tod / 3600 * 10000 + y.tod / 60 %% 60 * 100 + y.tod %% 60)::text, 6, '0') AS hms,
           CASE WHEN y.score < 30 THEN 0 WHEN y.score < 60 THEN 1 WHEN y.score < 85 THEN 2 ELSE 3 END AS lv,
           CASE WHEN y.score < 30 THEN 'low' WHEN y.score < 60 THEN 'medium' WHEN y.score < 85 THEN 'high'
                ELSE 'critical' END AS level,
           y.score < 15 AND y.h6 %% 5 = 0 AS fast,
           %(cam_ids)s[y.cam + 1] AS camera_id,
           %(cam_names)s[y.cam + 1] AS camera_name,
           %(objects)s[y.sid + 1] AS objects
    FROM (
        SELECT z.*,
               %(risk_lo)s[z.sid + 1] + z.h7 %% %(risk_span)s[z.sid + 1] AS score,
               %(cam_pick)s[z.sid * 64 + z.h8 %% 64 + 1] AS cam
        FROM (
            SELECT w.*, %(scenario_pick)s[w.dp * 1000 + w.h0 %% 1000 + 1] AS sid
            FROM (
                SELECT v.*,
                       CASE WHEN v.tod < 21600 OR v.tod >= 79200 THEN 0 WHEN v.tod < 43200 THEN 1
                            WHEN v.tod < 64800 THEN 2 ELSE 3 END AS dp,
                       %(base_date)s::timestamp + v.d * interval '1 day' AS local_date,
                       %(ymd)s[v.d + 1] AS ymd
                FROM (
                    SELECT t.*, %(tod)s[t.q + 1] + ((t.pos - t.q) * %(tod_step)s[t.q + 1])::int AS tod
                    FROM (
                        SELECT i, floor(f)::int AS d, (f - floor(f)) * 1000 AS pos,
                               floor((f - floor(f)) * 1000)::int AS q,
                               hashint8extended(i, 1) & 2147483647 AS h0,
                               hashint8extended(i, 2) & 2147483647 AS h1,
                               hashint8extended(i, 3) & 2147483647 AS h2,
                               hashint8extended(i, 4) & 2147483647 AS h3,
                               hashint8extended(i, 5) & 2147483647 AS h4,
                               hashint8extended(i, 6) & 2147483647 AS h5,
                               hashint8extended(i, 7) & 2147483647 AS h6,
                               hashint8extended(i, 8) & 2147483647 AS h7,
                               hashint8extended(i, 9) & 2147483647 AS h8,
                               hashint8extended(i, 10) & 2147483647 AS h9
                        FROM (SELECT i, (i - 1)::float8 * %(days)s / %(total)s AS f
                              FROM generate_series(@lo@::bigint, @hi@::bigint) AS i) s
                        OFFSET 0
                    ) t
                    OFFSET 0
                ) v
                OFFSET 0
            ) w
            OFFSET 0
        ) z
        OFFSET 0
    ) y
    OFFSET 0
"""

# One batch of events: the draw, joined to the text and json pools.
EVENTS_SQL = """
INSERT INTO events (id, batch_id, camera_id, started_at, ended_at, risk_score, risk_level, summary, reasoning,
                    llm_prompt, notes, reviewed, is_fast_path, object_types, clip_path, search_vector,
                    deleted_at, snooze_until, entities, flags, confidence_factors, recommended_action, flagged)
SELECT
    x.i,
    'batch_' || x.ymd || '_' || x.hms || '_' || lpad(to_hex(x.h1 & 65535), 4, '0'),
    x.camera_id,
    x.started_at,
    CASE WHEN x.h2 %% 40 = 0 THEN NULL ELSE x.started_at + (4 + x.h2 %% 170) * interval '1 second' END,
    x.score,
    x.level,
    su.txt,
    re.txt || COALESCE(' ' || ex.txt, ''),
    CASE WHEN x.fast THEN NULL ELSE
        'Camera: ' || x.camera_name || ' (' || x.camera_id || E')\\nLocal time: ' || x.local_ts
        || ' (' || %(tz)s || E')\\nDetected: ' || COALESCE(x.objects, 'motion only')
        || E'\\n' || %(tails)s[1 + x.h3 %% 3] END,
    CASE WHEN x.h6 %% 11 = 0 THEN %(notes)s[1 + (x.h6 / 11) %% %(note_count)s] END,
    (x.d < %(days)s - 7 AND x.h3 %% 10 < 7) OR x.h3 %% 10 = 9,
    x.fast,
    x.objects,
    CASE WHEN x.h4 %% 12 = 0 THEN NULL ELSE
        '/export/foscam/' || x.camera_id || '/clips/' || x.ymd || '/' || x.camera_id || '_' || x.hms || '.mp4' END,
    CASE WHEN ex.tsv IS NULL THEN su.tsv || re.tsv ELSE su.tsv || re.tsv || ex.tsv END,
    CASE WHEN x.h4 %% 97 = 0 THEN x.started_at + interval '2 days' END,
    CASE WHEN x.h5 %% 29 = 0 AND x.score >= 30 THEN x.started_at + interval '1 hour' END,
    j.entities,
    j.flags,
    j.confidence_factors,
    %(recommended)s[x.lv * 4 + 1 + x.h5 %% 4],
    (x.lv = 3 AND x.h5 %% 2 = 0) OR x.h5 %% 101 = 0
FROM (@draw@) x
-- single-column keys: with (group, index) pairs the planner's row estimates collapse and it hashes the batch
JOIN demo_piece su ON su.kind = 1 AND su.key = (x.sid * 16 + x.cam) * %(pool)s + x.h1 %% %(pool)s
JOIN demo_piece re ON re.kind = 2 AND re.key = ((x.sid * 4 + x.dp) * 4 + x.lv) * %(pool)s + x.h2 %% %(pool)s
LEFT JOIN demo_piece ex ON ex.kind = 3 AND ex.key = CASE WHEN x.h9 %% 10 < 3 THEN (x.h9 / 10) %% %(pool)s END
JOIN demo_json j ON j.key = (x.sid * 2 + (x.dp = 0)::int) * 64 + x.h7 %% 64
"""

# Alerts for ~30 % of a batch's events (every medium and worse, one in seven of the rest), read back by primary
# key. Measured alternatives: from the events INSERT's RETURNING (+20 %), or drawn again from the hashes (+40 %).
ALERTS_SQL = """
INSERT INTO alerts (id, event_id, rule_id, severity, status, created_at, updated_at, delivered_at, channels,
                    dedup_key, metadata, version_id)
SELECT gen_random_uuid(), a.id, %(rule_ids)s[1 + a.h %% 5], a.severity, a.status, a.created_at,
       a.created_at + CASE WHEN a.status = 'pending' THEN interval '0'
                           ELSE (60 + a.h %% 7200) * interval '1 second' END,
       CASE WHEN a.status <> 'pending' THEN a.created_at + (1 + a.h %% 5) * interval '1 second' END,
       %(channels)s[1 + a.g %% 8]::json,
       a.camera_id || ':' || COALESCE(replace(a.object_types, ', ', '+'), 'motion') || ':' || substr(a.batch_id, 7, 11),
       CASE a.g %% 5
           WHEN 0 THEN ('{"risk_score": ' || a.risk_score || ', "camera_id": "' || a.camera_id
                        || '", "objects": ' || a.objects || '}')::json
           WHEN 1 THEN (E'{\\n  "camera_id": "' || a.camera_id || E'",\\n  "risk_score": ' || a.risk_score
                        || E',\\n  "rule": {\\n    "name": "risk >= ' || a.risk_score / 10 * 10
                        || E'",\\n    "cooldown_s": 300\\n  }\\n}')::json
           WHEN 2 THEN ('{"camera_id":"' || a.camera_id || '","risk_score":' || a.risk_score
                        || ',"escalated":' || (a.severity >= 'high') || ',"note":"caf\\u00e9 \\"night\\" check"}')::json
           WHEN 3 THEN ('{ "objects" : ' || a.objects || E' ,\\t"retries" : [ ' || a.h %% 3 || ' ] }')::json
           ELSE NULL
       END,
       1 + (a.status <> 'pending')::int + (a.g %% 7 = 0)::int
FROM (
    SELECT e.id, e.camera_id, e.risk_score, e.object_types, e.batch_id, b.h, b.g,
           e.started_at + (2 + b.h %% 20) * interval '1 second' AS created_at,
           CASE WHEN b.g %% 23 = 0 AND e.risk_level <> 'critical'
                THEN (enum_range(e.risk_level::alert_severity, NULL))[2]
                ELSE e.risk_level::alert_severity END AS severity,
           CASE WHEN e.started_at < now() - interval '1 day'
                THEN (ARRAY['delivered', 'acknowledged', 'acknowledged', 'dismissed'])[1 + b.g %% 4]
                ELSE (ARRAY['pending', 'delivered'])[1 + b.g %% 2] END::alert_status AS status,
           COALESCE('["' || replace(e.object_types, ', ', '", "') || '"]', '[]') AS objects
    FROM events e
    CROSS JOIN LATERAL (SELECT hashint8extended(e.id, 41) & 2147483647 AS h,
                               hashint8extended(e.id, 42) & 2147483647 AS g) b
    WHERE e.id BETWEEN @lo@ AND @hi@ AND (e.risk_level <> 'low' OR b.g %% 7 = 0)
    OFFSET 0
) a
"""


def _typed(query: str, types: dict[str, str]) -> str:
    """Cast array parameters explicitly: psycopg leaves the element type of a list of str to the server."""
    for name, type_ in types.items():
        query = query.replace(f"%({name})s", f"(%({name})s::{type_})")
    return query


JSON_POOL_SQL = _typed(JSON_POOL_SQL, dict.fromkeys(("colours", "clothing", "items", "vehicles", "animals"), "text[]"))
EVENTS_SQL = _typed(
    EVENTS_SQL.replace("@draw@", _DRAW_SQL),
    {
        **dict.fromkeys(("tails", "recommended", "cam_ids", "cam_names", "objects", "notes"), "text[]"),
        **dict.fromkeys(("tod", "risk_lo", "risk_span", "cam_pick", "scenario_pick", "ymd"), "int[]"),
        "tod_step": "float8[]",
        "tz": "text",
        "days": "int",
        "total": "int",
        "pool": "int",
        "note_count": "int",
    },
)
ALERTS_SQL = _typed(ALERTS_SQL, {"rule_ids": "uuid[]", "channels": "text[]"})


# Transaction-local settings for the load.
SESSION_SETTINGS = {
    "maintenance_work_mem": "256MB",  # the GIN build is faster with room to accumulate (64MB: +25 %)
    "work_mem": "64MB",
    # the planner must hash the small pools; a nested loop over them per event would take minutes
    "enable_nestloop": "off",
    "enable_mergejoin": "off",
    "jit": "off",  # it would recompile the same large plan for every batch
    "synchronous_commit": "off",  # demo data: not worth waiting for the flush of ~2 GB of WAL at commit
}

# Statistics for what queries filter on. The text, tsvector and jsonb columns are left to autovacuum: their
# statistics cost seconds (ANALYZE of every events column takes longer than building its indexes).
ANALYZE_SQL = (
    "ANALYZE cameras, zones, prompts, baselines, household_members, settings,"
    " events (id, batch_id, camera_id, started_at, ended_at, risk_score, risk_level, reviewed, flagged, deleted_at),"
    " alerts (id, event_id, severity, status, created_at, dedup_key)"
)
