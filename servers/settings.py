"""The one typed configuration model for every Lakehouse process.

Values come from (highest first) keyword arguments, ``LAKEHOUSE_*`` environment
variables (nested with ``__``, e.g. ``LAKEHOUSE_STORAGE__BACKEND=s3``), a TOML
file named by ``LAKEHOUSE_CONFIG``, then the defaults below. Nothing else in the
code base holds a tunable literal.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lakehouse.api.config import ChannelSettings
from lakehouse.api.paging import PagingSettings
from lakehouse.servers.memory import check_memory
from lakehouse.servers.services import COMPONENTS

MiB = 1024 * 1024
# A memory setting: a share of the machine ("30%") or a size ("512MB"); see servers/memory.py.
MemorySize = Annotated[str, AfterValidator(check_memory)]
MemorySizeOrNone = Annotated[str, AfterValidator(lambda v: check_memory(v, allow_empty=True))]


LOCAL_UPSTREAM = "local"
_ADDRESS_RE = re.compile(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}")


def check_upstreams(upstreams: dict[str, str]) -> dict[str, str]:
    """Components by name, each ``local`` or ``host:port``."""
    out = {}
    for component, address in upstreams.items():
        name = component.lower()
        if name not in COMPONENTS:
            raise ValueError(f"unknown component {component!r} in upstreams; use one of {list(COMPONENTS)}")
        if address != LOCAL_UPSTREAM and not _ADDRESS_RE.fullmatch(address):
            raise ValueError(f"upstream of {name} must be host:port or {LOCAL_UPSTREAM!r}, got {address!r}")
        out[name] = address
    return out


class StorageSettings(BaseModel):
    """Where the lake bucket lives: a local directory (embedded default) or S3."""

    backend: Literal["local", "s3"] = "local"
    # Local backend: directory holding the lake bucket. Defaults to <home>/lake.
    root: Path | None = None
    # S3 backend.
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "lakehouse"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    # Name under which the lake bucket is registered.
    lake_bucket: str = "lake"
    # Transfer chunk for streamed object reads.
    chunk_bytes: int = 1 * MiB
    # Bounded retries for transient S3 failures before the operation fails.
    s3_retries: int = 2
    s3_timeout_s: float = 10.0
    # Directories under which CreateBucket may place local buckets (each bucket is a
    # strict subdirectory, resolved with symlinks). None: <home>/buckets. [] : none.
    local_bucket_roots: list[Path] | None = None
    # host:port endpoints registered S3 buckets may use. None: the lake's own
    # s3_endpoint when backend is s3, else none; anything else is refused unconnected.
    s3_bucket_endpoints: list[str] | None = None
    # Whether CreateBucket/DeleteBucket are served at all (the admin seam until
    # profiles exist: StorageCore.authorize_bucket_admin).
    allow_bucket_registration: bool = True


class CatalogSettings(BaseModel):
    """Catalog (metadata authority) settings."""

    # CommitVersion re-reads each new file and checks its sha256 against the manifest
    # (existence and size are always checked). Off: trust the writer's hash.
    verify_content_hash: bool = True


class AuthSettings(BaseModel):
    """Principals, API keys and profiles (servers/auth/): off by default (the embedded
    system listens on loopback only). With ``enabled`` every call but health, reflection
    and Authenticate needs ``authorization: Bearer <key>``."""

    enabled: bool = False
    # Start-up refuses a non-loopback server.host or gateway host with auth off unless this
    # is set (`lakehouse serve --insecure`).
    insecure: bool = False
    # Secrets start with this, so a leaked one is recognisable (secret scanners).
    key_prefix: str = Field("lh_", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    # The first start with auth on and no admin writes an admin key here (mode 0600);
    # None: <home>/auth/admin.key.
    bootstrap_key_file: Path | None = None
    # The key the services use to call each other (a service principal with an admin
    # profile), created with the bootstrap admin; None: <home>/auth/internal.key.
    internal_key_file: Path | None = None
    # A resolved key is trusted this long before it is checked again (a revoke is seen at
    # once in the catalog's process, within this in the others).
    cache_ttl_s: float = Field(5.0, ge=0)
    # After this many failed checks from one source within failure_window_s, that source
    # gets RESOURCE_EXHAUSTED (429, TOO_MANY_AUTH_FAILURES) until the window has passed.
    max_failures: int = Field(10, ge=1)
    failure_window_s: float = Field(60.0, gt=0)
    # Sources tracked at most (the oldest are forgotten first): bounds the limiter's memory.
    max_tracked_sources: int = Field(10000, ge=1)
    # A key created without a ttl expires after this many seconds (0: never).
    default_key_ttl_s: int = Field(0, ge=0)


class IngestSettings(BaseModel):
    """Limits and Parquet layout for ingestion."""

    # Maximum size of one REST (Envoy-transcoded) raw body; gRPC streams are unbounded.
    max_rest_body_bytes: int = 1024 * MiB
    # Rows per Parquet row group and per part file.
    row_group_rows: int = 256 * 1024
    rows_per_file: int = 8 * 1024 * 1024
    compression: str = "zstd"
    # Rows fetched per batch when converting; also the progress granularity.
    batch_rows: int = 128 * 1024
    # Longest single CSV line (record) accepted; longer records are rejected, not truncated.
    max_line_bytes: int = 64 * MiB
    # Spool directory for in-flight uploads. Defaults to <home>/spool.
    spool_dir: Path | None = None
    # memory_limit of each ingest's private DuckDB (it spills to <spool>/duckdb-tmp):
    # a share of the machine's memory ("15%") or a size ("1GB"). A wide file (thousands
    # of columns) or a long value (a 170 MB text cell) needs hundreds of MB.
    duckdb_memory_limit: MemorySize = "15%"
    # CSV dialect sniffing (servers/ingest/dialect.py): bytes of decoded text sampled,
    # delimiters tried first (in order), comment characters auto-detection may pick,
    # the longest preamble it skips, and the share of lines a delimiter must split
    # the same way to count as evident (then the file is never read as one column).
    sniff_bytes: int = 64 * 1024
    sniff_delimiters: str = ",\t;|"
    sniff_comment_chars: str = "#"
    sniff_max_preamble_lines: int = 20
    sniff_evident_fraction: float = 0.9
    # A sample holding fewer whole lines than this (very long lines) is extended, up to
    # max_line_bytes, so the header is judged against data rows.
    sniff_min_lines: int = 3
    # Decompression (servers/ingest/decode.py): size of each decoded piece, the most
    # decompressed bytes one upload may expand to, and the largest expansion ratio
    # accepted once more than decompress_ratio_grace_bytes have come out (bomb guard).
    decode_piece_bytes: int = 1 * MiB
    max_decompressed_bytes: int = 64 * 1024 * MiB
    max_compression_ratio: int = 250
    decompress_ratio_grace_bytes: int = 64 * MiB
    # Preamble/comment removal (servers/ingest/lines.py): removed-line runs remembered
    # to map parser line numbers back to the file's (past it, errors give record numbers).
    line_map_max_runs: int = 1_000_000
    # On a CSV parse error, bytes of the spooled file re-read to turn the parser's record
    # number into a physical line (quoted fields may span lines).
    error_locate_max_bytes: int = 256 * MiB
    # Spreadsheets (servers/ingest/xlsx.py): the most uncompressed bytes a workbook's
    # parts may hold, and the most cells one sheet may have.
    xlsx_max_uncompressed_bytes: int = 2 * 1024 * MiB
    xlsx_max_cells: int = 50_000_000


_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "DC": "District of Columbia",
}  # fmt: skip
_CITIES = {
    "Chicago": "IL", "Joliet": "IL", "Aurora": "IL", "Rockford": "IL", "Naperville": "IL", "Peoria": "IL",
    "Milwaukee": "WI", "Madison": "WI", "Indianapolis": "IN", "Gary": "IN", "Detroit": "MI",
    "Grand Rapids": "MI", "Columbus": "OH", "Cleveland": "OH", "Cincinnati": "OH", "St. Louis": "MO",
    "Kansas City": "MO", "Minneapolis": "MN", "Dallas": "TX", "Houston": "TX", "Austin": "TX",
    "San Antonio": "TX", "Atlanta": "GA", "Phoenix": "AZ", "Denver": "CO", "Los Angeles": "CA",
    "Sacramento": "CA", "Seattle": "WA", "Portland": "OR", "Nashville": "TN", "Memphis": "TN",
    "Louisville": "KY", "Charlotte": "NC", "Newark": "NJ", "Philadelphia": "PA", "Pittsburgh": "PA",
    "Reno": "NV", "Las Vegas": "NV", "Salt Lake City": "UT", "Omaha": "NE", "Des Moines": "IA",
}  # fmt: skip


class VocabularySettings(BaseModel):
    """The staffing vocabulary: what résumé parsing extracts (servers/vocabulary.py) and what
    Ask reads out of a question as a filter, so both speak the same terms. Each canonical
    term maps to the phrases that mean it (matched case-insensitively, on word boundaries)."""

    states: dict[str, str] = Field(default_factory=lambda: dict(_STATES))
    # State codes that are also English words: taken as a state only after "City, ", before
    # a ZIP code, or after "in"/"from"/"near" ("a welder in IN"), so "IN" in a heading or
    # "OR" in a sentence is not a state.
    ambiguous_state_codes: list[str] = Field(default_factory=lambda: ["IN", "OR", "ME", "OK", "HI"])
    cities: dict[str, str] = Field(default_factory=lambda: dict(_CITIES))
    certifications: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "OSHA-10": ["OSHA-10", "OSHA 10", "OSHA10", "OSHA 10-hour", "OSHA 10 hour"],
            "OSHA-30": ["OSHA-30", "OSHA 30", "OSHA30", "OSHA 30-hour", "OSHA 30 hour"],
            "Forklift": ["forklift certification", "forklift certified", "certified forklift", "forklift license",
                         "powered industrial truck"],
            "CDL-A": ["CDL-A", "CDL A", "Class A CDL", "CDL Class A"],
            "CDL-B": ["CDL-B", "CDL B", "Class B CDL", "CDL Class B"],
            "First Aid": ["First Aid"],
            "CPR": ["CPR"],
            "HAZMAT": ["HAZMAT", "hazardous materials endorsement"],
            "AWS Welding": ["AWS certified welder", "AWS D1.1", "AWS welding", "AWS certification", "AWS certified"],
            "ServSafe": ["ServSafe"],
        }
    )  # fmt: skip
    roles: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "forklift operator": ["forklift operator", "forklift driver", "reach truck operator"],
            "warehouse associate": ["warehouse associate", "warehouse worker", "warehouse clerk"],
            "picker packer": ["picker packer", "order picker", "picker/packer", "packer"],
            "machine operator": ["machine operator", "production operator"],
            "cnc machinist": ["CNC machinist", "CNC operator"],
            "welder": ["welder", "welding technician"],
            "truck driver": ["truck driver", "CDL driver", "delivery driver"],
            "assembler": ["assembler", "assembly technician", "line worker"],
            "maintenance technician": ["maintenance technician", "maintenance mechanic"],
            "shipping clerk": ["shipping clerk", "receiving clerk", "shipping and receiving"],
            "general laborer": ["general laborer", "general labor", "laborer"],
            "quality inspector": ["quality inspector", "QC inspector", "quality control inspector"],
        }
    )  # fmt: skip
    skills: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "pallet jack": ["pallet jack", "electric pallet jack"],
            "rf scanner": ["RF scanner", "RF scanning", "barcode scanner"],
            "inventory control": ["inventory control", "inventory management", "cycle counting", "cycle count"],
            "wms": ["WMS", "warehouse management system"],
            "shipping": ["shipping", "receiving"],
            "blueprint reading": ["blueprint reading", "blueprints"],
            "mig welding": ["MIG welding", "MIG"],
            "tig welding": ["TIG welding", "TIG"],
            "preventive maintenance": ["preventive maintenance", "PM program"],
            "lean manufacturing": ["lean manufacturing", "5S", "six sigma"],
            "bilingual spanish": ["bilingual Spanish", "bilingual", "Spanish"],
        }
    )  # fmt: skip
    email_pattern: str = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
    phone_pattern: str = r"(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4}"
    # "7 years", "7+ years of experience", "10 yrs": the largest such figure is the experience.
    years_pattern: str = r"(\d{1,2})\+?\s*(?:years?|yrs?)\b"
    max_years: int = 60


class DocumentSettings(BaseModel):
    """Résumé PDFs and archives of them (format=pdf / format=zip, servers/ingest/documents/)."""

    # Largest single PDF accepted (as uploaded, or as unpacked from an archive).
    max_file_bytes: int = 256 * MiB
    # Most pages read from one document; past it the document is rejected, not truncated.
    max_pages: int = 20_000
    # Text kept per document; past it the document is rejected (DOCUMENT_TOO_LARGE).
    max_text_bytes: int = 64 * MiB
    # Chunks for retrieval: characters per chunk and carried over between neighbours.
    # A chunk never spans pages, so every search hit can cite its page.
    chunk_chars: int = Field(1200, ge=50)
    chunk_overlap_chars: int = Field(150, ge=0)
    # Rows (documents) per written batch.
    batch_documents: int = Field(256, ge=1)
    # Worker processes that read an archive's documents (0: one per CPU, at most 4;
    # 1: the ingest process itself), and documents queued per worker.
    workers: int = Field(0, ge=0)
    in_flight_per_worker: int = Field(4, ge=1)
    # Archives: the most members, the most bytes they may unpack to in all, and the
    # largest expansion ratio a member may have (zip-bomb guards; sizes are also counted
    # while unpacking, since the archive's own size fields can lie).
    zip_max_members: int = 100_000
    zip_max_uncompressed_bytes: int = 16 * 1024 * MiB
    zip_max_ratio: int = 200
    # Pages whose text is shorter than this count as having no text layer.
    min_text_chars: int = 1


class SourcesSettings(BaseModel):
    """PostgreSQL sources and pulls (servers/sources/)."""

    # Directory of the registry and of the passwords file. None: <home>/sources.
    dir: Path | None = None
    # The registry (name, host, port, database, user), and the passwords (mode 0600).
    registry_file: str = "registry.json"
    secrets_file: str = "secrets.json"
    # libpq connect_timeout: whole seconds for the connection and sign-in (libpq treats
    # less than 2 as 2), after which the pull fails UNAVAILABLE.
    connect_timeout_s: int = Field(10, ge=2)
    # How many Arrow bytes the driver puts in one batch (adbc.postgresql.batch_size_hint_bytes):
    # with the Parquet row group, what bounds a pull's memory.
    batch_size_hint_bytes: int = Field(16 * MiB, gt=0)
    # statement_timeout of each statement of a pull on the source; the COPY that streams
    # a whole table is one statement. 0: none.
    statement_timeout_s: float = Field(3600.0, ge=0)
    # libpq sslmode for every source.
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    # application_name of the pull's connection (shown in pg_stat_activity).
    application_name: str = "lakehouse-pull"
    # Versions of a dataset searched, newest first, for the last incremental pull's watermark.
    watermark_scan_versions: int = Field(1000, gt=0)


class QuerySettings(BaseModel):
    """Query engine limits."""

    timeout_s: float = 60.0
    max_timeout_s: float = 3600.0
    # Row cap for JSON (REST) responses; Arrow streams are not capped.
    max_json_rows: int = 10_000
    batch_rows: int = 64 * 1024
    threads: int = 0  # 0: DuckDB default (all cores)
    # DuckDB's memory_limit (sorts, hash tables, aggregates, caches; it spills or fails
    # with QUERY_OUT_OF_MEMORY past it): a share of the machine's memory, resolved at
    # start ("30%"), or a size ("512MB", "2GiB"). See servers/memory.py.
    memory_limit: MemorySize = "30%"
    # Where the engine spills. None: <home>/tmp/query (collected at start after a crash).
    temp_dir: Path | None = None
    # Soft RLIMIT_DATA of a server process that hosts the query engine ("N%", a size, or
    # "" for none). memory_limit does not see scalar results (repeat(), ||, lpad(): up to
    # 4 GiB per value, one per row); past this cap such an allocation fails as
    # QUERY_OUT_OF_MEMORY instead of growing the process until the kernel kills it.
    process_memory_limit: MemorySizeOrNone = "80%"
    # Byte cap of a JSON (REST) result: rows are added while their JSON (and Arrow) size
    # stays within it, then the result is truncated (truncated=true). Kept below the
    # gateway's 64 MiB max_response_body_bytes.
    max_json_bytes: int = Field(32 * MiB, ge=1)
    # After its deadline or a cancel, a call waits this long for the engine to stop, then
    # answers anyway; an engine call that cannot be interrupted finishes on its own thread.
    stop_grace_s: float = Field(1.0, gt=0)
    # Engine calls still running after their call answered (see stop_grace_s); past this
    # many, new queries get RESOURCE_EXHAUSTED (QUERY_ENGINE_BUSY) until some end.
    # Pool of reused threads that run engine calls (bind, start, next batch), so a
    # deadline can be answered while DuckDB is busy. More concurrent calls queue.
    engine_call_threads: int = Field(64, ge=2)
    max_abandoned: int = Field(4, ge=1)
    # After a fatal engine error the database is rebuilt; a failed rebuild is retried this often.
    rebuild_retry_s: float = Field(2.0, gt=0)


class ModelSettings(BaseModel):
    """Embedding and chat providers (ModelService)."""

    embed_provider: str = "local"  # local | ollama | openai | hash
    embed_model: str = "all-MiniLM-L6-v2"
    local_batch_size: int = 64
    local_max_tokens: int = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs
    local_threads: int = 0  # 0: all cores
    max_texts_per_request: int = 2048
    max_text_chars: int = 100_000
    chat_provider: str = "ollama"  # ollama | openai | anthropic
    chat_model: str = ""
    ollama_url: str = "http://127.0.0.1:11434"
    openai_url: str = ""  # an OpenAI-compatible base URL ending in /v1
    openai_api_key: SecretStr = SecretStr("")
    anthropic_url: str = ""
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_version: str = "2023-06-01"
    http_timeout_s: float = 30.0
    http_connect_timeout_s: float = 5.0
    http_retries: int = 2
    http_retry_backoff_s: float = Field(
        0.25, ge=0, description="First wait between attempts at a provider; it doubles after each failure."
    )
    http_retry_backoff_max_s: float = Field(
        4.0, ge=0, description="Cap on any single wait between attempts, a provider's Retry-After included."
    )
    http_retry_jitter: float = Field(
        0.1, ge=0, le=1, description="Each wait is scaled by a random 1 +- this, so synchronized clients spread out."
    )
    http_max_connections: int = 16


class FilterSettings(BaseModel):
    """Bounds of the metadata filter language (servers/vector/filters.py)."""

    max_regex_chars: int = Field(256, gt=0, description="Longest `regex` pattern accepted.")
    max_depth: int = Field(16, gt=0, description="Deepest nesting of $or / $and / $not.")
    cache_entries: int = Field(
        64, ge=0, description="Allowed-row sets of recent filters kept per corpus (cleared by every write)."
    )


class TrialSettings(BaseModel):
    """Index trials: the record each corpus build and rebuild leaves (servers/vector/trials.py)."""

    probe_queries: int = Field(
        200, ge=0, description="Items searched for their own neighbours to measure recall (0: no probe)."
    )
    probe_k: int = Field(10, gt=0, description="k of the probe's recall@k.")
    probe_seed: int = Field(0, description="Seed of the probe's sample, so a rebuild probes the same items.")
    keep_per_corpus: int = Field(100, gt=0, description="Trials kept per corpus; older ones are deleted.")
    list_default: int = Field(50, gt=0, description="Trials ListIndexTrials returns when no limit is given.")
    list_max: int = Field(1000, gt=0, description="Most trials one ListIndexTrials returns.")


class VectorSettings(BaseModel):
    """FAISS HNSW corpora (VectorService)."""

    metric: Literal["cosine", "l2", "ip"] = "cosine"
    filters: FilterSettings = Field(default_factory=FilterSettings)
    trials: TrialSettings = Field(default_factory=TrialSettings)
    hnsw_m: int = 16
    ef_construction: int = 100
    ef_search: int = 64
    max_k: int = 1000
    max_items_per_request: int = 10_000
    # Search responses reuse each returned row's serialized id and metadata (api/vector.py HitStems):
    # rows kept (0: build every Struct anew).
    metadata_cache_rows: int = Field(200_000, ge=0)
    # SearchBatch: queries per call, and the OpenMP threads one batch is spread over (0: all cores).
    max_batch_queries: int = Field(1024, gt=0)
    batch_search_threads: int = Field(0, ge=0)
    # Filtered search: up to this many allowed rows, search them exactly instead of walking the
    # graph (measured at 100K x 384: gathering 4K rows and scanning them costs ~1.6 ms; the
    # graph walk then costs ~1 ms at 4% and keeps recall@10 >= 0.96 down to 3%, but falls to
    # 0.85 at 2%; a bitmap scan of the flat storage costs ~4.7 ms at 10K rows).
    exact_search_max_ids: int = 4096
    # Embedding batch (and Parquet read batch) when building from a dataset or embedding on ingest.
    build_batch_rows: int = 1024
    # OpenMP threads: a single-query search gains nothing from a team, and concurrent
    # searches would oversubscribe the cores; graph builds and adds parallelise well
    # over all cores (0: all).
    search_threads: int = 1
    build_threads: int = 0
    # Rows per FAISS add when building a generation: bounds how long a cancel waits.
    build_chunk_rows: int = 32 * 1024
    # add_batches gathers this many items into one log entry + one FAISS add. FAISS builds as
    # fast from 8K-row adds as from one big one (measured), and each add blocks searches of
    # that corpus while it runs (~1 s at 100K x 384 on 2 cores), so smaller is kinder.
    bulk_add_rows: int = 8 * 1024
    # Filtered search goes exact also when the allowed set is under this fraction of the graph:
    # a walk that admits 1 node in 50 needs an efSearch that costs more than the scan.
    exact_search_max_fraction: float = 0.02
    # Exact search up to this many rows gathers them (O(allowed)); above, it scans storage with the bitmap.
    exact_gather_max_ids: int = 4096
    # Filtered graph walks widen efSearch by (1/selectivity) ** filtered_ef_exponent, up to the
    # cap (measured at 100K x 384, efSearch 32: 0.75 keeps recall@10 >= 0.99 at 5-50% for
    # 0.45-0.73 ms; a full 1/selectivity reached the same recall for 0.88 ms at 10%, 2.9 ms at 5%).
    filtered_ef_search_max: int = 2048
    filtered_ef_exponent: float = Field(0.75, gt=0, le=1)
    # Allow-lists from this length on are matched against the id column in Arrow (measured:
    # ~1.5 ms flat at 100K rows vs ~0.15-0.25 us per id with dict lookups).
    arrow_lookup_min_ids: int = 8192
    # Background checkpoint once the log holds max(checkpoint_min_items, checkpoint_fraction
    # of the corpus) items, or checkpoint_max_files entries.
    checkpoint_min_items: int = 1000
    checkpoint_fraction: float = 0.1
    checkpoint_max_files: int = 1000


class MatrixMode(BaseModel):
    """A named retrieval mode: which corpora it composes, and its isolation twin."""

    corpora: list[str] = Field(default_factory=list, description="Corpora searched (empty: the request's, or all).")
    primary: str = Field("", description="The corpus isolation keeps (empty: the first of corpora).")
    isolation: str = Field(
        "", description="The mode a strong model is switched to (empty: the primary corpus alone, 'isolation')."
    )


class MatrixSettings(BaseModel):
    """MatrixService: many corpora searched as one (servers/matrix/core.py)."""

    vector_upstreams: list[str] = Field(
        default_factory=list,
        description="Vector processes whose corpora the matrix searches, host:port or 'local' "
        "(empty: the vector component as this process reaches it).",
    )
    k_per_corpus: int = Field(6, gt=0)
    k: int = Field(8, gt=0)
    max_k: int = Field(1000, gt=0, description="Largest k and k_per_corpus a request may ask for.")
    max_corpora: int = Field(64, gt=0, description="Most corpora one search may span.")
    fusion: Literal["score", "rrf"] = "score"
    # 60: the constant of the RRF paper, Elasticsearch and Milvus.
    rrf_k: int = Field(60, gt=0)
    # The seed's LH_RELEVANCE_FILTER / LH_RELEVANCE_THRESHOLD.
    relevance_filter: bool = False
    # Defaults measured with all-MiniLM-L6-v2 on the adjacency-pollution fixture (tests/integration/
    # test_matrix.py): on-topic chunks score 0.6-0.9, off-topic ones from the same document under 0.1.
    relevance_threshold: float = Field(0.3, ge=-1, le=1, description="Drop results scoring below this.")
    relevance_margin: float = Field(0.4, ge=0, description="Drop results this far below the best one.")
    weak_models: list[str] = Field(
        default_factory=lambda: ["qwen2.5:*", "*:3b", "*:1b", "*:0.5b", "llama3.2:*", "phi3:*", "gemma2:2b"],
        description="Glob patterns of weak models; any other named model is strong, and composed "
        "retrieval is switched to isolation for it (composition loses to isolation on strong models).",
    )
    modes: dict[str, MatrixMode] = Field(default_factory=dict)
    search_workers: int = Field(8, gt=0, description="Threads searching corpora concurrently.")
    local_search_threads: int = Field(
        2,
        gt=0,
        description="Threads sharing one search's corpora of this process: the calling thread takes every "
        "n-th, the pool the others (FAISS walks overlap, their Python does not; 1: all on the calling thread).",
    )
    routing_ttl_s: float = Field(5.0, ge=0, description="How long a listing of the vector upstreams is reused.")
    sql_max_ids: int = Field(1_000_000, gt=0, description="Most ids a SQL gate may select.")
    # Playbooks (servers/matrix/playbooks.py): the dataset that holds every entry, the corpus
    # that indexes their queries, and the bounds of a recording call.
    playbook_dataset: str = "playbooks"
    playbook_corpus: str = "playbooks"
    playbook_max_bulk: int = Field(100_000, gt=0, description="Entries one bulk call may carry.")
    playbook_write_rows: int = Field(2048, gt=0, description="Entries validated and written together.")
    playbook_clock_skew_s: float = Field(300.0, ge=0, description="How far in the future an entry's time may be.")
    playbook_max_query_chars: int = Field(4096, gt=0)
    # use_playbook: the past queries most like this one (at least this similar) count, each
    # weighted by its similarity and by time decay (halved every half-life); an item's boost
    # is playbook_weight x the sum of weight x outcome (a success's score, or minus
    # playbook_rejection_weight), within +-playbook_weight; rejections weighing
    # playbook_exclude_weight or more exclude it, and items boosted by at least
    # playbook_fetch_min_boost are fetched by id when the vector search missed them.
    playbook_neighbors: int = Field(20, gt=0)
    playbook_similarity_floor: float = Field(0.6, ge=-1, le=1)
    playbook_half_life_days: float = Field(30.0, gt=0)
    playbook_weight: float = Field(0.5, ge=0)
    playbook_rejection_weight: float = Field(1.0, ge=0)
    playbook_exclude_weight: float = Field(1.5, gt=0)
    playbook_fetch_min_boost: float = Field(0.05, ge=0)


class AskSettings(BaseModel):
    """Grounded answers (AskService, servers/ask/)."""

    # Corpora retrieved from when a request names none (empty: every corpus).
    corpora: list[str] = Field(default_factory=list)
    # Chunks numbered for the answer, and matrix results per corpus before fusion.
    k: int = Field(8, ge=1, le=100)
    k_per_corpus: int = Field(12, ge=1, le=1000)
    # Chat provider that writes answers when the request names none; "" answers
    # extractively (no model needed). A request's provider or model overrides it.
    provider: str = ""
    model: str = ""
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    # Characters of each chunk shown as a citation's snippet.
    snippet_chars: int = Field(320, ge=20)
    # Extractive answers: candidates listed, sentences quoted per candidate, and the
    # least share of the question a sentence must add (words not yet covered) to be quoted.
    candidates: int = Field(5, ge=1)
    sentences_per_candidate: int = Field(3, ge=1)
    min_sentence_overlap: float = Field(0.15, ge=0, le=1)
    # The instructions the model is given (the numbered chunks follow them).
    system_prompt: str = (
        "You answer questions about job candidates using only the numbered sources below. "
        "Cite every claim with the number of its source in square brackets, like [2]. "
        "If the sources do not answer the question, say that no matching candidates were found "
        "and name no one."
    )
    # Said when nothing relevant was retrieved (no candidate is named).
    nothing_found: str = "No matching candidates were found for this question."
    # A truth rule set (servers/truth/) checked on every candidate when the request names
    # none: the rules a candidate breaks flag its citations and candidate entry ("": none).
    truth_rules: str = ""


class WorkflowSettings(BaseModel):
    """Workflows (servers/workflows/): the limits of a definition and of a run, and how many
    runs are remembered."""

    # Nodes one workflow may have; a larger one is refused before anything runs.
    max_nodes: int = Field(256, ge=1)
    # Largest YAML text accepted (bytes).
    max_yaml_bytes: int = Field(1 * MiB, ge=1)
    # A node attempt that makes no progress for this long fails NODE_TIMEOUT (a node's
    # idle_timeout overrides it). Progress: a prompt's streamed token; a mode's return.
    default_idle_timeout_ms: int = Field(300_000, ge=1)
    # Nodes of one run executing at once (a layer wider than this runs in turns).
    max_concurrent_nodes: int = Field(8, ge=1)
    # Runs executing at once in this process; one more is RESOURCE_EXHAUSTED.
    max_running_runs: int = Field(16, ge=1)
    # Finished runs kept in memory for GetWorkflowRun (oldest dropped first) ...
    runs_kept: int = Field(200, ge=1)
    # ... and as JSON files under <home>/workflow_runs/ (so GET works after a restart);
    # 0 writes none.
    runs_persisted: int = Field(1000, ge=0)
    # Retries a node may ask for (retry.max_attempts, after the first attempt) and the
    # longest first delay (Archon's bounds are 1-5 and 1000-60000 ms; shorter delays are
    # allowed here).
    max_retry_attempts: int = Field(5, ge=0)
    max_retry_delay_ms: int = Field(60_000, ge=0)
    # Characters of a node's input and output summaries (ops and events).
    summary_chars: int = Field(240, ge=16)
    # Prompt nodes and llm.chat: the reply's token cap and temperature when the node names none.
    prompt_max_tokens: int = Field(1024, ge=1)
    prompt_temperature: float = Field(0.0, ge=0, le=2)
    # sql.query: rows returned when the node names no max_rows.
    sql_max_rows: int = Field(1000, ge=1)


class TruthSettings(BaseModel):
    """Truth rules (servers/truth/): the limits of a rule file, of a check, and the report dataset."""

    # Largest rule file accepted (bytes), rules per file, characters per condition, and
    # how deeply a condition may nest (not / parentheses).
    max_rules_bytes: int = Field(1 * MiB, ge=1)
    max_rules: int = Field(1000, ge=1)
    max_condition_chars: int = Field(4000, ge=1)
    max_depth: int = Field(64, ge=1, le=200)
    # Violations a dataset check returns when the request names no limit, and at most.
    violations_default: int = Field(100, ge=1)
    violations_max: int = Field(10_000, ge=1)
    # A dataset check appends one row per rule (counts) here; "" writes no report.
    report_dataset: str = "truth_reports"
    # The shipped example rule sets (servers/truth/examples/) are offered besides
    # <home>/rules/*.toml.
    examples: bool = True


class PathwaySettings(BaseModel):
    """Pathway memory (servers/pathway/): where its state file lives and its limits."""

    # The JSON state file of every pathway, in the lake bucket (docs/pathway.md).
    state_key: str = "_pathways/state.json"
    # Pathways kept; recording one more is RESOURCE_EXHAUSTED.
    max_pathways: int = Field(100_000, ge=1)
    # Steps one pathway may have.
    max_steps: int = Field(256, ge=1)
    # Largest text hashed (a task, BucketVector's text), UTF-8 bytes: keeps the integer
    # bucket sums exact (docs/pathway.md).
    max_text_bytes: int = Field(8 * MiB, ge=1, le=1 << 40)
    # NearestPathways: matches returned when the request names no k, and at most; only
    # pathways scoring above nearest_min_score (cosine) unless the request says otherwise.
    nearest_k: int = Field(5, ge=1)
    max_nearest_k: int = Field(100, ge=1)
    nearest_min_score: float = Field(0.0, ge=-1, le=1)


class RetentionSettings(BaseModel):
    """Which dataset versions VacuumDatasets keeps (a request's fields override these)."""

    # Versions kept besides the current one, newest first.
    retain_versions: int = 0
    # Also keep every version that stopped being current less than this long ago: a
    # query started on it may still be reading its files (Delta Lake's default is a week).
    retain_duration_s: float = 7 * 24 * 3600.0


class JanitorSettings(BaseModel):
    """Start-up collection of what a crashed process left behind (servers/janitor.py)."""

    enabled: bool = True
    # Only what was last modified this long before the process started is collected.
    # 0 suits the embedded single process (nothing else writes while it starts). When
    # other processes write the same lake or home, set it above the longest ingest or
    # corpus build: an older uncommitted file of a still-running one would be collected
    # (its commit then fails verification rather than pointing at missing data).
    grace_s: float = 0.0
    # Start-up waits at most this long (well inside the supervisor's readiness wait);
    # whatever is left is collected at the next start.
    max_seconds: float = 20.0
    # Keys and names listed in the journal record (the counts are always complete).
    journal_max_keys: int = 200


class ServerSettings(BaseModel):
    """gRPC server process settings."""

    host: str = "127.0.0.1"
    # Port of the gRPC upstream that Envoy fronts; 0 picks a free one.
    grpc_port: int = 0
    max_workers: int = 32
    max_message_bytes: int = 64 * MiB
    grace_s: float = 5.0
    # OpenTelemetry server spans for every RPC (exported wherever the process's
    # tracer provider sends them; a no-op without one).
    tracing: bool = True
    # GetHealth asks every host:port upstream (in parallel) for its own services and waits
    # at most this long; one that has not answered by then is listed UNREACHABLE.
    upstream_health_timeout_s: float = Field(1.0, gt=0)


def check_otlp_endpoint(endpoint: str) -> str:
    """Empty (no export) or ``host:port``."""
    if endpoint and not _ADDRESS_RE.fullmatch(endpoint):
        raise ValueError(f"tracing.otlp_endpoint must be host:port or empty, got {endpoint!r}")
    return endpoint


class TracingSettings(BaseModel):
    """Where this process's spans go (servers/tracing.py); server.tracing switches the
    server spans themselves."""

    # OTLP/gRPC collector (plaintext), "host:port". Empty: spans are not exported.
    # Env LAKEHOUSE_TRACING__OTLP_ENDPOINT=127.0.0.1:4317.
    otlp_endpoint: Annotated[str, AfterValidator(check_otlp_endpoint)] = ""
    # The resource's service.name; each process also reports the components it hosts
    # (resource attribute lakehouse.components).
    service_name: str = "lakehouse"
    # Finished spans are sent in a batch this often (sooner when a batch fills) ...
    export_delay_ms: int = Field(1000, ge=1)
    # ... each export giving up after this long (the collector is down or slow) ...
    export_timeout_s: float = Field(10.0, gt=0)
    # ... and a stopping server waits at most this long for the last batch.
    flush_timeout_s: float = Field(5.0, gt=0)


class AdmissionSettings(BaseModel):
    """Caps on concurrent long calls and time limits for uploads (servers/admission.py).

    A long call past its kind's cap gets RESOURCE_EXHAUSTED at once instead of waiting
    for a worker behind the others. Light calls (health, list, get ...) are never capped:
    server.max_workers must be at least uploads + queries + builds + light_reserve
    (checked at start), so a light call always finds a free worker.
    """

    # Ingest, IngestWithProgress, PutObject.
    uploads: int = Field(8, ge=1)
    # ExecuteQuery, Sql.
    queries: int = Field(8, ge=1)
    # BuildCorpus, RebuildCorpus, CompactDataset, VacuumDatasets, VerifyDatasets.
    builds: int = Field(2, ge=1)
    # Workers kept for everything else.
    light_reserve: int = Field(8, ge=1)
    # A client-streamed upload that sends nothing for this long is cancelled
    # (DEADLINE_EXCEEDED, UPLOAD_STALLED) ...
    upload_stall_s: float = Field(60.0, gt=0)
    # ... and none may keep streaming for longer than this (DEADLINE_EXCEEDED, UPLOAD_TOO_SLOW).
    upload_max_s: float = Field(6 * 3600.0, gt=0)


# Methods never recorded: health checks and reflection (polled constantly), and the
# observer's own reads (recording them would feed what they read). An entry ending in
# "/" names a whole service.
DEFAULT_UNRECORDED = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/lakehouse.v1.SystemService/GetHealth",
    "/lakehouse.v1.ObserverService/ListOps",
    "/lakehouse.v1.ObserverService/TailOps",
    "/lakehouse.v1.ObserverService/GetStats",
]
# Request and response fields whose names match are never recorded as attributes.
DEFAULT_SECRET_FIELDS = r"pass(word|phrase)?|secret|token|api_?key|credential|authori[sz]ation|private|cookie|dsn"


class ObserverSettings(BaseModel):
    """Recorded operations (servers/observer/): the ring each process keeps, the journal it
    flushes to the lake (``_journal/<date>/<seq>.parquet``, the SQL dataset ``_ops``), and
    the reads of ObserverService."""

    # Record every RPC (the server interceptor). Off: only ops handed to the recorder
    # directly (workflow nodes) are recorded.
    enabled: bool = True
    # Recent ops kept in memory per process (ListOps, TailOps and GetStats read them).
    ring_size: int = Field(20_000, ge=16)
    # The journal is written at least this often while ops arrive: a crash loses at most
    # the ops of the last interval (plus the write in flight); a clean stop loses none.
    flush_interval_s: float = Field(2.0, gt=0)
    # ... and as soon as this many ops wait (one Parquet file per flush and date).
    flush_max_ops: int = Field(2_000, ge=1)
    # Write the journal at all (off: the ring only, nothing survives a restart).
    journal: bool = True
    # Dates of the journal kept (today included); older ``_journal/<date>/`` files are
    # deleted by the flush thread at start and then every prune interval. 0 keeps all.
    journal_retention_days: int = Field(30, ge=0)
    journal_prune_interval_s: float = Field(3600.0, gt=0)
    # ListOps: ops returned when the request names no limit, and the most it may ask for.
    list_default: int = Field(100, ge=1)
    list_max: int = Field(5_000, ge=1)
    # ListOps also reads older ops (and those of other processes) from the journal
    # through the query engine.
    read_journal: bool = True
    # ... giving up on the journal (the answer is then marked partial) after this long.
    journal_read_timeout_s: float = Field(10.0, gt=0)
    # GetStats: the window when the request names none, and the longest it may ask for.
    stats_window_s: int = Field(300, ge=1)
    stats_max_window_s: int = Field(7 * 24 * 3600, ge=1)
    # TailOps: a quiet tail checks this often whether its caller is still there ...
    tail_heartbeat_s: float = Field(1.0, gt=0)
    # ... and at most this many tails run at once per process (each holds a worker thread).
    max_tails: int = Field(4, ge=1)
    # Attributes of an op: at most this many key fields, each value cut to this length.
    attribute_max_count: int = Field(16, ge=0)
    attribute_max_chars: int = Field(96, ge=8)
    # Fields never recorded (a regular expression matched against each field's name).
    secret_fields: str = DEFAULT_SECRET_FIELDS
    # Full method names not recorded (see DEFAULT_UNRECORDED).
    unrecorded: list[str] = Field(default_factory=lambda: list(DEFAULT_UNRECORDED))

    @model_validator(mode="after")
    def _consistent(self) -> ObserverSettings:
        if self.flush_max_ops > self.ring_size:
            raise ValueError("observer.flush_max_ops must not exceed observer.ring_size")
        if self.list_default > self.list_max:
            raise ValueError("observer.list_default must not exceed observer.list_max")
        if self.stats_window_s > self.stats_max_window_s:
            raise ValueError("observer.stats_window_s must not exceed observer.stats_max_window_s")
        re.compile(self.secret_fields)
        return self


class DriftSettings(BaseModel):
    """Drift (servers/drift/): playbook, embedding and audit baseline drift, and the lake
    datasets their reports are appended to."""

    # Playbook drift: an entry holds while its item is in the top playbook_k of today's
    # search; items are looked for within playbook_depth results (rank 0 beyond it).
    playbook_k: int = Field(10, ge=1)
    playbook_depth: int = Field(100, ge=1)
    # Entries one run checks, newest first (a request may ask for fewer), in batches of
    # playbook_batch queries (one matrix search_batch each, then a progress message).
    playbook_max_entries: int = Field(10_000, ge=1)
    playbook_batch: int = Field(64, ge=1)
    playbook_worst: int = Field(20, ge=0)
    # Embedding drift: KS tests per dimension and/or on random unit projections, the
    # p-values Benjamini-Hochberg adjusted over every test of a report.
    embedding_method: Literal["dimensions", "projections", "both"] = "both"
    embedding_projections: int = Field(32, ge=1)
    embedding_max_projections: int = Field(1024, ge=1, description="Most projections a request may ask for.")
    embedding_alpha: float = Field(0.01, gt=0, lt=1)
    # Vectors drawn (without replacement) from a sample that has more.
    embedding_max_sample: int = Field(100_000, ge=2)
    embedding_max_inline: int = Field(20_000, ge=2, description="Inline vectors per sample.")
    # Columns tested per scipy call: bounds the working memory to ~2 x rows x columns x 8 bytes.
    embedding_chunk_columns: int = Field(32, ge=1)
    # Threads testing blocks of columns at once (numpy's sorts release the GIL).
    embedding_workers: int = Field(2, ge=1)
    embedding_seed: int = Field(20_240_601, ge=0)
    embedding_top_tests: int = Field(10, ge=0)
    embedding_time_field: str = "time"
    # Audit baseline: the JSONL of snapshots (audit_baselines.jsonl shape) in the lake bucket;
    # the baseline of a metric is its median over the subject's last audit_window snapshots.
    audit_key: str = "_drift/audit_baselines.jsonl"
    audit_window: int = Field(5, ge=1)
    audit_relative_tolerance: float = Field(0.10, ge=0)
    audit_absolute_tolerance: float = Field(0.0, ge=0)
    audit_list_max: int = Field(1000, ge=1)
    # Report datasets (SQL charts drift over time from these).
    playbook_dataset: str = "drift_playbook"
    embedding_dataset: str = "drift_embedding"
    audit_dataset: str = "drift_audit"

    @model_validator(mode="after")
    def _consistent(self) -> DriftSettings:
        if self.playbook_k > self.playbook_depth:
            raise ValueError("drift.playbook_k must not exceed drift.playbook_depth")
        if self.embedding_projections > self.embedding_max_projections:
            raise ValueError("drift.embedding_projections must not exceed drift.embedding_max_projections")
        return self


class ScorerRules(BaseModel):
    """One version of the distillation scorer's rules (servers/distillation/scorer.py).

    score = sum(weight x signal) / sum(weights), each signal in [0, 1]: outcome (success 1,
    unknown ``unknown_outcome``, failure/rejected 0), checks (share passed; none:
    ``no_checks``), citations (min(1, n / min_citations)), context (any retrieved), answer
    (min(1, chars / min_answer_chars)). Then, first match wins: reject (a reject outcome, no
    answer, or score < review_min); gold (score >= gold_min, every check passed, at least
    gold_min_citations); silver (score >= silver_min); needs_review."""

    weight_outcome: float = Field(0.4, ge=0)
    weight_checks: float = Field(0.2, ge=0)
    weight_citations: float = Field(0.2, ge=0)
    weight_context: float = Field(0.1, ge=0)
    weight_answer: float = Field(0.1, ge=0)
    unknown_outcome: float = Field(0.75, ge=0, le=1)
    no_checks: float = Field(0.5, ge=0, le=1)
    min_citations: int = Field(1, ge=0)
    min_answer_chars: int = Field(20, ge=1)
    gold_min: float = Field(0.85, ge=0, le=1)
    gold_min_citations: int = Field(1, ge=0)
    silver_min: float = Field(0.6, ge=0, le=1)
    review_min: float = Field(0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ScorerRules:
        if not self.review_min <= self.silver_min <= self.gold_min:
            raise ValueError("scorer rules need review_min <= silver_min <= gold_min")
        weights = (self.weight_outcome, self.weight_checks, self.weight_citations, self.weight_context)
        if sum(weights) + self.weight_answer <= 0:
            raise ValueError("scorer rules need a positive weight")
        return self


def _scorer_rule_sets() -> dict[str, ScorerRules]:
    # v2 is stricter: an answer of unknown outcome counts less, gold needs two citations.
    return {
        "v1": ScorerRules(),
        "v2": ScorerRules(unknown_outcome=0.5, min_citations=2, gold_min=0.9, gold_min_citations=2, silver_min=0.65),
    }


class DistillationSettings(BaseModel):
    """Distillation (servers/distillation/): the scorer's rule sets, the evidence it reads,
    the SFT export and its contamination firewall, and scorer drift."""

    # The rule set that scores (stamped on every score); bump it to a new key of rule_sets
    # to change the rules (ScorerDrift then shows what moved).
    scorer_version: str = "v1"
    rule_sets: dict[str, ScorerRules] = Field(default_factory=_scorer_rule_sets)
    # Records one ScoreRecords call (and the distillation.score mode) may carry.
    max_batch: int = Field(10_000, ge=1)
    # Characters of a record's query and answer, and of each context passage, kept.
    max_text_chars: int = Field(20_000, ge=1)
    # Datasets: scored records (the watermark is their newest evidence time per source),
    # Ask answers recorded for distillation, exports' provenance, scorer drift reports.
    scored_dataset: str = "distillation_scored"
    ask_runs_dataset: str = "distillation_ask_runs"
    exports_dataset: str = "distillation_exports"
    drift_dataset: str = "drift_scorer"
    # Record every Ask answer (question, retrieved chunks, answer, citations, grounding) as
    # evidence; buffered and written every ask_flush_rows answers, before each run, at stop.
    record_ask_runs: bool = True
    ask_flush_rows: int = Field(50, ge=1)
    # RunDistillation: records per source per run (the rest wait for the next run); evidence
    # up to overlap_s older than the watermark is re-read (ids already scored are skipped), so
    # a record journaled late is not missed; a workflow run is taken once its newest op is
    # settle_s old (its other nodes' ops are journaled by then).
    run_max_records: int = Field(10_000, ge=1)
    overlap_s: float = Field(60.0, ge=0)
    settle_s: float = Field(5.0, ge=0)
    # ExportSft: the default lowest category; where the JSONL is written in the lake bucket;
    # the system message of each conversation ("": none); retrieved context in the user turn.
    export_min_category: str = "silver"
    export_prefix: str = "distillation/exports/"
    export_system_prompt: str = ""
    export_include_context: bool = True
    export_max_records: int = Field(100_000, ge=1)
    # Contamination firewall: word n-gram shingles (sha256-hashed); a record's query or answer
    # is excluded when it holds >= firewall_containment of an eval item's shingles, or their
    # shingle sets' Jaccard similarity is >= firewall_jaccard. Eval items read from a dataset: cap.
    firewall_ngram: int = Field(3, ge=1)
    firewall_containment: float = Field(0.5, gt=0, le=1)
    firewall_jaccard: float = Field(0.5, gt=0, le=1)
    firewall_max_eval_items: int = Field(100_000, ge=1)
    # ScorerDrift over the scored dataset: records read (the report says when it stopped),
    # and drifted records listed with include_entries.
    drift_max_records: int = Field(100_000, ge=1)
    drift_max_entries: int = Field(1000, ge=0)

    @model_validator(mode="after")
    def _known(self) -> DistillationSettings:
        if self.scorer_version not in self.rule_sets:
            raise ValueError(f"distillation.scorer_version {self.scorer_version!r} is not a key of rule_sets")
        return self


class ValidatorSettings(BaseModel):
    """Data-quality checks (servers/validation/): where suites live, the named regex formats,
    sample sizes, the report dataset and the engine's limits."""

    # Stored suites, <name>.yaml|.yml|.json. None: <home>/checks.
    suites_dir: Path | None = None
    # The lake dataset every validation report is appended to (one row per check).
    report_dataset: str = "validation_reports"
    # Failing rows sampled per failed check (a request may ask for up to max_sample_rows).
    sample_rows: int = Field(5, ge=0)
    max_sample_rows: int = Field(100, ge=0)
    # Largest suite accepted (bytes of YAML/JSON) and most checks in one suite.
    max_suite_bytes: int = Field(1 * MiB, ge=1)
    max_checks: int = Field(200, ge=1)
    # Named patterns a regex check may use (``format: email``); RE2 syntax, matched against
    # the whole value.
    formats: dict[str, str] = Field(
        default_factory=lambda: {
            "email": r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            "phone": r"(\+?1[ .-]?)?(\([2-9][0-9]{2}\)|[2-9][0-9]{2})[ .-]?[0-9]{3}[ .-]?[0-9]{4}",
            "state_code": "A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI"
            "|S[CD]|T[NX]|UT|V[AT]|W[AIVY]",
            "zip_code": "[0-9]{5}(-[0-9]{4})?",
        }
    )
    # The private DuckDB of a validation: threads (0: DuckDB's default), memory cap (a share
    # of the machine or a size; it spills past it) and how long a validation may run.
    threads: int = Field(0, ge=0)
    memory_limit: MemorySize = "25%"
    timeout_s: float = Field(600.0, gt=0)
    # Threads appending reports to the lake, each while its validation reads samples.
    report_writers: int = Field(2, ge=1)


class UiSettings(BaseModel):
    """The web UI (component ``ui``, servers/ui/): an HTTP app in the server process that
    calls the services through the Python client, behind Envoy at ``/``."""

    # Where the UI's HTTP server listens (Envoy routes ``/`` to it); port 0 picks a free one.
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    # The gRPC address the UI's client calls; "": the gateway (host:port of Settings).
    upstream: str = ""
    # Deadline of each call the UI makes, seconds (Ask and SQL included).
    timeout_s: float = Field(60.0, gt=0)
    # Rows the SQL tab renders; the CSV download holds at most csv_max_rows.
    sql_max_rows: int = Field(200, ge=1)
    csv_max_rows: int = Field(100_000, ge=1)
    # Datasets per page in Explore, and rows in a dataset's preview.
    page_size: int = Field(20, ge=1)
    preview_rows: int = Field(20, ge=1)
    # System tab: errors and recent ops shown, and how often the page polls, seconds.
    tail_rows: int = Field(20, ge=1)
    poll_s: float = Field(5.0, gt=0)
    # Staffer console: the job orders dataset (one order a row: its id and its query text
    # columns), the corpus its candidates are searched in, orders per page and candidates
    # per order. A candidate's fill probability takes its match score as a prior worth
    # fill_prior_weight outcomes, updated by its playbook placements and rejections.
    job_orders_dataset: str = "job_orders"
    job_order_id_column: str = "job_order_id"
    job_order_query_column: str = "query"
    console_corpus: str = "resumes"
    console_orders: int = Field(12, ge=1)
    console_candidates: int = Field(5, ge=1, le=100)
    fill_prior_weight: float = Field(2.0, gt=0)
    # With auth on, the login page keeps the caller's key in an HttpOnly cookie, encrypted
    # and authenticated (Fernet) with the secret in cookie_key_file (None:
    # <home>/auth/ui-cookie.key, made 0600 on first start), valid for session_max_age_s.
    cookie_name: str = "lakehouse_session"
    cookie_key_file: Path | None = None
    session_max_age_s: int = Field(8 * 3600, ge=60)
    # Signed-in keys whose backend client (one gRPC channel each) is kept; past it the
    # least recently used one is closed.
    max_sessions: int = Field(64, ge=1)


class McpSettings(BaseModel):
    """The MCP server (servers/mcp/, ``lakehouse mcp``): what one tool call may return to
    an agent (a model's context is small), and where streamable HTTP listens."""

    # The gRPC address its client calls; "": the gateway (host:port of Settings).
    upstream: str = ""
    # With auth on: the API key every call carries, so the agent sees what that key's
    # profile holds (env LAKEHOUSE_MCP__API_KEY; empty: the client's LAKEHOUSE_API_KEY).
    api_key: SecretStr = SecretStr("")
    # Deadline of each call a tool makes, seconds (Ask, ingests and workflows included).
    timeout_s: float = Field(300.0, gt=0)
    # Rows the sql tool returns at most (a call may ask for fewer).
    max_rows: int = Field(200, ge=1)
    # Datasets list_datasets returns at most; hits search / matrix_search return at most.
    max_datasets: int = Field(500, ge=1)
    max_hits: int = Field(50, ge=1)
    # Characters of any one text returned (a hit's text, a citation's snippet).
    max_text_chars: int = Field(2000, ge=1)
    # Largest ingest_text body, bytes (bigger data goes through `lakehouse ingest`).
    max_ingest_bytes: int = Field(16 * MiB, ge=1)
    # `lakehouse mcp --http`: host, port and path of the streamable HTTP endpoint.
    http_host: str = "127.0.0.1"
    http_port: int = Field(8766, ge=0, le=65535)
    http_path: str = Field("/mcp", pattern=r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$")
    # Component `mcp` (hosted by `--services all`): the port its HTTP server listens on
    # (on http_host; 0 picks a free one); Envoy routes http_path to it.
    hosted_port: int = Field(0, ge=0, le=65535)
    # Over HTTP with auth on: callers' keys whose client (one gRPC channel each) is kept;
    # past it the least recently used one is closed.
    max_sessions: int = Field(64, ge=1)


class Settings(BaseSettings):
    """Root settings: one instance per process."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", env_nested_delimiter="__", extra="ignore")

    home: Path = Path(".lakehouse")
    # Envoy listener (REST and gRPC) host and port.
    host: str = "127.0.0.1"
    port: int = 8080
    # Deepest nesting of objects and arrays the gateway accepts in a REST JSON body
    # (deeper: 400 NESTING_TOO_DEEP). A JSON level can cost three protobuf levels and
    # the protobuf decoder stops at 100, so above ~32 that limit answers instead (also 400).
    # (Envoy's admin interface is a 0600 unix socket under <home>/run, not a port.)
    max_json_depth: int = Field(32, ge=1)
    # Envoy worker threads (--concurrency); 0: one per CPU, at most 4. On a small box the
    # gateway shares its cores with the servers, so fewer workers can mean less contention.
    gateway_workers: int = Field(0, ge=0)
    # TLS at the gateway: Envoy terminates it with this certificate chain and private key
    # (PEM files; both or neither). REST is then https and gRPC clients need
    # channel.tls / channel.tls_root_cert; the servers behind it stay on loopback.
    gateway_tls_cert: Path | None = None
    gateway_tls_key: Path | None = None
    services: str = "all"
    # Where each component this process uses but does not host is served: "host:port",
    # or "local" (an in-process core over the shared home, not served). Unset: a call
    # that needs it fails UNAVAILABLE (UPSTREAM_NOT_CONFIGURED). Env
    # LAKEHOUSE_UPSTREAMS__CATALOG=host:port; `lakehouse serve --upstream catalog=host:port`.
    upstreams: Annotated[dict[str, str], AfterValidator(check_upstreams)] = Field(default_factory=dict)
    # Every gRPC client channel of this process (remotes to upstreams), and what its
    # server accepts from such channels (keepalive pings).
    channel: ChannelSettings = Field(default_factory=ChannelSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    admission: AdmissionSettings = Field(default_factory=AdmissionSettings)
    paging: PagingSettings = Field(default_factory=PagingSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    vocabulary: VocabularySettings = Field(default_factory=VocabularySettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    vector: VectorSettings = Field(default_factory=VectorSettings)
    matrix: MatrixSettings = Field(default_factory=MatrixSettings)
    ask: AskSettings = Field(default_factory=AskSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    janitor: JanitorSettings = Field(default_factory=JanitorSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    observer: ObserverSettings = Field(default_factory=ObserverSettings)
    workflows: WorkflowSettings = Field(default_factory=WorkflowSettings)
    validator: ValidatorSettings = Field(default_factory=ValidatorSettings)
    truth: TruthSettings = Field(default_factory=TruthSettings)
    distillation: DistillationSettings = Field(default_factory=DistillationSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    pathway: PathwaySettings = Field(default_factory=PathwaySettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.gateway_tls_cert is None) != (self.gateway_tls_key is None):
            raise ValueError("gateway_tls_cert and gateway_tls_key go together: set both, or neither")
        return self

    @property
    def gateway_channel(self) -> ChannelSettings:
        """How this host's own clients of the gateway (the UI, MCP) connect: over TLS, trusting
        the gateway's certificate, when the gateway terminates TLS."""
        if self.gateway_tls_cert is None:
            return self.channel
        return self.channel.model_copy(update={"tls_root_cert": str(self.gateway_tls_cert)})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LAKEHOUSE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # Derived locations -------------------------------------------------

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def lake_root(self) -> Path:
        return (self.storage.root or self.home_dir / "lake").expanduser().resolve()

    @property
    def local_bucket_roots(self) -> tuple[Path, ...]:
        """Resolved roots that local buckets registered at run time must lie under."""
        roots = self.storage.local_bucket_roots
        if roots is None:
            roots = [self.home_dir / "buckets"]
        return tuple(Path(r).expanduser().resolve() for r in roots)

    @property
    def s3_bucket_endpoints(self) -> tuple[str, ...]:
        """Endpoints registered S3 buckets may use (compared after normalisation)."""
        endpoints = self.storage.s3_bucket_endpoints
        if endpoints is None:
            endpoints = [self.storage.s3_endpoint] if self.storage.backend == "s3" else []
        return tuple(endpoints)

    @property
    def spool_dir(self) -> Path:
        return (self.ingest.spool_dir or self.home_dir / "spool").expanduser().resolve()

    @property
    def query_temp_dir(self) -> Path:
        """Where query engines spill (each engine in a directory of its own below it)."""
        return (self.query.temp_dir or self.home_dir / "tmp" / "query").expanduser().resolve()

    @property
    def auth_bootstrap_key_file(self) -> Path:
        return (self.auth.bootstrap_key_file or self.home_dir / "auth" / "admin.key").expanduser().resolve()

    @property
    def auth_internal_key_file(self) -> Path:
        return (self.auth.internal_key_file or self.home_dir / "auth" / "internal.key").expanduser().resolve()

    @property
    def ui_cookie_key_file(self) -> Path:
        return (self.ui.cookie_key_file or self.home_dir / "auth" / "ui-cookie.key").expanduser().resolve()

    @property
    def catalog_db(self) -> Path:
        return self.home_dir / "catalog.sqlite"

    @property
    def rescue_root(self) -> Path:
        """Local directory that receives error records when the lake bucket cannot."""
        return self.home_dir / "rescue"

    @property
    def run_dir(self) -> Path:
        return self.home_dir / "run"
