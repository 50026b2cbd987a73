"""Where a corpus lives in the lake bucket (DESIGN §4).

    corpora/<corpus>/corpus.json                          definition + active/previous pointers
    corpora/<corpus>/gen-<n>/vectors.parquet              rows of generation n (tombstones flagged)
    corpora/<corpus>/gen-<n>/hnsw.faiss                   faiss.serialize_index of its graph
    corpora/<corpus>/gen-<n>/manifest.json                written last: its presence = complete
    corpora/<corpus>/log/<seq>.parquet                    one write batch, replayed onto generations
    corpora/<corpus>/trials/<generation>.json             the index trial of the build that made it

The log sits beside the generations, not inside one: a write is replayed onto
whichever generation becomes active (a rebuilt one, a rolled-back one), so it
belongs to the corpus, ordered by ``seq``, not to the generation it was made on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CORPORA_PREFIX = "corpora/"
CORPUS_FILE = "corpus.json"
VECTORS_FILE = "vectors.parquet"
GRAPH_FILE = "hnsw.faiss"
MANIFEST_FILE = "manifest.json"
LOG_DIR = "log"
TRIALS_DIR = "trials"
SEQ_DIGITS = 12  # zero-padded so keys list in seq order

_GEN_RE = re.compile(r"^gen-([1-9][0-9]*)/(.+)$")
_LOG_RE = re.compile(r"^" + LOG_DIR + r"/([0-9]{" + str(SEQ_DIGITS) + r"})\.parquet$")
_TRIAL_RE = re.compile(r"^" + TRIALS_DIR + r"/([0-9]{" + str(SEQ_DIGITS) + r"})\.json$")


def corpus_prefix(corpus: str) -> str:
    return f"{CORPORA_PREFIX}{corpus}/"


def corpus_key(corpus: str) -> str:
    return corpus_prefix(corpus) + CORPUS_FILE


def generation_key(corpus: str, generation: int, filename: str) -> str:
    return f"{corpus_prefix(corpus)}gen-{generation}/{filename}"


def log_key(corpus: str, seq: int) -> str:
    return f"{corpus_prefix(corpus)}{LOG_DIR}/{seq:0{SEQ_DIGITS}d}.parquet"


def trial_key(corpus: str, generation: int) -> str:
    return f"{corpus_prefix(corpus)}{TRIALS_DIR}/{generation:0{SEQ_DIGITS}d}.json"


@dataclass(frozen=True)
class KeyKind:
    """What a key under a corpus prefix is: ``gen`` (with generation and file), ``log`` (with seq),
    ``trial`` (with the generation it records), or ``other``."""

    kind: str
    number: int = 0
    filename: str = ""

    @property
    def generation(self) -> int:
        """The generation a key belongs to, 0 if it is not a generation file."""
        return self.number if self.kind == "gen" else 0


def classify(corpus: str, key: str) -> KeyKind:
    rest = key[len(corpus_prefix(corpus)) :]
    if match := _GEN_RE.match(rest):
        return KeyKind("gen", int(match.group(1)), match.group(2))
    if match := _LOG_RE.match(rest):
        return KeyKind("log", int(match.group(1)))
    if match := _TRIAL_RE.match(rest):
        return KeyKind("trial", int(match.group(1)))
    return KeyKind("other")


def corpus_name_of(key: str) -> str | None:
    """``corpora/<name>/corpus.json`` -> name; None for any other key."""
    if key.startswith(CORPORA_PREFIX) and key.endswith("/" + CORPUS_FILE):
        name = key[len(CORPORA_PREFIX) : -len(CORPUS_FILE) - 1]
        if "/" not in name:
            return name
    return None
