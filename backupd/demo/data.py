"""The demo application's world, as constants: cameras, scenarios, word lists, prompts, members, settings.

A module of its own because it is most of the demo's lines (what the data looks like) and none of
its logic: `templates.py` turns the word lists and scenarios into text templates and SQL, and
`generate.py` loads them. Edit here to change what the demo data says, not how it is made.
"""

from __future__ import annotations

from dataclasses import dataclass

DAYS = 90  # the events span the last DAYS days
TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    status: str
    at: tuple[str, ...]  # where things happen, as seen by this camera ("at the front door")


CAMERAS = (
    Camera(
        "front_door",
        "Front Door",
        "online",
        ("at the front door", "on the front steps", "in front of the doorbell camera", "by the welcome mat"),
    ),
    Camera(
        "driveway",
        "Driveway",
        "online",
        ("in the driveway", "near the parked cars", "at the end of the driveway", "by the garage apron"),
    ),
    Camera(
        "backyard",
        "Backyard",
        "online",
        ("in the backyard", "near the patio furniture", "along the back fence", "beside the vegetable beds"),
    ),
    Camera(
        "garage",
        "Garage",
        "offline",
        ("outside the garage", "next to the garage door", "by the recycling bins", "under the garage light"),
    ),
    Camera(
        "side_gate",
        "Side Gate",
        "online",
        ("at the side gate", "on the narrow side path", "by the gate latch", "next to the water meter"),
    ),
    Camera(
        "porch",
        "Entrée (Porch)",
        "online",
        ("on the porch", "beside the porch swing", "near the package shelf", "at the top of the porch stairs"),
    ),
    Camera(
        "sidewalk",
        "Street / Sidewalk",
        "error",
        ("on the sidewalk", "across the street", "by the mailbox", "near the curb"),
    ),
    Camera(
        "pool_deck",
        "Pool Deck",
        "unknown",
        ("on the pool deck", "next to the pool pump", "by the lounge chairs", "near the pool fence"),
    ),
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
    Scenario(
        "delivery",
        "person, package",
        (3, 22),
        (0, 14, 22, 6),
        ("front_door", "porch"),
        ("person", "package"),
        (
            "A delivery driver in a {colour} uniform",
            "A {carrier} courier",
            "A courier wearing a {colour} {clothing}",
            "A delivery person carrying a {item}",
        ),
        (
            "dropped off a {item}",
            "left a {item} and walked back to a {colour} {vehicle}",
            "rang the bell, placed a {item} down and left",
            "photographed a delivered {item} before leaving",
        ),
        (
            "The subject walked straight up, stayed for about {seconds} seconds and returned to a {colour} {vehicle} "
            "parked at the curb.",
            "The person held a {item} with a visible shipping label and never touched the door handle.",
            "Movement was purposeful: approach, drop off, photo, leave, all within {seconds} seconds.",
            "A {carrier} logo was visible on the {clothing} and the vehicle carried matching livery.",
        ),
    ),
    Scenario(
        "resident",
        "person",
        (0, 8),
        (2, 14, 8, 14),
        ("front_door", "driveway", "garage", "side_gate", "porch"),
        ("person",),
        ("A resident", "A household member in a {colour} {clothing}", "A familiar adult", "Two residents"),
        (
            "arrived home and unlocked the door",
            "left the house carrying a {bag}",
            "walked to the car and drove away",
            "took the bins out",
            "came back from a walk with the dog",
        ),
        (
            "Face and gait match a known household member, and the door was opened with a key.",
            "The timing matches the typical schedule stored for this household.",
            "The person was recognised from {seconds} seconds of clear footage and behaved normally.",
            "Known vehicle, known person, and a routine path from the car to the entrance.",
        ),
    ),
    Scenario(
        "vehicle_pass",
        "vehicle",
        (0, 12),
        (3, 10, 12, 8),
        ("driveway", "sidewalk"),
        ("vehicle",),
        ("A {colour} {vehicle}", "A {vehicle} with {lights} headlights", "A {colour} delivery van"),
        (
            "drove past without stopping",
            "slowed down briefly and continued",
            "turned around using the driveway",
            "waited at the stop sign and moved on",
        ),
        (
            "The vehicle stayed in frame for about {seconds} seconds and never left the public road.",
            "No occupant got out and the vehicle did not return during the next ten minutes.",
            "Plate not readable at this distance; traffic on this street is common at this hour.",
        ),
    ),
    Scenario(
        "animal",
        "animal",
        (0, 10),
        (10, 6, 5, 9),
        ("backyard", "side_gate", "garage", "pool_deck"),
        ("animal",),
        ("A {animal}", "A small {animal}", "A neighbourhood {animal}"),
        (
            "crossed the yard",
            "walked along the fence line",
            "set off the motion sensor near the bins",
            "sniffed around the flower beds",
        ),
        (
            "The detector classified the shape as a {animal} with high confidence for {seconds} seconds.",
            "Low, four-legged movement close to the ground; no person appeared in the sequence.",
            "The animal left the frame on its own and nothing was disturbed.",
        ),
    ),
    Scenario(
        "false_motion",
        None,
        (0, 5),
        (8, 4, 5, 6),
        tuple(c.id for c in CAMERAS),
        (),
        (
            "Moving shadows",
            "Headlight glare",
            "Rain on the lens",
            "Swaying branches",
            "A spider web on the lens",
            "Flickering light",
        ),
        (
            "triggered a motion event",
            "caused a brief detection",
            "produced a false positive",
            "tripped the motion threshold",
        ),
        (
            "No object was detected in any of the {seconds} analysed frames.",
            "Pixel changes were spread across the whole image, which is typical of lighting changes.",
            "The motion pattern repeats with the wind and contains no person or vehicle.",
        ),
    ),
    Scenario(
        "service_worker",
        "person, vehicle",
        (4, 20),
        (0, 10, 8, 1),
        ("backyard", "driveway", "side_gate", "pool_deck"),
        ("person", "vehicle"),
        (
            "A landscaper",
            "A pool technician",
            "A meter reader in a {colour} vest",
            "A house cleaner",
            "A plumber in a {colour} {clothing}",
        ),
        (
            "arrived at the scheduled time",
            "worked along the flower beds for a while",
            "came in through the side gate with equipment",
            "checked the water meter and left",
        ),
        (
            "The visit matches a service worker in the household list with a {weekday} schedule.",
            "Tools and a marked work {vehicle} are consistent with scheduled maintenance.",
            "The worker stayed for about {minutes} minutes and left by the same route.",
        ),
    ),
    Scenario(
        "solicitor",
        "person",
        (20, 45),
        (0, 6, 10, 5),
        ("front_door", "porch"),
        ("person",),
        (
            "A door-to-door salesperson",
            "A canvasser holding a clipboard",
            "Two people with leaflets",
            "A stranger in a {colour} {clothing}",
        ),
        (
            "knocked and waited for an answer",
            "left a flyer in the door",
            "rang the bell twice and moved on",
            "spoke into the doorbell for a minute",
        ),
        (
            "The visitor waited about {seconds} seconds, left printed material and went to the next house.",
            "Not a known person, but the behaviour matches canvassing seen elsewhere on the street.",
            "No attempt to look through windows or go around the house.",
        ),
    ),
    Scenario(
        "pedestrian",
        "person",
        (0, 10),
        (1, 9, 10, 8),
        ("sidewalk", "front_door", "driveway"),
        ("person",),
        ("A jogger", "A dog walker", "A neighbour", "A child on a {bike}", "An elderly couple"),
        (
            "passed along the sidewalk",
            "waved toward the camera while passing",
            "stopped briefly by the mailbox",
            "crossed the lawn corner as a shortcut",
        ),
        (
            "The person stayed on the public sidewalk for the whole {seconds} second clip.",
            "Ordinary foot traffic; the path never approached the house.",
            "The walker appears on this camera most days around this time.",
        ),
    ),
    Scenario(
        "lingering",
        "person",
        (35, 64),
        (4, 3, 4, 5),
        ("front_door", "side_gate", "driveway", "porch"),
        ("person",),
        (
            "An unfamiliar person in a {colour} hoodie",
            "An unknown adult",
            "A person with a covered face",
            "A young man in a {colour} {clothing}",
        ),
        (
            "lingered near the entrance",
            "walked back and forth past the gate",
            "stood watching the house",
            "sat on the low wall for several minutes",
        ),
        (
            "The person remained in view for about {minutes} minutes without knocking or ringing.",
            "They looked toward the windows several times and checked their phone.",
            "No delivery, no vehicle, and no interaction with anyone at the house.",
        ),
    ),
    Scenario(
        "vehicle_night",
        "vehicle, person",
        (45, 75),
        (7, 1, 1, 3),
        ("driveway", "garage"),
        ("vehicle", "person"),
        ("An unfamiliar {colour} {vehicle}", "A {vehicle} with its lights off", "A {colour} {vehicle}"),
        (
            "idled in the driveway",
            "parked across the driveway with the engine running",
            "pulled in while an occupant got out briefly",
        ),
        (
            "The vehicle is not one of the household's known vehicles and stayed for {minutes} minutes.",
            "An occupant walked toward the garage, then returned to the {vehicle} without knocking.",
            "Headlights were switched off on arrival, which makes the plate unreadable.",
        ),
    ),
    Scenario(
        "prowler",
        "person",
        (66, 92),
        (8, 0, 0, 2),
        ("backyard", "side_gate", "garage", "pool_deck"),
        ("person",),
        ("A person in dark clothing", "An unidentified person with a flashlight", "A hooded figure"),
        (
            "checked the side gate latch",
            "looked into the garage windows",
            "crouched behind the hedge",
            "tried to open the shed",
        ),
        (
            "The person avoided the lit areas and moved along the fence for about {minutes} minutes.",
            "They tested at least one latch and looked around repeatedly before moving on.",
            "Nobody in the household list matches, and the time is well outside any schedule.",
        ),
    ),
    Scenario(
        "door_tamper",
        "person",
        (85, 100),
        (4, 0, 1, 1),
        ("front_door", "garage", "side_gate"),
        ("person",),
        ("An unknown person", "A masked individual", "A person in {colour} gloves"),
        ("tried the door handle", "tried to force the garage door", "tampered with the gate lock"),
        (
            "The handle visibly moved twice and the person pushed against the door.",
            "A tool was held against the lock for about {seconds} seconds.",
            "The subject left quickly when the porch light switched on.",
        ),
    ),
    Scenario(
        "package_theft",
        "person, package",
        (80, 98),
        (1, 1, 3, 2),
        ("front_door", "porch"),
        ("person", "package"),
        ("A person in a {colour} hoodie", "An unfamiliar passer-by", "A stranger from a {colour} {vehicle}"),
        ("picked up a delivered {item} and walked away", "took a {item} and ran to a waiting {vehicle}"),
        (
            "The {item} delivered earlier today is no longer on the mat after this event.",
            "The person looked up and down the street before grabbing the {item}.",
            "They arrived without a package and left carrying one.",
        ),
    ),
    Scenario(
        "kids_playing",
        "person",
        (0, 6),
        (0, 3, 9, 3),
        ("backyard", "pool_deck"),
        ("person",),
        ("Children", "Two kids", "A child with a {ball}"),
        ("played in the backyard", "chased a {ball} across the lawn", "jumped on the trampoline"),
        (
            "Small figures recognised as the household's children, playing for {minutes} minutes.",
            "Play activity with an adult visible nearby.",
        ),
    ),
    Scenario(
        "wildlife",
        "animal",
        (5, 25),
        (9, 2, 1, 5),
        ("backyard", "pool_deck", "garage"),
        ("animal",),
        ("A deer", "A raccoon", "A fox", "A coyote"),
        ("wandered through the yard", "tipped over a bin", "drank from the pool"),
        (
            "A larger animal was visible for about {seconds} seconds; some coyote sightings warrant a pet check.",
            "The animal knocked something over but no person was involved.",
        ),
    ),
)

WORDS: dict[str, tuple[str, ...]] = {
    "colour": (
        "black",
        "white",
        "grey",
        "navy",
        "red",
        "blue",
        "green",
        "yellow",
        "brown",
        "silver",
        "orange",
        "dark green",
        "beige",
    ),
    "clothing": ("jacket", "hoodie", "raincoat", "vest", "cap", "T-shirt", "sweater", "parka"),
    "item": ("package", "parcel", "small box", "padded envelope", "grocery bag", "flat box", "large box", "pizza box"),
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
    "medium": (
        "Review the clip when convenient.",
        "Check whether the visit was expected.",
        "Keep an eye on repeat visits.",
        None,
    ),
    "high": (
        "Review the clip now and verify that all doors are locked.",
        "Turn on the outdoor lights.",
        "Share the clip with a neighbour who saw the same person.",
        "Call the household to confirm.",
    ),
    "critical": (
        "Contact the authorities if the person is still on the property.",
        "Sound the siren and call the police.",
        "Check the door and lock immediately.",
        "Call 911 and keep the recording.",
    ),
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
    '["push"]',
    '["push", "email"]',
    '[ "email" ]',
    '["push","sms"]',
    '[\n  "push",\n  "email",\n  "sms"\n]',
    '{"push": true, "email": false}',
    "[]",
    None,
)
RULE_IDS = (
    "3f0b8c6e-2a4d-4c1e-9d7a-5b1f0e2c4a10",
    "8d2e4f61-7b3a-45c9-a1e0-6c9b2d3f4e21",
    "c41a7e92-5d6b-4f03-b8e1-2a7c9f0d1e32",
    "e5b93c07-1f2a-4d8e-9c6b-7a0e3d5f2b43",
    None,
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
    ("Alex Morgan", "resident", "full", {"weekdays": {"leave": "07:45", "return": "18:10"}, "weekends": "home"}, None),
    (
        "Zoë Martín",
        "resident",
        "full",
        {"weekdays": {"leave": "08:30", "return": "17:30"}, "gym": ["Tue", "Thu"]},
        "Works from home on Fridays.",
    ),
    (
        "Sam Morgan",
        "family",
        "full",
        {"school": {"days": [1, 2, 3, 4, 5], "bus": "07:20", "home": "15:40"}},
        "Teenager; often comes home through the side gate.",
    ),
    (
        "Hiroshi 田中",
        "frequent_visitor",
        "partial",
        {"visits": "weekends", "typical_hours": [10, 16]},
        'Grandfather, "drops by unannounced".',
    ),
    (
        "Maria Lopez",
        "service_worker",
        "partial",
        {"days": ["Wed"], "hours": {"from": "09:00", "to": "13:00"}},
        "House cleaner.\nHas a key code.",
    ),
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
    (
        "llm",
        {"model": "gpt-4o-mini", "fallback": ["claude-3-5-haiku", "llava:13b"], "timeout_s": 30.5, "max_retries": 3},
    ),
    (
        "alert_rules",
        [
            {
                "name": "Night intruder",
                "min_risk": 60,
                "cameras": ["backyard", "side_gate"],
                "schedule": {"from": "22:00", "to": "06:00"},
            },
            {"name": "Package watch", "min_risk": 80, "cameras": ["front_door", "porch"], "cooldown_s": 600},
        ],
    ),
    ("welcome_message", "Bienvenue à la maison 🏠 — “smart” home"),
    ("export_path", 'C:\\exports\\backupd\n"quoted"'),
    ("last_maintenance", None),  # a JSON null, not SQL NULL
    ("feature_flags", {}),
    ("ignored_zones", []),
    ("schema_version", 7),
)
