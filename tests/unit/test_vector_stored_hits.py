"""Hits the index hands back unbuilt: they read like a list of Hits, and serialize exactly as one."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from lakehouse.api.vector import UNCACHED, HitStems, Item, SearchResult, search_result_to_pb, search_results_to_pb
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import ServerSettings, Settings
from lakehouse.servers.vector.model import Hit
from lakehouse.servers.vector.stored_hits import RowSource, StoredHits


@pytest.fixture(scope="module")
def core():
    home = Path(tempfile.mkdtemp(prefix="stored-hits-"))
    server = build_server(Settings(home=home, server=ServerSettings(grpc_port=0)), "storage,catalog,vector")
    core = server.runtime.vector
    core.create_corpus("rows", dimension=4, metric="cosine")
    rng = np.random.default_rng(7)
    items = [
        Item(
            f"w{i}",
            vector=v,
            text=f"worker {i}" if i % 3 else None,
            metadata={"state": "IL" if i % 2 else "WI", "n": i},
        )
        for i, v in enumerate(rng.standard_normal((40, 4)).astype(np.float32))
    ]
    core.add("rows", items)
    core.delete("rows", ["w3"])  # a tombstone: the walk's bitmap and the live mask both apply
    return core


def test_they_read_as_the_list_of_hits_they_stand_for() -> None:
    source = RowSource(9, ["a", "b", "c"], ['{"x":1}', "{}", '{"y":[1,2]}'], ["ta", None, "tc"])
    hits = StoredHits(source, [2, 0], [0.9, 0.5], with_text=True)
    expected = [Hit("c", 0.9, {"y": [1, 2]}, "tc", (9, 2)), Hit("a", 0.5, {"x": 1}, "ta", (9, 0))]
    assert len(hits) == 2
    assert hits == expected and expected == hits
    assert hits[0] == expected[0] and hits[:1] == expected[:1] and list(hits) == expected
    assert [*hits] == expected and repr(hits) == repr(expected)
    assert hits != expected[:1] and hits != "ca"
    assert StoredHits(source, [1], [0.1], with_text=False)[0].text is None
    assert list(StoredHits(source, [2], [0.3], with_text=False).rows()) == [(9, 2, 0.3, None)]
    assert list(hits.rows()) == [(9, 2, 0.9, "tc"), (9, 0, 0.5, "ta")]


@pytest.mark.parametrize("include_text", [True, False])
@pytest.mark.parametrize("stems", [HitStems(1000), HitStems(2), UNCACHED], ids=["cached", "tiny cache", "uncached"])
def test_they_serialize_byte_for_byte_like_built_hits(core, include_text: bool, stems: HitStems) -> None:
    queries = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    for filt in (None, {"state": "IL"}):
        found = core.search_batch("rows", queries, k=6, filter=filt, include_text=include_text)
        built = [SearchResult(list(r.hits), r.exact, r.generation, r.filtered_out) for r in found]
        for _ in range(2):  # the second round from the cache
            fast = search_results_to_pb(found, stems).SerializeToString(deterministic=True)
            slow = search_results_to_pb(built, UNCACHED).SerializeToString(deterministic=True)
            assert fast == slow
        single = core.search("rows", vector=queries[0], k=3, include_text=include_text, filter=filt)
        assert search_result_to_pb(single, stems) == search_result_to_pb(
            SearchResult(list(single.hits), single.exact, single.generation, single.filtered_out)
        )
        assert all("w3" != h.id for r in found for h in r.hits)
