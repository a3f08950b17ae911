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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg import sql

from .database import first_line
from .errors import BackupdError

APP_TABLES = ("cameras", "zones", "prompts", "baselines", "household_members", "settings", "events", "alerts")
BIG_TABLES = ("events", "alerts")  # the ones whose indexes and foreign keys are set aside while loading
BATCH_SIZE = 100_000
POOL = 128  # pieces per text group, after de-duplication (groups with fewer distinct pieces repeat them)
CANDIDATES = 128  # expansions tried per group
DAYS = 90
TIMEZONE = "America/New_York"


class DemoDataError(BackupdError):
    """The demo data could not be generated; nothing was changed."""


# --- cameras and their surroundings -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    status: str
    at: tuple[str, ...]  # where things happen, as seen by this camera ("at the front door")


CAMERAS = (
    Camera("front_door", "Front Door", "online",
           ("at the front door", "on the front steps", "in front of the doorbell camera", "by the welcome mat")),
    Camera("driveway", "Driveway", "online",
           ("in the driveway", "near the parked cars", "at the end of the driveway", "by the garage apron")),
    Camera("backyard", "Backyard", "online",
           ("in the backyard", "near the patio furniture", "along the back fence", "beside the vegetable beds")),
    Camera("garage", "Garage", "offline",
           ("outside the garage", "next to the garage door", "by the recycling bins", "under the garage light")),
    Camera("side_gate", "Side Gate", "online",
           ("at the side gate", "on the narrow side path", "by the gate latch", "next to the water meter")),
    Camera("porch", "Entrée (Porch)", "online",
           ("on the porch", "beside the porch swing", "near the package shelf", "at the top of the porch stairs")),
    Camera("sidewalk", "Street / Sidewalk", "error",
           ("on the sidewalk", "across the street", "by the mailbox", "near the curb")),
    Camera("pool_deck", "Pool Deck", "unknown",
           ("on the pool deck", "next to the pool pump", "by the lounge chairs", "near the pool fence")),
)
CAMERA_INDEX = {c.id: i for i, c in enumerate(CAMERAS)}

DAYPARTS = ("night", "morning", "afternoon", "evening")  # 22-6, 6-12, 12-18, 18-22 local time
LEVELS = ("low", "medium", "high", "critical")  # risk_score 0-29, 30-59, 60-84, 85-100
HOURLY_WEIGHTS = (2, 1, 1, 1, 1, 2, 5, 9, 11, 10, 9, 9, 10, 11, 12, 13, 14, 15, 14, 12, 9, 7, 5, 3)


@dataclass(frozen=True)
class Scenario:
    key: str
    objects: str | None  # events.object_types
    risk: tuple[int, int]
    weights: tuple[int, int, int, int]  # relative frequency per daypart
    cameras: tuple[str, ...]
    entities: tuple[str, ...]  # entity kinds listed in events.entities
    subject: tuple[str, ...]
    action: tuple[str, ...]
    observation: tuple[str, ...]


SCENARIOS = (
    Scenario("delivery", "person, package", (3, 22), (0, 14, 22, 6), ("front_door", "porch"), ("person", "package"),
             ("A delivery driver in a {colour} uniform", "A {carrier} courier",
              "A courier wearing a {colour} {clothing}",
              "A delivery person carrying a {item}"),
             ("dropped off a {item}", "left a {item} and walked back to a {colour} {vehicle}",
              "rang the bell, placed a {item} down and left", "photographed a delivered {item} before leaving"),
             ("The subject walked straight up, stayed for about {seconds} seconds and returned to a {colour} {vehicle} "
              "parked at the curb.",
              "The person held a {item} with a visible shipping label and never touched the door handle.",
              "Movement was purposeful: approach, drop off, photo, leave, all within {seconds} seconds.",
              "A {carrier} logo was visible on the {clothing} and the vehicle carried matching livery.")),
    Scenario("resident", "person", (0, 8), (2, 14, 8, 14),
             ("front_door", "driveway", "garage", "side_gate", "porch"), ("person",),
             ("A resident", "A household member in a {colour} {clothing}", "A familiar adult", "Two residents"),
             ("arrived home and unlocked the door", "left the house carrying a {bag}",
              "walked to the car and drove away", "took the bins out", "came back from a walk with the dog"),
             ("Face and gait match a known household member, and the door was opened with a key.",
              "The timing matches the typical schedule stored for this household.",
              "The person was recognised from {seconds} seconds of clear footage and behaved normally.",
              "Known vehicle, known person, and a routine path from the car to the entrance.")),
    Scenario("vehicle_pass", "vehicle", (0, 12), (3, 10, 12, 8), ("driveway", "sidewalk"), ("vehicle",),
             ("A {colour} {vehicle}", "A {vehicle} with {lights} headlights", "A {colour} delivery van"),
             ("drove past without stopping", "slowed down briefly and continued", "turned around using the driveway",
              "waited at the stop sign and moved on"),
             ("The vehicle stayed in frame for about {seconds} seconds and never left the public road.",
              "No occupant got out and the vehicle did not return during the next ten minutes.",
              "Plate not readable at this distance; traffic on this street is common at this hour.")),
    Scenario("animal", "animal", (0, 10), (10, 6, 5, 9), ("backyard", "side_gate", "garage", "pool_deck"), ("animal",),
             ("A {animal}", "A small {animal}", "A neighbourhood {animal}"),
             ("crossed the yard", "walked along the fence line", "set off the motion sensor near the bins",
              "sniffed around the flower beds"),
             ("The detector classified the shape as a {animal} with high confidence for {seconds} seconds.",
              "Low, four-legged movement close to the ground; no person appeared in the sequence.",
              "The animal left the frame on its own and nothing was disturbed.")),
    Scenario("false_motion", None, (0, 5), (8, 4, 5, 6), tuple(c.id for c in CAMERAS), (),
             ("Moving shadows", "Headlight glare", "Rain on the lens", "Swaying branches", "A spider web on the lens",
              "Flickering light"),
             ("triggered a motion event", "caused a brief detection", "produced a false positive",
              "tripped the motion threshold"),
             ("No object was detected in any of the {seconds} analysed frames.",
              "Pixel changes were spread across the whole image, which is typical of lighting changes.",
              "The motion pattern repeats with the wind and contains no person or vehicle.")),
    Scenario("service_worker", "person, vehicle", (4, 20), (0, 10, 8, 1), ("backyard", "driveway", "side_gate",
                                                                          "pool_deck"), ("person", "vehicle"),
             ("A landscaper", "A pool technician", "A meter reader in a {colour} vest", "A house cleaner",
              "A plumber in a {colour} {clothing}"),
             ("arrived at the scheduled time", "worked along the flower beds for a while",
              "came in through the side gate with equipment", "checked the water meter and left"),
             ("The visit matches a service worker in the household list with a {weekday} schedule.",
              "Tools and a marked work {vehicle} are consistent with scheduled maintenance.",
              "The worker stayed for about {minutes} minutes and left by the same route.")),
    Scenario("solicitor", "person", (20, 45), (0, 6, 10, 5), ("front_door", "porch"), ("person",),
             ("A door-to-door salesperson", "A canvasser holding a clipboard", "Two people with leaflets",
              "A stranger in a {colour} {clothing}"),
             ("knocked and waited for an answer", "left a flyer in the door", "rang the bell twice and moved on",
              "spoke into the doorbell for a minute"),
             ("The visitor waited about {seconds} seconds, left printed material and went to the next house.",
              "Not a known person, but the behaviour matches canvassing seen elsewhere on the street.",
              "No attempt to look through windows or go around the house.")),
    Scenario("pedestrian", "person", (0, 10), (1, 9, 10, 8), ("sidewalk", "front_door", "driveway"), ("person",),
             ("A jogger", "A dog walker", "A neighbour", "A child on a {bike}", "An elderly couple"),
             ("passed along the sidewalk", "waved toward the camera while passing", "stopped briefly by the mailbox",
              "crossed the lawn corner as a shortcut"),
             ("The person stayed on the public sidewalk for the whole {seconds} second clip.",
              "Ordinary foot traffic; the path never approached the house.",
              "The walker appears on this camera most days around this time.")),
    Scenario("lingering", "person", (35, 64), (4, 3, 4, 5), ("front_door", "side_gate", "driveway", "porch"),
             ("person",),
             ("An unfamiliar person in a {colour} hoodie", "An unknown adult", "A person with a covered face",
              "A young man in a {colour} {clothing}"),
             ("lingered near the entrance", "walked back and forth past the gate", "stood watching the house",
              "sat on the low wall for several minutes"),
             ("The person remained in view for about {minutes} minutes without knocking or ringing.",
              "They looked toward the windows several times and checked their phone.",
              "No delivery, no vehicle, and no interaction with anyone at the house.")),
    Scenario("vehicle_night", "vehicle, person", (45, 75), (7, 1, 1, 3), ("driveway", "garage"),
             ("vehicle", "person"),
             ("An unfamiliar {colour} {vehicle}", "A {vehicle} with its lights off", "A {colour} {vehicle}"),
             ("idled in the driveway", "parked across the driveway with the engine running",
              "pulled in while an occupant got out briefly"),
             ("The vehicle is not one of the household's known vehicles and stayed for {minutes} minutes.",
              "An occupant walked toward the garage, then returned to the {vehicle} without knocking.",
              "Headlights were switched off on arrival, which makes the plate unreadable.")),
    Scenario("prowler", "person", (66, 92), (8, 0, 0, 2), ("backyard", "side_gate", "garage", "pool_deck"),
             ("person",),
             ("A person in dark clothing", "An unidentified person with a flashlight", "A hooded figure"),
             ("checked the side gate latch", "looked into the garage windows", "crouched behind the hedge",
              "tried to open the shed"),
             ("The person avoided the lit areas and moved along the fence for about {minutes} minutes.",
              "They tested at least one latch and looked around repeatedly before moving on.",
              "Nobody in the household list matches, and the time is well outside any schedule.")),
    Scenario("door_tamper", "person", (85, 100), (4, 0, 1, 1), ("front_door", "garage", "side_gate"), ("person",),
             ("An unknown person", "A masked individual", "A person in {colour} gloves"),
             ("tried the door handle", "tried to force the garage door", "tampered with the gate lock"),
             ("The handle visibly moved twice and the person pushed against the door.",
              "A tool was held against the lock for about {seconds} seconds.",
              "The subject left quickly when the porch light switched on.")),
    Scenario("package_theft", "person, package", (80, 98), (1, 1, 3, 2), ("front_door", "porch"),
             ("person", "package"),
             ("A person in a {colour} hoodie", "An unfamiliar passer-by", "A stranger from a {colour} {vehicle}"),
             ("picked up a delivered {item} and walked away", "took a {item} and ran to a waiting {vehicle}"),
             ("The {item} delivered earlier today is no longer on the mat after this event.",
              "The person looked up and down the street before grabbing the {item}.",
              "They arrived without a package and left carrying one.")),
    Scenario("kids_playing", "person", (0, 6), (0, 3, 9, 3), ("backyard", "pool_deck"), ("person",),
             ("Children", "Two kids", "A child with a {ball}"),
             ("played in the backyard", "chased a {ball} across the lawn", "jumped on the trampoline"),
             ("Small figures recognised as the household's children, playing for {minutes} minutes.",
              "Play activity with an adult visible nearby.")),
    Scenario("wildlife", "animal", (5, 25), (9, 2, 1, 5), ("backyard", "pool_deck", "garage"), ("animal",),
             ("A deer", "A raccoon", "A fox", "A coyote"),
             ("wandered through the yard", "tipped over a bin", "drank from the pool"),
             ("A larger animal was visible for about {seconds} seconds; some coyote sightings warrant a pet check.",
              "The animal knocked something over but no person was involved.")),
)

WORDS: dict[str, tuple[str, ...]] = {
    "colour": ("black", "white", "grey", "navy", "red", "blue", "green", "yellow", "brown", "silver", "orange",
               "dark green", "beige"),
    "clothing": ("jacket", "hoodie", "raincoat", "vest", "cap", "T-shirt", "sweater", "parka"),
    "item": ("package", "parcel", "small box", "padded envelope", "grocery bag", "flat box", "large box",
             "pizza box"),
    "carrier": ("UPS", "FedEx", "USPS", "DHL", "Amazon", "Café Express", "Lieferando"),
    "vehicle": ("sedan", "pickup truck", "SUV", "van", "hatchback", "box truck", "motorcycle", "scooter"),
    "animal": ("cat", "dog", "raccoon", "fox", "squirrel", "opossum", "rabbit", "skunk"),
    "bag": ("backpack", "gym bag", "laptop bag", "shopping bag", "suitcase"),
    "bike": ("bike", "scooter", "skateboard"),
    "ball": ("ball", "frisbee", "kite"),
    "lights": ("bright", "dim", "flashing", "mismatched"),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "weather": ("clear", "overcast", "rainy", "foggy", "windy", "snowy"),
    "seconds": tuple(str(n) for n in (4, 6, 8, 11, 15, 18, 22, 27, 34, 41, 48, 55, 63, 75, 90, 105, 120, 150)),
    "minutes": tuple(str(n) for n in (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25)),
    "baseline": ("0.2", "0.4", "0.7", "1.1", "1.6", "2.3"),
    "ctx:night": (
        "It happened at night, outside the household's usual schedule.",
        "It was after dark and the porch light was {lightstate}.",
        "Night activity on this camera is rare; the baseline for this hour is {baseline} events.",
        "Infrared night vision was active, so colours are approximate.",
        "The street was empty and most neighbouring houses were dark.",
    ),
    "ctx:morning": (
        "It was early morning, when residents usually leave for work.",
        "The morning was {weather} and visibility was good.",
        "Morning traffic on this camera is typical, with a baseline of {baseline} events this hour.",
        "School drop-off time explains some of the street activity.",
    ),
    "ctx:afternoon": (
        "Mid-afternoon is the busiest window for deliveries and visitors.",
        "Lighting was good and the weather was {weather}, so detection quality is high.",
        "Most household members are usually out at this time on a {weekday}.",
        "The sun was behind the house, causing some glare in the upper frame.",
    ),
    "ctx:evening": (
        "It happened in the early evening as residents were returning home.",
        "Dusk lighting reduced image quality slightly.",
        "Evening activity here usually involves residents and deliveries.",
        "The garden lights had just switched on in {weather} weather.",
    ),
    "lightstate": ("on", "off", "flickering", "dimmed"),
    "assess:low": (
        "Overall risk is low: the behaviour matches routine activity.",
        "No signs of forced entry or suspicious behaviour were observed.",
        "This looks like normal activity and needs no follow-up.",
        "Nothing here deviates from the learned baseline for this camera.",
    ),
    "assess:medium": (
        "Risk is moderate because the person is not recognised and stayed longer than usual.",
        "Worth a quick review: the visit was unexpected but nobody tried to get in.",
        "Moderate concern: the pattern is unusual for this hour but not clearly hostile.",
    ),
    "assess:high": (
        "Risk is high: the behaviour is consistent with checking for unlocked entry points.",
        "High concern because the person deliberately avoided the cameras' lit areas.",
        "This deviates strongly from the baseline and warrants prompt review.",
    ),
    "assess:critical": (
        "Risk is critical: an attempt to enter or remove property was observed.",
        "Immediate attention is recommended; the subject interacted with a lock or door.",
        "Critical: the sequence shows intent to enter and no household member was present.",
    ),
    "extra": (
        'The visitor seemed to say "hello, anyone home?" before leaving.',
        "A snapshot was saved as C:\\cams\\{camera}\\frame_{frame}.jpg for review.",
        "The jacket logo read 'Café Étoile' and was partly visible.",
        "A label on the box showed 日本 characters and a 📦 sticker.",
        "Observations:\n- subject remained in frame\n- no forced entry detected",
        "Sensor readings:\tmotion=high\tlight=low\tnoise=quiet.",
        "Audio picked up a dog barking next door.",
        "The neighbour's security light switched on at the same moment.",
        "Frames {frame} through {frame2} contain the clearest view.",
        "Detection confidence dropped briefly when the subject turned away.",
        "A second, smaller figure might be visible near the hedge; confidence is limited.",
        "The doorbell chime was recorded at the start of the clip.",
        "Naïve motion tracking lost the subject for two seconds behind the pillar.",
        "Path mapping: driveway → front walk → door \\ then back.",
    ),
    "camera": tuple(c.id for c in CAMERAS),
    "frame": tuple(f"{n:04d}" for n in (12, 37, 42, 58, 77, 103, 128, 256, 311, 512)),
    "frame2": tuple(f"{n:04d}" for n in (640, 700, 812, 999, 1024)),
}

RECOMMENDED = {
    "low": (None, "No action needed.", "No action needed.", "Archive the clip."),
    "medium": ("Review the clip when convenient.", "Check whether the visit was expected.",
               "Keep an eye on repeat visits.", None),
    "high": ("Review the clip now and verify that all doors are locked.", "Turn on the outdoor lights.",
             "Share the clip with a neighbour who saw the same person.", "Call the household to confirm."),
    "critical": ("Contact the authorities if the person is still on the property.",
                 "Sound the siren and call the police.", "Check the door and lock immediately.",
                 "Call 911 and keep the recording."),
}

PROMPT_TAILS = (
    "Respond with JSON: risk_score (0-100), risk_level, summary, reasoning, recommended_action.",
    "Consider the household schedule and the camera baseline. Return strict JSON with keys risk_score, "
    "risk_level, summary, reasoning and entities.",
    "You are a careful home-security analyst. Avoid speculation; explain your reasoning briefly and return JSON.",
)

NOTES = (
    "Checked by Zoë: it was the neighbour's cat 🐈",
    "False alarm.\nCamera needs cleaning.",
    'Marked "expected": plumber visit booked for today.',
    "Clip copied to \\\\nas\\clips\\review for the insurance claim.",
    "配達 confirmed by the carrier's app.",
    "Reported to the HOA group chat.",
    "Follow up with police report #2026-1147.",
    "Same person as last Tuesday?\tCompare clips.",
)

ALERT_CHANNELS = (
    '["push"]', '["push", "email"]', '[ "email" ]', '["push","sms"]', '[\n  "push",\n  "email",\n  "sms"\n]',
    '{"push": true, "email": false}', '[]', None,
)
RULE_IDS = (
    "3f0b8c6e-2a4d-4c1e-9d7a-5b1f0e2c4a10", "8d2e4f61-7b3a-45c9-a1e0-6c9b2d3f4e21",
    "c41a7e92-5d6b-4f03-b8e1-2a7c9f0d1e32", "e5b93c07-1f2a-4d8e-9c6b-7a0e3d5f2b43", None,
)

PROMPTS = (
    ("gpt-4o-mini", 0.2, 1024, 3),
    ("claude-3-5-haiku", 0.3, 2048, 2),
    ("llava:13b", 0.7, 2048, 1),
    ("qwen2.5-vl:7b", 0.5, 1536, 4),
)
SYSTEM_PROMPT = (
    "You are the analysis engine of a home-security system.\n"
    "For each event you receive the camera name, local time, detected objects and the household's known members.\n"
    "Rules:\n"
    "1. Score risk from 0 to 100 (low < 30, medium < 60, high < 85, critical >= 85).\n"
    "2. Never identify people by name unless they are in the household list.\n"
    '3. Answer with strict JSON, e.g. {{"risk_score": 12, "risk_level": "low"}}.\n'
    "Model: {model}. Escape paths like C:\\\\cams\\\\front_door when quoting them."
)

MEMBERS = (
    ("Alex Morgan", "resident", "full", {"weekdays": {"leave": "07:45", "return": "18:10"}, "weekends": "home"},
     None),
    ("Zoë Martín", "resident", "full", {"weekdays": {"leave": "08:30", "return": "17:30"},
                                        "gym": ["Tue", "Thu"]}, "Works from home on Fridays."),
    ("Sam Morgan", "family", "full", {"school": {"days": [1, 2, 3, 4, 5], "bus": "07:20", "home": "15:40"}},
     "Teenager; often comes home through the side gate."),
    ("Hiroshi 田中", "frequent_visitor", "partial", {"visits": "weekends", "typical_hours": [10, 16]},
     'Grandfather, "drops by unannounced".'),
    ("Maria Lopez", "service_worker", "partial", {"days": ["Wed"], "hours": {"from": "09:00", "to": "13:00"}},
     "House cleaner.\nHas a key code."),
    ("GreenLeaf Landscaping", "service_worker", "monitor", {"days": ["Mon"], "every_other_week": True}, None),
    ("Dog walker (Priya)", "frequent_visitor", "monitor", None, "Walks Biscuit at noon 🐕"),
)

SETTINGS: tuple[tuple[str, object], ...] = (
    ("retention_days", 90),
    ("timezone", TIMEZONE),
    ("fast_path_enabled", True),
    ("notifications_paused", False),
    ("notification_channels", ["push", "email"]),
    ("quiet_hours", {"enabled": True, "start": "22:30", "end": "06:30", "days": ["Sun", "Mon", "Tue", "Wed", "Thu"]}),
    ("risk_thresholds", {"low": 0, "medium": 30, "high": 60, "critical": 85}),
    ("detection_confidence_min", 0.55),
    ("llm", {"model": "gpt-4o-mini", "fallback": ["claude-3-5-haiku", "llava:13b"], "timeout_s": 30.5,
             "max_retries": 3}),
    ("alert_rules", [{"name": "Night intruder", "min_risk": 60, "cameras": ["backyard", "side_gate"],
                      "schedule": {"from": "22:00", "to": "06:00"}},
                     {"name": "Package watch", "min_risk": 80, "cameras": ["front_door", "porch"], "cooldown_s": 600}]),
    ("welcome_message", "Bienvenue à la maison 🏠 — “smart” home"),
    ("export_path", "C:\\exports\\backupd\n\"quoted\""),
    ("last_maintenance", None),  # a JSON null, not SQL NULL
    ("feature_flags", {}),
    ("ignored_zones", []),
    ("schema_version", 7),
)


# --- the template grammar, expanded server-side --------------------------------------------------------------------

def _word_lists() -> dict[str, tuple[str, ...]]:
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


def _text_groups() -> list[tuple[int, int, str]]:
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


_EXPAND_SQL = """
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

_JSON_POOL_SQL = """
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
_EVENTS_SQL = """
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
_ALERTS_SQL = """
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


_JSON_POOL_SQL = _typed(_JSON_POOL_SQL,
                        dict.fromkeys(("colours", "clothing", "items", "vehicles", "animals"), "text[]"))
_EVENTS_SQL = _typed(_EVENTS_SQL.replace("@draw@", _DRAW_SQL), {
    **dict.fromkeys(("tails", "recommended", "cam_ids", "cam_names", "objects", "notes"), "text[]"),
    **dict.fromkeys(("tod", "risk_lo", "risk_span", "cam_pick", "scenario_pick", "ymd"), "int[]"),
    "tod_step": "float8[]", "tz": "text", "days": "int", "total": "int", "pool": "int", "note_count": "int",
})
_ALERTS_SQL = _typed(_ALERTS_SQL, {"rule_ids": "uuid[]", "channels": "text[]"})


# Transaction-local settings for the load.
_SESSION_SETTINGS = {
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
_ANALYZE_SQL = (
    "ANALYZE cameras, zones, prompts, baselines, household_members, settings,"
    " events (id, batch_id, camera_id, started_at, ended_at, risk_score, risk_level, reviewed, flagged, deleted_at),"
    " alerts (id, event_id, severity, status, created_at, dedup_key)"
)


# --- the generator --------------------------------------------------------------------------------------------------

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
            for setting, value in _SESSION_SETTINGS.items():
                conn.execute("SELECT set_config(%s, %s, true)", [setting, value])
            seqscan = conn.execute("SELECT current_setting('enable_seqscan')").fetchone()[0]
            indexes = _secondary_indexes(conn)
            foreign_keys = _foreign_keys(conn)
            conn.execute("TRUNCATE " + ", ".join(APP_TABLES) + " RESTART IDENTITY")
            for name, _, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(*name)))
            for table, name, _ in foreign_keys:
                conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(*table), sql.Identifier(name)))
            counts = _fill_small_tables(conn)
            report("Preparing text pools", 2)
            params = _prepare_pools(conn, events)
            alert_params = {"rule_ids": list(RULE_IDS), "channels": list(ALERT_CHANNELS)}
            counts["events"] = counts["alerts"] = 0
            for lo in range(1, events + 1, BATCH_SIZE):
                hi = min(events, lo + BATCH_SIZE - 1)
                report(f"Inserting events {lo:,}-{hi:,} of {events:,}", 5 + 60 * (lo - 1) // events)
                bounds = {"@lo@": str(int(lo)), "@hi@": str(int(hi))}
                counts["events"] += conn.execute(_batch(_EVENTS_SQL, bounds), params).rowcount
                # the new rows by primary key, never by scanning the whole table
                conn.execute("SELECT set_config('enable_seqscan', 'off', true)")
                counts["alerts"] += conn.execute(_batch(_ALERTS_SQL, bounds), alert_params).rowcount
                conn.execute("SELECT set_config('enable_seqscan', %s, true)", [seqscan])
            # event i has id i: the sequence continues after them
            conn.execute("SELECT setval(pg_get_serial_sequence('events', 'id'), %s, %s)", [max(events, 1), events > 0])
            done, total = 0, sum(weight for _, _, weight in indexes)
            for (_, name), definition, weight in indexes:
                report(f"Building index {name}", 65 + 28 * done // max(total, 1))
                conn.execute(definition)  # type: ignore[arg-type]  # pg_get_indexdef output
                done += weight
            report("Checking foreign keys", 93)
            for table, name, definition in foreign_keys:
                conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(*table), sql.Identifier(name)) + sql.SQL(definition))  # type: ignore[arg-type]
            report("Analyzing", 97)
            conn.execute(_ANALYZE_SQL)
    except psycopg.Error as exc:
        raise DemoDataError(f"demo data not generated: {first_line(exc)}") from exc
    report("Done", 100)
    return {table: counts[table] for table in APP_TABLES}


def _batch(query: str, bounds: dict[str, str]) -> sql.SQL:
    """The statement for one batch: its bounds are ints, written in so that the planner sees the batch size."""
    for marker, value in bounds.items():
        query = query.replace(marker, value)
    return sql.SQL(query)  # type: ignore[arg-type]  # our constant with two ints substituted


def _check_schema(conn: psycopg.Connection) -> None:
    missing = [t for t in APP_TABLES if conn.execute("SELECT to_regclass(%s)", [t]).fetchone()[0] is None]
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


def _fill_small_tables(conn: psycopg.Connection) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO cameras (id, name, folder_path, status, created_at, last_seen_at) VALUES"
            " (%s, %s, %s, %s, now() - make_interval(days => %s), now() - make_interval(mins => %s))",
            [(c.id, c.name, f"/export/foscam/{c.id}", c.status, 400 - 30 * i,
              None if c.status == "unknown" else 1 + i * 7 * (c.status != "online")) for i, c in enumerate(CAMERAS)],
        )
        zones = []
        for i, c in enumerate(CAMERAS):
            for z in range(2 + i % 3):
                zone_type = ("entry_point", "driveway", "sidewalk", "yard", "other")[(i + z) % 5]
                polygon = (i + z) % 3 == 0
                x, y = 0.05 + 0.1 * z, 0.1 + 0.05 * i
                points = ([[x, y], [x + 0.3, y + 0.02], [x + 0.35, y + 0.4], [x + 0.1, y + 0.5], [x - 0.02, y + 0.3]]
                          if polygon else [[x, y], [x + 0.3, y], [x + 0.3, y + 0.25], [x, y + 0.25]])
                coordinates = {"points": [[round(a, 3), round(b, 3)] for a, b in points], "normalized": True}
                name = ("Allée d'entrée", "Walkway", "Lawn", "Flower bed", "Gate area")[(i + z) % 5]
                zones.append((f"{c.id}-{zone_type}-{z + 1}", c.id, f"{c.name}: {name}", zone_type,
                              json.dumps(coordinates), "polygon" if polygon else "rectangle",
                              ("#3B82F6", "#EF4444", "#10b981", "#F59E0B", "#8b5cf6")[(i + z) % 5],
                              (i + z) % 7 != 6, z * 10 if z else 0))
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
            [(n, r, t, None if s is None else json.dumps(s, ensure_ascii=False), notes, 200 - 20 * i)
             for i, (n, r, t, s, notes) in enumerate(MEMBERS)],
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
    return {"cameras": len(CAMERAS), "zones": len(zones), "prompts": len(PROMPTS), "baselines": baselines,
            "household_members": len(MEMBERS), "settings": len(SETTINGS)}


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
            for name, items in _word_lists().items():
                copy.write_row((name, list(items)))
        with cur.copy("COPY demo_template (kind, grp, template) FROM STDIN") as copy:
            for row in _text_groups():
                copy.write_row(row)
        with cur.copy("COPY demo_scenario (sid, key, entities) FROM STDIN") as copy:
            for sid, s in enumerate(SCENARIOS):
                copy.write_row((sid, s.key, list(s.entities)))
    conn.execute(_EXPAND_SQL, {"candidates": CANDIDATES, "pool": POOL})
    short = conn.execute(
        "SELECT t.kind, t.grp FROM demo_template t"
        " LEFT JOIN (SELECT kind, key / %(pool)s AS grp, count(*) AS n FROM demo_piece GROUP BY 1, 2) p"
        " USING (kind, grp)"
        " WHERE coalesce(p.n, 0) <> %(pool)s", {"pool": POOL}
    ).fetchall()
    if short:  # a template whose every expansion ends in a stop word: a bug in the word lists above
        raise DemoDataError(f"demo text pool incomplete for groups {short}")
    conn.execute(_JSON_POOL_SQL, {"colours": list(WORDS["colour"]), "clothing": list(WORDS["clothing"]),
                                  "items": list(WORDS["item"]), "vehicles": list(WORDS["vehicle"]),
                                  "animals": list(WORDS["animal"])})
    conn.execute("ANALYZE demo_piece, demo_json")
    base_date = conn.execute("SELECT (now() AT TIME ZONE %s)::date - %s", [TIMEZONE, DAYS]).fetchone()[0]
    tod, tod_step = _time_of_day_quantiles()
    return {
        "tz": TIMEZONE, "days": DAYS, "total": max(events, 1), "pool": POOL,
        "notes": list(NOTES), "note_count": len(NOTES),
        "base_date": base_date, "tod": tod, "tod_step": tod_step,
        "ymd": [int((base_date + timedelta(days=d)).strftime("%Y%m%d")) for d in range(DAYS)],
        "scenario_pick": _scenario_pick(), "cam_pick": _camera_pick(),
        "risk_lo": [s.risk[0] for s in SCENARIOS], "risk_span": [s.risk[1] - s.risk[0] + 1 for s in SCENARIOS],
        "objects": [s.objects for s in SCENARIOS],
        "cam_ids": [c.id for c in CAMERAS], "cam_names": [c.name for c in CAMERAS],
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
