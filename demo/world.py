"""The deterministic staffing world of ``lakehouse demo``: workers, their résumés,
job orders, placements, and labelled questions.

Everything comes from one seed, so every run (and every test slice) holds the same
people. A worker has a primary role, a home (city, state, ZIP), certifications drawn
with role-dependent odds, skills, and years of experience. The first ``resumes``
workers have a résumé PDF (three layouts; a share scanned with no text layer, a share
locked with a password). Placements record which workers were placed on (or turned
down for) job orders, phrased the way staffers search. Questions name a role, a
certification and a state; their ground truth is every worker with a readable résumé
who has all three.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from lakehouse.demo.resumes import LAYOUTS, Resume, render, render_encrypted, render_scan

SEED = 20261201
WORKERS = 500_000
RESUMES = 15_000
PLACEMENTS = 4_701
JOB_ORDERS = 600
SCAN_SHARE = 0.02
ENCRYPTED_SHARE = 0.01
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY_DAYS = 365
# Draws per placement before giving up (an order nobody fits yields none).
MAX_DRAWS_PER_PLACEMENT = 20
RESUME_PASSWORD = "locked"  # the demo's encrypted résumés: rejected at ingest, by name

# Where people live (weights favour the Midwest, where the demo's clients are).
STATES = {
    "IL": (["Chicago", "Joliet", "Aurora", "Rockford", "Naperville", "Peoria"], "60", 30),
    "WI": (["Milwaukee", "Madison"], "53", 10),
    "IN": (["Indianapolis", "Gary"], "46", 10),
    "OH": (["Columbus", "Cleveland", "Cincinnati"], "43", 10),
    "MI": (["Detroit", "Grand Rapids"], "48", 8),
    "MN": (["Minneapolis"], "55", 6),
    "MO": (["St. Louis", "Kansas City"], "63", 6),
    "TX": (["Dallas", "Houston", "Austin", "San Antonio"], "75", 12),
    "GA": (["Atlanta"], "30", 4),
    "AZ": (["Phoenix"], "85", 4),
}
# role -> (weight, certification odds, skills)
ROLES: dict[str, tuple[int, dict[str, float], tuple[str, ...]]] = {
    "forklift operator": (
        18,
        {"Forklift": 0.85, "OSHA-10": 0.5, "OSHA-30": 0.2, "First Aid": 0.2},
        ("pallet jack", "RF scanner", "inventory control", "shipping"),
    ),
    "warehouse associate": (
        16,
        {"Forklift": 0.3, "OSHA-10": 0.35, "OSHA-30": 0.08, "First Aid": 0.15},
        ("RF scanner", "inventory control", "pallet jack", "WMS"),
    ),
    "picker packer": (10, {"OSHA-10": 0.2, "Forklift": 0.1}, ("RF scanner", "shipping", "inventory control")),
    "machine operator": (
        9,
        {"OSHA-10": 0.4, "OSHA-30": 0.1, "First Aid": 0.2},
        ("lean manufacturing", "blueprint reading", "preventive maintenance"),
    ),
    "cnc machinist": (5, {"OSHA-10": 0.3, "OSHA-30": 0.1}, ("blueprint reading", "lean manufacturing")),
    "welder": (
        6,
        {"AWS Welding": 0.6, "OSHA-10": 0.4, "OSHA-30": 0.15},
        ("MIG welding", "TIG welding", "blueprint reading"),
    ),
    "truck driver": (8, {"CDL-A": 0.8, "HAZMAT": 0.25, "First Aid": 0.2}, ("shipping",)),
    "assembler": (8, {"OSHA-10": 0.25}, ("lean manufacturing", "blueprint reading")),
    "maintenance technician": (
        5,
        {"OSHA-10": 0.5, "OSHA-30": 0.3, "First Aid": 0.3},
        ("preventive maintenance", "blueprint reading"),
    ),
    "shipping clerk": (6, {"Forklift": 0.25, "OSHA-10": 0.2}, ("shipping", "WMS", "inventory control")),
    "general laborer": (7, {"OSHA-10": 0.3, "First Aid": 0.2, "CPR": 0.1}, ("pallet jack", "shipping")),
    "quality inspector": (4, {"OSHA-10": 0.3}, ("lean manufacturing", "blueprint reading")),
}
# How a résumé spells each certification (all phrases the vocabulary reads back).
CERT_PHRASES = {
    "Forklift": "Forklift certified",
    "OSHA-10": "OSHA 10-Hour",
    "OSHA-30": "OSHA-30",
    "First Aid": "First Aid",
    "CPR": "CPR",
    "CDL-A": "Class A CDL",
    "HAZMAT": "HAZMAT endorsement",
    "AWS Welding": "AWS D1.1",
}
FIRST = (
    "Maria Luis Ana John Aisha Wei Carlos Priya Jamal Olga Diego Grace Tomasz Fatima Kevin Rosa Andre Mei Omar "
    "Lucia Brian Keisha Marco Nina Samuel Elena Victor Hana Derek Sofia"
).split()
LAST = (
    "Lopez Ortega Ruiz Smith Khan Chen Garcia Patel Johnson Ivanova Ramirez Kim Nowak Ali Brown Silva Davis Wong "
    "Hassan Moreno Miller Jackson Rossi Petrova Adeyemi Novak Cruz Tanaka Walker Rivera"
).split()
EMPLOYERS = (
    "Midwest Logistics",
    "Prairie Freight",
    "Northline Fulfillment",
    "Lakeshore Foods",
    "Ironworks Fabrication",
    "Great Lakes Packaging",
    "Summit Distribution",
    "Riverbend Manufacturing",
)
CLIENTS = (
    "Acme Logistics",
    "Blue Line Warehousing",
    "Heartland Foods",
    "Keystone Auto Parts",
    "Pioneer Plastics",
    "Redwood Distribution",
)
QUESTIONS = (
    ("forklift operator", "OSHA-30", "IL"),
    ("forklift operator", "OSHA-10", "WI"),
    ("warehouse associate", "Forklift", "IL"),
    ("welder", "AWS Welding", "TX"),
    ("truck driver", "CDL-A", "OH"),
    ("maintenance technician", "OSHA-30", "IL"),
    ("machine operator", "First Aid", "IN"),
    ("forklift operator", "First Aid", "TX"),
    ("shipping clerk", "Forklift", "MI"),
    ("general laborer", "OSHA-10", "IL"),
)
QUESTION_TEXT = {
    "Forklift": "{role} with a forklift certification in {state}",
    "AWS Welding": "{role} with AWS certification in {state}",
}
QUESTION_DEFAULT = "{role} with {cert} in {state}"


@dataclass(frozen=True)
class Worker:
    worker_id: int
    name: str
    city: str
    state: str
    zip_code: str
    email: str
    phone: str
    role: str
    certifications: tuple[str, ...]
    skills: tuple[str, ...]
    years: int
    hourly_rate: float
    available: bool
    updated_at: datetime


@dataclass(frozen=True)
class ResumeFile:
    file_name: str
    data: bytes
    worker_id: int
    doc_id: str  # sha256 of the bytes: the row's doc_id once ingested
    kind: str  # "text", "scan" or "encrypted"


@dataclass(frozen=True)
class Question:
    text: str
    role: str
    certification: str
    state: str
    relevant: tuple[str, ...] = field(default=())  # doc_ids of readable résumés with all three


def question_text(role: str, cert: str, state: str) -> str:
    template = QUESTION_TEXT.get(cert, QUESTION_DEFAULT)
    return template.format(role=role[0].upper() + role[1:], cert=cert, state=state)


class World:
    def __init__(self, seed: int = SEED, workers: int = WORKERS, resumes: int = RESUMES) -> None:
        self.seed = seed
        self.size = workers
        self.resume_count = min(resumes, workers)
        self._role_names = list(ROLES)
        self._state_names = list(STATES)

    def worker(self, worker_id: int) -> Worker:
        """Worker ``worker_id`` (0-based): the same person on every run."""
        rng = random.Random(f"{self.seed}:{worker_id}")
        state = rng.choices(self._state_names, weights=[STATES[s][2] for s in self._state_names])[0]
        cities, zip_prefix, _ = STATES[state]
        role = rng.choices(self._role_names, weights=[ROLES[r][0] for r in self._role_names])[0]
        _, odds, skills = ROLES[role]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        return Worker(
            worker_id=worker_id,
            name=f"{first} {last}",
            city=rng.choice(cities),
            state=state,
            zip_code=f"{zip_prefix}{rng.randrange(100, 999):03d}",
            email=f"{first.lower()}.{last.lower()}{worker_id}@example.com",
            phone=f"({rng.randrange(200, 999)}) 555-{rng.randrange(0, 10000):04d}",
            role=role,
            certifications=tuple(c for c, p in odds.items() if rng.random() < p),
            skills=tuple(rng.sample(skills, k=min(len(skills), rng.randint(1, 3)))),
            years=rng.randint(1, 25),
            hourly_rate=round(rng.uniform(15, 38), 2),
            available=rng.random() < 0.7,
            updated_at=EPOCH - timedelta(minutes=rng.randrange(0, HISTORY_DAYS * 24 * 60)),
        )

    def resume_kind(self, worker_id: int) -> str:
        draw = random.Random(f"{self.seed}:kind:{worker_id}").random()
        if draw < SCAN_SHARE:
            return "scan"
        return "encrypted" if draw < SCAN_SHARE + ENCRYPTED_SHARE else "text"

    def resume(self, worker_id: int) -> ResumeFile:
        w = self.worker(worker_id)
        rng = random.Random(f"{self.seed}:resume:{worker_id}")
        employers = tuple(rng.sample(EMPLOYERS, k=2))
        shift = rng.choice(("day", "night", "swing"))
        history = (f"{w.years} years of experience; {shift} shift, {rng.randint(10, 60)} hours a week.",)
        layout = LAYOUTS[worker_id % len(LAYOUTS)]
        resume = Resume(
            name=w.name,
            city=w.city,
            state=w.state,
            zip_code=w.zip_code,
            email=w.email,
            phone=w.phone,
            roles=(w.role,),
            certifications=tuple(CERT_PHRASES[c] for c in w.certifications),
            skills=w.skills,
            years=w.years,
            employers=employers,
            layout=layout,
            history=history,
            extra_pages=1 if worker_id % 7 == 0 else 0,
        )
        kind = self.resume_kind(worker_id)
        data = {"text": render, "scan": render_scan}.get(kind, lambda r: render_encrypted(r, RESUME_PASSWORD))(resume)
        name = f"{w.name.lower().replace(' ', '_')}_{worker_id}.pdf"
        return ResumeFile(name, data, worker_id, hashlib.sha256(data).hexdigest(), kind)

    def resumes(self, count: int | None = None) -> Iterator[ResumeFile]:
        for worker_id in range(min(count or self.resume_count, self.resume_count)):
            yield self.resume(worker_id)

    def workers_table(self, start: int = 0, stop: int | None = None) -> pa.Table:
        """Workers ``start``..``stop`` as Arrow (what the demo loads into Postgres)."""
        rows = [self.worker(i) for i in range(start, min(stop or self.size, self.size))]
        return pa.table(
            {
                "worker_id": pa.array([w.worker_id for w in rows], pa.int64()),
                "name": [w.name for w in rows],
                "city": [w.city for w in rows],
                "state": [w.state for w in rows],
                "zip": [w.zip_code for w in rows],
                "email": [w.email for w in rows],
                "phone": [w.phone for w in rows],
                "role": [w.role for w in rows],
                "certifications": pa.array([list(w.certifications) for w in rows], pa.list_(pa.string())),
                "skills": pa.array([list(w.skills) for w in rows], pa.list_(pa.string())),
                "years": pa.array([w.years for w in rows], pa.int32()),
                "hourly_rate": pa.array([w.hourly_rate for w in rows], pa.float64()),
                "available": [w.available for w in rows],
                "updated_at": pa.array([w.updated_at for w in rows], pa.timestamp("us", tz="UTC")),
            }
        )

    def questions(self, resumes: list[ResumeFile]) -> list[Question]:
        """The labelled questions, their ground truth among these résumés."""
        readable = [r for r in resumes if r.kind == "text"]
        out = []
        for role, cert, state in QUESTIONS:
            relevant = tuple(
                r.doc_id
                for r in readable
                if (w := self.worker(r.worker_id)).role == role and cert in w.certifications and w.state == state
            )
            out.append(Question(question_text(role, cert, state), role, cert, state, relevant))
        return out

    def job_orders(self) -> pa.Table:
        rng = np.random.default_rng(self.seed)
        picks = rng.integers(0, len(QUESTIONS), JOB_ORDERS)
        rows = [QUESTIONS[i] for i in picks]
        return pa.table(
            {
                "job_order_id": pa.array(range(1, JOB_ORDERS + 1), pa.int64()),
                "client": [CLIENTS[i % len(CLIENTS)] for i in range(JOB_ORDERS)],
                "title": [r[0] for r in rows],
                "certification": [r[1] for r in rows],
                "state": [r[2] for r in rows],
                "query": [question_text(*r) for r in rows],
                "openings": pa.array(rng.integers(1, 6, JOB_ORDERS), pa.int32()),
            }
        )

    def placements(self, resumes: list[ResumeFile], corpus: str, count: int = PLACEMENTS) -> pa.Table:
        """Who was placed on (or turned down for) which job order: successes go to workers
        who fit the order, with a client's favourites placed again and again; rejections to
        workers of the right role who lack the certification."""
        orders = self.job_orders().to_pylist()
        readable = [r for r in resumes if r.kind == "text"]
        fits: dict[tuple, list[ResumeFile]] = {}
        near: dict[tuple, list[ResumeFile]] = {}
        for r in readable:
            w = self.worker(r.worker_id)
            for q in QUESTIONS:
                role, cert, state = q
                if w.role == role and w.state == state:
                    (fits if cert in w.certifications else near).setdefault(q, []).append(r)
        rng = random.Random(f"{self.seed}:placements")
        rows: list[dict] = []
        n = 0
        while len(rows) < count and n < count * MAX_DRAWS_PER_PLACEMENT:
            n += 1
            order = orders[n % len(orders)]
            key = (order["title"], order["certification"], order["state"])
            success = rng.random() < 0.75
            pool = fits.get(key, []) if success else near.get(key, [])
            if not pool:
                continue
            favourites = pool[: max(1, len(pool) // 5)]
            chosen = rng.choice(favourites if success and rng.random() < 0.7 else pool)
            rows.append(
                {
                    "placement_id": f"p{len(rows):05d}",
                    "job_order_id": order["job_order_id"],
                    "query": order["query"],
                    "corpus": corpus,
                    "item_id": f"{chosen.doc_id}#0",
                    "worker_id": chosen.worker_id,
                    "outcome": "success" if success else "rejected",
                    "score": round(rng.uniform(0.6, 1.0), 3) if success else 0.0,
                    "placed_at": (EPOCH - timedelta(days=rng.randrange(0, HISTORY_DAYS))).isoformat(),
                }
            )
        return pa.Table.from_pylist(rows)
