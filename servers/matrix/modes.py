"""Which corpora a search spans: named modes, and the strong-model downgrade gate.

A mode is composed (every chosen corpus) or isolation (the primary corpus alone). The
seed measured composed retrieval losing to isolation on strong models five times out of
five, so when the request names the model that will read the results and that model
matches none of ``matrix.weak_models``, a composed mode spanning several corpora is
switched to its isolation twin (``matrix.modes[name].isolation``, or the primary corpus
alone). ``force_mode`` bypasses the gate.

The primary corpus of a mode is ``matrix.modes[name].primary``, else the first chosen
corpus tagged ``primary``, else the first chosen corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from lakehouse.api.errors import invalid_field
from lakehouse.api.matrix import MODE_COMPOSED, MODE_ISOLATION, UNKNOWN_MODE
from lakehouse.api.vector import CorpusInfo
from lakehouse.servers.settings import MatrixMode, MatrixSettings

PRIMARY_TAG = "primary"


@dataclass(frozen=True)
class ModeChoice:
    name: str
    corpora: list[str]
    downgraded: bool
    reason: str


def weak_pattern(model: str, patterns: Sequence[str]) -> str | None:
    """The first weak-model pattern ``model`` matches (case-insensitive), or None."""
    lowered = model.lower()
    return next((p for p in patterns if fnmatchcase(lowered, p.lower())), None)


def choose_mode(
    corpora: Sequence[str],
    mode: str,
    force_mode: str,
    model: str,
    known: Mapping[str, CorpusInfo],
    settings: MatrixSettings,
) -> ModeChoice:
    """``corpora``: the request's list (empty: the mode's, else every known corpus)."""
    if force_mode:
        name, chosen = _resolve(force_mode, corpora, known, settings, "force_mode")
        return ModeChoice(name, chosen, False, f"force_mode {force_mode!r}: the downgrade gate is bypassed")
    name, chosen = _resolve(mode or MODE_COMPOSED, corpora, known, settings, "mode")
    if len(chosen) < 2:
        return ModeChoice(name, chosen, False, f"mode {name!r} spans one corpus: nothing to compose")
    if not model:
        return ModeChoice(name, chosen, False, f"mode {name!r}: no consuming model named, composition kept")
    pattern = weak_pattern(model, settings.weak_models)
    if pattern is not None:
        return ModeChoice(name, chosen, False, f"model {model!r} is weak (matches {pattern!r}): composition kept")
    spec = settings.modes.get(name, MatrixMode())
    if spec.isolation:  # a configured twin searches its own corpora
        twin_name, twin_corpora = _resolve(spec.isolation, (), known, settings, "mode")
    else:
        twin_name, twin_corpora = MODE_ISOLATION, [_primary(spec, chosen, known)]
    reason = (
        f"model {model!r} matches no weak-model pattern: composed retrieval loses to isolation on strong "
        f"models, so mode {name!r} becomes {twin_name!r} ({', '.join(twin_corpora)})"
    )
    return ModeChoice(twin_name, twin_corpora, True, reason)


def _resolve(
    name: str, corpora: Sequence[str], known: Mapping[str, CorpusInfo], settings: MatrixSettings, field: str
) -> tuple[str, list[str]]:
    configured = settings.modes.get(name)
    if configured is None and name not in (MODE_COMPOSED, MODE_ISOLATION):
        choices = sorted({MODE_COMPOSED, MODE_ISOLATION, *settings.modes})
        raise invalid_field(field, f"unknown mode {name!r}; configured: {', '.join(choices)}", UNKNOWN_MODE)
    spec = configured or MatrixMode()
    chosen = list(corpora) or list(spec.corpora) or sorted(known)
    if name == MODE_ISOLATION or (configured is not None and name != MODE_COMPOSED and _is_isolation(spec)):
        return name, [_primary(spec, chosen, known)]
    return name, chosen


def _is_isolation(spec: MatrixMode) -> bool:
    """A configured mode with one corpus is an isolation mode."""
    return len(spec.corpora) == 1


def _primary(spec: MatrixMode, chosen: Sequence[str], known: Mapping[str, CorpusInfo]) -> str:
    if spec.primary:
        return spec.primary
    tagged = [c for c in chosen if c in known and PRIMARY_TAG in known[c].tags]
    return (tagged or list(chosen))[0]
