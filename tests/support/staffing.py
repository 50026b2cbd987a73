"""A labelled staffing fixture for learning-from-outcomes measurements (playbooks).

Ten roles, sixteen workers each, whose profiles read alike within a role: the vector search
finds the role, but not which workers coordinators actually place. Eight roles have a query
family, worded four ways for one client; ground truth is the three workers placed there.
Recorded history, for the first two wordings: those three placed (success) and two others
turned down (rejected) recently, and, 240 days ago, those two placed (the client's old
preference). Evaluation uses the last two wordings. The two roles without any history
measure that the playbook leaves unrelated queries alone.

Everything is fixed (no randomness), so the figures and the test's direction hold on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ROLES = {
    "forklift": ("forklift operator", ["sit-down forklift", "reach truck", "pallet jack", "OSHA-10", "loading docks"]),
    "nurse": ("registered nurse", ["ICU", "telemetry", "IV therapy", "BLS and ACLS", "patient charting"]),
    "cook": ("line cook", ["grill station", "food safety", "prep work", "high-volume kitchen", "ServSafe"]),
    "welder": ("welder", ["MIG welding", "TIG welding", "blueprint reading", "structural steel", "AWS certified"]),
    "driver": ("CDL truck driver", ["CDL-A", "long haul", "clean MVR", "hazmat endorsement", "DOT medical card"]),
    "picker": ("warehouse picker", ["RF scanner", "order picking", "packing", "inventory counts", "shipping"]),
    "electrician": (
        "electrician",
        ["conduit bending", "NEC code", "commercial wiring", "troubleshooting", "journeyman"],
    ),
    "reception": ("receptionist", ["front desk", "multi-line phones", "scheduling", "MS Office", "greeting visitors"]),
    "painter": ("commercial painter", ["spray rigs", "drywall patching", "lifts", "surface prep", "epoxy coatings"]),
    "security": ("security officer", ["patrols", "CCTV monitoring", "access control", "incident reports", "PERC card"]),
}
CITIES = ["Joliet", "Aurora", "Naperville", "Elgin", "Waukegan", "Cicero", "Peoria", "Rockford"]
WORKERS_PER_ROLE = 16
PLACED = (1, 7, 12)  # within each role: the workers coordinators place
TURNED_DOWN = (0, 5)  # and the ones they reject
CLIENTS = {
    "forklift": "Acme Logistics",
    "nurse": "Mercy Hospital",
    "cook": "Blue Plate Diner",
    "welder": "Ironworks Fabrication",
    "driver": "Prairie Freight",
    "picker": "Northline Fulfillment",
    "electrician": "Brightline Electric",
    "reception": "Lakeside Dental",
}
WORDINGS = [
    "Need a {title} for {client}, starting next week",
    "{client} is asking for an experienced {title}",
    "Looking for a reliable {title} to place at {client}",
    "Who is our best {title} for the {client} opening?",
]
TRAIN, HELD_OUT = (0, 1), (2, 3)
# Families of roles nothing was ever recorded for: the playbook must not move them.
UNSEEN = {"painter": "Harbor Shipyard", "security": "Sunrise Clinic"}
# Stale history: long ago the same clients took the workers they now turn down.
STALE_DAYS = 240


@dataclass(frozen=True)
class Worker:
    id: str
    role: str
    text: str
    city: str


@dataclass(frozen=True)
class Query:
    id: str
    role: str
    text: str
    relevant: tuple[str, ...]


def workers() -> list[Worker]:
    out = []
    for role, (title, skills) in ROLES.items():
        for n in range(WORKERS_PER_ROLE):
            city = CITIES[(n + len(role)) % len(CITIES)]
            chosen = [skills[(n + k) % len(skills)] for k in range(3)]
            years = 2 + (n * 3) % 9
            text = f"{title.capitalize()} with {years} years of experience in {city}: {', '.join(chosen)}."
            out.append(Worker(f"{role}_{n}", role, text, city))
    return out


def placed(role: str) -> tuple[str, ...]:
    return tuple(f"{role}_{n}" for n in PLACED)


def turned_down(role: str) -> tuple[str, ...]:
    return tuple(f"{role}_{n}" for n in TURNED_DOWN)


def _query(role: str, client: str, wording: int) -> Query:
    title = ROLES[role][0]
    return Query(f"{role}@{client}#{wording}", role, WORDINGS[wording].format(title=title, client=client), placed(role))


def history(now: datetime) -> list[dict]:
    """The recorded outcomes (training wordings only) as playbook entries (dicts)."""
    recent, stale = _rfc3339(now - timedelta(days=1)), _rfc3339(now - timedelta(days=STALE_DAYS))
    entries = []
    for role, client in CLIENTS.items():
        for wording in TRAIN:
            query = _query(role, client, wording).text
            for item in placed(role):
                entries.append({"query": query, "item_id": item, "outcome": "success", "score": 1.0, "time": recent})
            for item in turned_down(role):
                entries.append({"query": query, "item_id": item, "outcome": "rejected", "time": recent})
                entries.append({"query": query, "item_id": item, "outcome": "success", "score": 1.0, "time": stale})
    return entries


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def held_out() -> list[Query]:
    return [_query(role, client, w) for role, client in CLIENTS.items() for w in HELD_OUT]


def unseen() -> list[Query]:
    """Families with no history (their relevance is the role's placed workers too, which
    is all the vector search can know)."""
    return [_query(role, client, w) for role, client in UNSEEN.items() for w in HELD_OUT]
