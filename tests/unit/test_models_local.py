"""The local embedding model is the real all-MiniLM-L6-v2.

Proofs: its vectors match an independent implementation of the same weights
(sentence-transformers on torch), it ranks paraphrases above unrelated text, and
batching/padding/ordering never change a vector.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.models import embed_local
from lakehouse.servers.models.embed_local import LocalEmbedder
from lakehouse.servers.settings import ModelSettings

# The reference must load from the packaged files only; set before anything imports huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

MIN_COSINE = 0.99  # required agreement with sentence-transformers, per sentence
BATCH_TOLERANCE = 1e-5  # batch vs single: float32 summation order only

LONG_TEXT = " ".join(
    [
        "Experienced warehouse associate with seven years in distribution centers across Illinois and Indiana,",
        "skilled in sit-down and stand-up forklifts, reach trucks, order pickers, RF scanners and WMS software,",
        "holding OSHA-10 and OSHA-30 cards, first aid and CPR certification, and a clean safety record;",
        "trained new hires on cycle counts, shipping and receiving, cross-docking, and hazardous materials handling.",
    ]
    * 5
)

SENTENCES = [
    "Forklift operator, OSHA-10, 3 years, Joliet IL",
    "hi",
    "",
    "Certified Nursing Assistant (CNA) — night shift; $18.50/hr; Aurora, IL 60505.",
    "¿Dónde está la estación de tren? Café, naïve, résumé, Zürich, Ångström.",
    "The quick brown fox jumps over the lazy dog.",
    "CDL Class A driver with HAZMAT & tanker endorsements, clean MVR, 5+ yrs OTR.",
    "!!!??? ... --- *** ((( )))",
    "Call 1-800-555-0199 between 9:00 and 17:30, ext. 42; ref #A-7731, budget 1,250,000.75 USD.",
    "WAREHOUSE PICKER / PACKER — RF SCANNER EXPERIENCE REQUIRED",
    "Bilingual (English/Spanish) customer service representative for a call center in Naperville.",
    "机器学习工程师，三年经验，北京",
    "emoji test 🚚📦 forklift 👷 ok",
    "https://example.com/jobs?id=12345&ref=lakehouse#apply",
    LONG_TEXT,
    "Welder (MIG/TIG), AWS D1.1 certified, 2nd shift, Gary IN, $24-28/hr DOE",
    "She didn't think it'd rain; it did.",
    "Registered Nurse – ICU – BLS/ACLS – 7 yrs – Chicago, Illinois",
    "Machine operator wanted for a plastics injection molding plant; must read calipers and micrometers, "
    "lift 50 lbs, and rotate between day and night shifts. Benefits after 90 days, weekly pay, overtime available.",
    "a b c d e f g h i j k l m n o p q r s t",
]

# (anchor, paraphrase, unrelated)
PARAPHRASES = [
    (
        "Forklift operator with OSHA-10 certification in Joliet, IL",
        "Certified lift truck driver (OSHA 10) located in Joliet, Illinois",
        "The bakery sells fresh sourdough bread every morning.",
    ),
    (
        "The nurse works night shifts at the hospital.",
        "At the hospital, the nurse is on the overnight shift.",
        "Our quarterly revenue grew by twelve percent.",
    ),
    (
        "I need a truck driver with a commercial license.",
        "Looking for a CDL-holding truck driver.",
        "The cat is sleeping on the warm windowsill.",
    ),
    (
        "How do I reset my password?",
        "What are the steps to change a forgotten password?",
        "The museum is closed on public holidays.",
    ),
    (
        "The warehouse is hiring pickers and packers for the holiday season.",
        "Seasonal picker and packer jobs are open at the warehouse.",
        "Photosynthesis converts sunlight into chemical energy.",
    ),
    (
        "He was late because his train was delayed.",
        "His train's delay made him arrive late.",
        "She planted tomatoes in the garden.",
    ),
    (
        "Welder needed for second shift, MIG and TIG experience required.",
        "Hiring a second-shift welder experienced in MIG/TIG welding.",
        "The orchestra performed Beethoven's ninth symphony.",
    ),
    (
        "The meeting has been moved to Thursday afternoon.",
        "We rescheduled the meeting for Thursday after lunch.",
        "Volcanoes can erupt without much warning.",
    ),
    (
        "Bilingual customer service representative, English and Spanish.",
        "Customer support agent who speaks both Spanish and English.",
        "The recipe calls for two cups of flour.",
    ),
    (
        "The stock market fell sharply after the announcement.",
        "Share prices dropped steeply following the news.",
        "A toddler learned to ride a tricycle.",
    ),
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    e = LocalEmbedder(ModelSettings())
    e.load()
    return e


@pytest.fixture(scope="module")
def reference():
    """sentence-transformers (torch) on the same packaged weights: an independent implementation."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(embed_local.model_dir()), device="cpu")
    assert model.max_seq_length == ModelSettings().local_max_tokens
    return model


def test_matches_sentence_transformers(embedder: LocalEmbedder, reference) -> None:
    ours = embedder.embed(SENTENCES)
    theirs = reference.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (len(SENTENCES), 384)
    assert ours.dtype == np.float32
    cosines = np.sum(ours * theirs, axis=1)
    print(f"\ncosine vs sentence-transformers: min {cosines.min():.7f} mean {cosines.mean():.7f}")
    for sentence, cosine in zip(SENTENCES, cosines, strict=True):
        assert cosine >= MIN_COSINE, f"{cosine:.4f} for {sentence[:60]!r}"


def test_long_text_is_truncated_like_the_reference(embedder: LocalEmbedder, reference) -> None:
    tokens = len(embedder.tokenize([LONG_TEXT])[0].ids[0])
    full = len(reference.tokenizer(LONG_TEXT)["input_ids"])
    assert full > 256, "the long sample must exceed the token limit to test truncation"
    assert tokens == 256
    # Text past the limit cannot change the vector.
    same = embedder.embed([LONG_TEXT, LONG_TEXT + " Also a certified crane operator in Texas."])
    np.testing.assert_allclose(same[0], same[1], atol=BATCH_TOLERANCE)


def test_vectors_are_unit_length(embedder: LocalEmbedder) -> None:
    norms = np.linalg.norm(embedder.embed(SENTENCES), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_paraphrases_rank_above_unrelated(embedder: LocalEmbedder) -> None:
    flat = [text for triple in PARAPHRASES for text in triple]
    vectors = embedder.embed(flat).reshape(len(PARAPHRASES), 3, -1)
    margins = []
    for (anchor, _, _), (a, p, u) in zip(PARAPHRASES, vectors, strict=True):
        close, far = float(a @ p), float(a @ u)
        assert close > far, f"{anchor!r}: paraphrase {close:.3f} <= unrelated {far:.3f}"
        margins.append(close - far)
    print(f"\nparaphrase margin: mean {np.mean(margins):.3f}, min {np.min(margins):.3f}")
    assert np.mean(margins) > 0.3  # paraphrase cosines ~0.7-0.9, unrelated ~0-0.1 for this model


def test_batch_equals_single(embedder: LocalEmbedder) -> None:
    batch = embedder.embed(SENTENCES)
    singles = np.stack([embedder.embed([s])[0] for s in SENTENCES])
    np.testing.assert_allclose(batch, singles, atol=BATCH_TOLERANCE)


def test_order_is_restored_after_length_sorting(embedder: LocalEmbedder) -> None:
    rng = np.random.default_rng(3)
    order = rng.permutation(len(SENTENCES))
    base = embedder.embed(SENTENCES)
    shuffled = embedder.embed([SENTENCES[i] for i in order])
    np.testing.assert_allclose(shuffled, base[order], atol=BATCH_TOLERANCE)


def test_small_batches_and_token_budget_give_the_same_vectors(embedder: LocalEmbedder) -> None:
    small = LocalEmbedder(ModelSettings(local_batch_size=3))
    batches = small.tokenize(SENTENCES)
    assert len(batches) == -(-len(SENTENCES) // 3)
    assert all(b.ids.shape[0] * b.ids.shape[1] <= embed_local.MAX_BATCH_TOKENS for b in batches)
    np.testing.assert_allclose(small.embed(SENTENCES), embedder.embed(SENTENCES), atol=BATCH_TOLERANCE)


def test_padding_is_only_to_the_longest_in_each_batch(embedder: LocalEmbedder) -> None:
    batches = embedder.tokenize(["one", "two words", "a somewhat longer sentence than the others"])
    assert len(batches) == 1
    batch = batches[0]
    assert batch.ids.shape[1] == int(batch.mask.sum(axis=1).max())
    assert list(batch.mask.sum(axis=1)) == sorted(batch.mask.sum(axis=1))


def test_concurrent_calls_agree(embedder: LocalEmbedder) -> None:
    expected = embedder.embed(SENTENCES)
    results: list[np.ndarray] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            results.append(embedder.embed(SENTENCES))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, expected, atol=BATCH_TOLERANCE)


def test_loads_lazily_once() -> None:
    e = LocalEmbedder(ModelSettings())
    assert not e.loaded and e.dimension == 384
    e.embed(["first"])
    first = e._model()
    e.embed(["second"])
    assert e.loaded and e._model() is first


def test_unknown_model_is_invalid_argument(embedder: LocalEmbedder) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        embedder.embed(["x"], model="bert-large")
    assert info.value.reason == "UNKNOWN_MODEL"
    assert embedder.embed(["x"], model="sentence-transformers/all-MiniLM-L6-v2").shape == (1, 384)


def test_token_limit_outside_the_model_is_refused() -> None:
    with pytest.raises(errors.FailedPrecondition):
        LocalEmbedder(ModelSettings(local_max_tokens=10_000)).embed(["x"])


def test_local_threads_caps_the_blas_pool() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    assert before, "numpy's BLAS must be visible to threadpoolctl"
    try:
        LocalEmbedder(ModelSettings(local_threads=1)).load()
        assert blas_threads() == [1] * len(before)
    finally:
        threadpool_limits(limits=max(before), user_api="blas")
