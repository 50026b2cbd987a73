"""Build one gRPC server process hosting any subset of the Lakehouse services.

Every process also serves gRPC reflection, the standard health service and
SystemService. Cores are created lazily and shared by the servicers of one
process; a component that is not co-resident (today: the catalog) is reached
through its gRPC client, which satisfies the same interface.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from lakehouse.api.catalog import CatalogApi
from lakehouse.api.channel import Channel, open_channel, server_keepalive_options
from lakehouse.api.errors import UPSTREAM_NOT_CONFIGURED, Unavailable
from lakehouse.api.ingest import IngestApi, RemoteIngest
from lakehouse.api.models import ModelsApi, RemoteModels
from lakehouse.api.query import QueryApi, RemoteQuery
from lakehouse.api.storage import RemoteStorage, StorageApi
from lakehouse.api.tracing import tracing_configured
from lakehouse.api.vector import HitStems, RemoteVector, VectorApi
from lakehouse.servers.admission import AdmissionInterceptor, check_pool
from lakehouse.servers.auth.context import as_service
from lakehouse.servers.interceptors import ErrorInterceptor
from lakehouse.servers.memory import configure_duckdb_allocator
from lakehouse.servers.services import SERVICES, parse_components
from lakehouse.servers.settings import LOCAL_UPSTREAM, Settings
from lakehouse.servers.tracing import configure_tracing, shutdown_tracing

log = logging.getLogger("lakehouse.server")


class MissingUpstream:
    """Stands in for the API of a component this process neither hosts nor has an upstream
    for: the server starts, and every call that needs the component fails UNAVAILABLE
    (UPSTREAM_NOT_CONFIGURED) naming it and the setting that would fix it."""

    def __init__(self, component: str) -> None:
        self.component = component

    def close(self) -> None:
        return None

    def __getattr__(self, name: str):
        raise Unavailable(
            f"this process does not host {self.component} and has no upstream for it: set "
            f"LAKEHOUSE_UPSTREAMS__{self.component.upper()}=host:port (lakehouse serve --upstream "
            f"{self.component}=host:port), or {LOCAL_UPSTREAM} for an in-process core",
            reason=UPSTREAM_NOT_CONFIGURED,
            metadata={"component": self.component},
        )


class Runtime:
    """The cores of one process, built on first use."""

    def __init__(self, settings: Settings, components: list[str]) -> None:
        self.settings = settings
        self.components = components
        settings.home_dir.mkdir(parents=True, exist_ok=True)
        # Set by build_server: the query core reports engine rebuilds through it (serving or not).
        self.query_health: Callable[[bool], None] | None = None
        self._channels: list[Channel] = []  # of the remotes built here, closed with the runtime

    @cached_property
    def storage(self):  # -> StorageCore
        from lakehouse.servers.storage.core import StorageCore

        return StorageCore(self.settings)

    def upstream(self, component: str) -> str | None:
        """Where ``component`` is reached: None for an in-process core (hosted here, or
        upstream ``local``), "" when nowhere (see MissingUpstream), else its address."""
        if component in self.components:
            return None
        address = self.settings.upstreams.get(component, "")
        return None if address == LOCAL_UPSTREAM else address

    def _api(self, component: str, local: Callable[[], Any], remote: Callable[[str], Any]) -> Any:
        """The API of ``component`` as this process reaches it: its core (hosted here, or
        upstream ``local``), a remote over the channel factory, or MissingUpstream."""
        address = self.upstream(component)
        if address == "":
            return MissingUpstream(component)
        return local() if address is None else remote(address)

    @cached_property
    def catalog(self) -> CatalogApi:
        from lakehouse.api.catalog import RemoteCatalog
        from lakehouse.servers.catalog.core import CatalogCore

        return self._api(
            "catalog",
            lambda: CatalogCore(
                self.settings.catalog_db, self.storage.lake(), self.settings.catalog, self.settings.paging
            ),
            lambda address: RemoteCatalog(self._channel(address, "catalog")),
        )

    @cached_property
    def auth(self):  # -> AuthCore (AuthService; only where the catalog is hosted: its tables are there)
        from lakehouse.servers.auth.core import AuthCore

        return AuthCore(self.settings.catalog_db, self.settings.auth)

    @cached_property
    def authenticator(self):  # -> Authenticator (the auth interceptor's key checks, cached)
        from lakehouse.api.auth import RemoteAuth
        from lakehouse.servers.auth.interceptor import Authenticator

        resolve = self._api("catalog", lambda: self.auth, lambda a: RemoteAuth(self._channel(a, "catalog")))
        authenticator = Authenticator(lambda secret: resolve.authenticate(secret), self.settings.auth.cache_ttl_s)
        if self.upstream("catalog") is None:
            self.auth.on_change.append(authenticator.clear)  # a revoke here is seen at once
        return authenticator

    @cached_property
    def internal_key(self) -> str:
        """What this process's calls to other services carry when auth is on: the internal
        service key (written at bootstrap beside the admin's; see auth.internal_key_file)."""
        if not self.settings.auth.enabled:
            return ""
        try:
            return self.settings.auth_internal_key_file.read_text().strip()
        except OSError:
            return ""

    @cached_property
    def retention(self):  # -> Retention (VacuumDatasets; only where the catalog is hosted)
        from lakehouse.servers.catalog.retention import Retention

        return Retention(self.catalog, self.storage.lake(), self.storage.journal, self.settings.retention)

    @cached_property
    def ingest(self):  # -> IngestCore
        from lakehouse.servers.ingest.core import IngestCore
        from lakehouse.servers.ingest.embed import EmbedOnIngest

        lake, journal = self.storage.lake(), self.storage.journal
        batch_rows = self.settings.vector.build_batch_rows
        embedder = EmbedOnIngest(lambda: self.vector_api, self.catalog, lake, journal, batch_rows)
        # The ingest gate (IngestRequest.checks) runs checks in-process on the staged files.
        return IngestCore(
            self.catalog,
            lake,
            journal,
            self.settings,
            embedder,
            gate=self.validation,
            read_object=lambda bucket, key: self.storage_api.get_object(bucket, key).chunks,
        )

    @cached_property
    def sources(self):  # -> SourcesCore (hosted with ingest: a pull writes through the ingest core)
        from lakehouse.servers.sources.core import SourcesCore

        return SourcesCore(self.settings, self.ingest, self.catalog)

    @cached_property
    def query(self):  # -> QueryCore
        from lakehouse.servers.observer.journal import system_datasets
        from lakehouse.servers.query.core import QueryCore

        return QueryCore(
            self.catalog,
            self.storage.lake(),
            self.settings.query,
            temp_dir=self.settings.query_temp_dir,
            system_datasets=system_datasets(),
            on_health=lambda serving: self.query_health(serving) if self.query_health else None,
        )

    @cached_property
    def validation(self):  # -> ValidationCore (served with query; also the ingest gate, in-process)
        from lakehouse.servers.validation.core import ValidationCore

        v = self.settings.validator
        return ValidationCore(
            self.catalog,
            self.storage.lake(),
            v,
            v.suites_dir or self.settings.home_dir / "checks",
            self.settings.home_dir / "tmp" / "validation",
            ingest=lambda: self.ingest_api,
        )

    @cached_property
    def validation_api(self):  # -> ValidationApi (workflow modes): the core, or the query upstream's service
        from lakehouse.api.validation import RemoteValidation

        return self._api("query", lambda: self.validation, lambda a: RemoteValidation(self._channel(a, "query")))

    @cached_property
    def models(self):  # -> ModelsCore
        from lakehouse.servers.models.core import ModelsCore

        return ModelsCore(self.settings.models)

    @cached_property
    def vector(self):  # -> VectorCore
        from lakehouse.servers.vector.core import VectorCore
        from lakehouse.servers.vector.embedder import ModelsEmbedder

        return VectorCore(
            self.storage.lake(),
            self.settings.vector,
            ModelsEmbedder(self.models_api),
            self.settings.home_dir / "vector",
            query=lambda: self.query_api,
        )

    @cached_property
    def hit_stems(self) -> HitStems:
        """The serialized metadata of returned rows, shared by the vector and matrix servicers."""
        return HitStems(self.settings.vector.metadata_cache_rows)

    @cached_property
    def matrix(self):  # -> MatrixCore
        from lakehouse.servers.matrix.core import MatrixCore
        from lakehouse.servers.matrix.directory import VectorHost

        upstreams = self.settings.matrix.vector_upstreams
        if not upstreams:
            hosts = [VectorHost(LOCAL_UPSTREAM, self.vector_api, in_process=self.upstream("vector") is None)]
        else:
            hosts = [
                VectorHost(a, self.vector, in_process=True)
                if a == LOCAL_UPSTREAM
                else VectorHost(a, RemoteVector(self._channel(a, "vector")))
                for a in upstreams
            ]
        return MatrixCore(
            hosts,
            lambda: self.models_api,
            lambda: self.query_api,
            self.settings.matrix,
            self.settings.vector.filters,
            ingest=lambda: self.ingest_api,
            paging=self.settings.paging,
            service=as_service,
        )

    @cached_property
    def ask(self):  # -> AskCore (hosted with matrix: it retrieves through the matrix core)
        from lakehouse.servers.ask.core import AskCore
        from lakehouse.servers.vocabulary import Vocabulary

        core = AskCore(
            lambda: self.matrix,
            lambda: self.models_api,
            self.settings.ask,
            Vocabulary(self.settings.vocabulary),
            truth=lambda: self.truth,
        )
        if not self.settings.distillation.record_ask_runs:
            return core
        from lakehouse.servers.distillation.evidence import RecordingAsk

        return RecordingAsk(core, self.ask_runs)  # every answer is also distillation evidence

    @cached_property
    def ask_runs(self):  # -> AskRunLog (Ask answers recorded for distillation, hosted with matrix)
        from datetime import UTC, datetime

        from lakehouse.servers.distillation.evidence import AskRunLog

        s = self.settings.distillation
        return AskRunLog(lambda: self.ingest_api, s.ask_runs_dataset, s.ask_flush_rows, lambda: datetime.now(UTC))

    @cached_property
    def distillation(self):  # -> DistillationCore (hosted with matrix: it reads the Ask runs recorded here)
        from lakehouse.servers.distillation.core import DistillationCore

        def before_run() -> None:  # this process's evidence, durable before a run reads it
            if "ask_runs" in self.__dict__:
                self.ask_runs.flush()
            self.recorder.flush()

        return DistillationCore(
            self.settings.distillation,
            lambda: self.query_api,
            lambda: self.ingest_api,
            self.storage.lake,
            self.settings.matrix.playbook_dataset,
            before_run=before_run,
        )

    @cached_property
    def truth(self):  # -> TruthCore (hosted with matrix: Ask and workflow modes check candidates in-process)
        from lakehouse.servers.truth.core import TruthCore

        return TruthCore(self.settings, lambda: self.query_api, lambda: self.ingest_api, lambda: self.catalog)

    @cached_property
    def recorder(self):  # -> RingRecorder (every process: the interceptor records each call into it)
        from lakehouse.servers.observer.recorder import RingRecorder

        return RingRecorder(self.storage.lake(), self.storage.journal, self.settings.observer)

    @cached_property
    def observer(self):  # -> ObserverCore (hosted with matrix: ObserverService's reads)
        from lakehouse.servers.observer.core import ObserverCore
        from lakehouse.servers.services import COMPONENTS

        return ObserverCore(
            self.recorder,
            self.settings.observer,
            lambda: self.query_api,
            sole_writer=set(self.components) >= set(COMPONENTS),
        )

    @cached_property
    def workflows(self):  # -> WorkflowsCore (hosted with matrix: modes call the APIs below in-process)
        from lakehouse.servers.vocabulary import Vocabulary
        from lakehouse.servers.workflows.core import WorkflowsCore
        from lakehouse.servers.workflows.modes import Services

        services = Services(
            matrix=lambda: self.matrix,
            models=lambda: self.models_api,
            query=lambda: self.query_api,
            vector=lambda: self.vector_api,
            vocabulary=Vocabulary(self.settings.vocabulary),
            settings=self.settings,
            distillation=lambda: self.distillation,
            drift=lambda: self.drift,
            truth=lambda: self.truth,
            validation=lambda: self.validation_api,
            pathway=lambda: self.pathway,
        )
        return WorkflowsCore(self.settings, services, self.recorder)

    @cached_property
    def pathway(self):  # -> PathwayCore (hosted with matrix: a replay runs through the workflow core)
        from lakehouse.servers.pathway.core import PathwayCore

        return PathwayCore(
            self.settings.pathway, self.storage.lake(), lambda: self.workflows, paging=self.settings.paging
        )

    @cached_property
    def drift(self):  # -> DriftCore (hosted with matrix: playbook drift re-runs queries through the matrix core)
        from lakehouse.servers.drift.core import DriftCore

        return DriftCore(self.storage.lake(), lambda: self.matrix, lambda: self.ingest_api, self.settings.drift)

    @cached_property
    def ingest_api(self) -> IngestApi:
        """What the playbook writes its dataset through: the ingest core, or the ingest upstream."""
        return self._api("ingest", lambda: self.ingest, lambda a: RemoteIngest(self._channel(a, "ingest")))

    @cached_property
    def storage_api(self) -> StorageApi:
        """Bucket objects for other services' cores (an ingest from a bucket object): the
        storage core, or the storage upstream (which knows buckets registered after this
        process started)."""
        return self._api("storage", lambda: self.storage, lambda a: RemoteStorage(self._channel(a, "storage")))

    @cached_property
    def vector_api(self) -> VectorApi:
        """What embed-on-ingest writes to: the co-resident vector core, or the vector upstream."""
        return self._api("vector", lambda: self.vector, lambda a: RemoteVector(self._channel(a, "vector")))

    @cached_property
    def models_api(self) -> ModelsApi:
        """Embeddings and chat: the co-resident models core, or the models upstream."""
        return self._api("models", lambda: self.models, lambda a: RemoteModels(self._channel(a, "models")))

    @cached_property
    def query_api(self) -> QueryApi:
        """SQL for cores of other services (e.g. a corpus build): the query core, or the query upstream."""
        return self._api("query", lambda: self.query, lambda a: RemoteQuery(self._channel(a, "query")))

    def _channel(self, address: str, component: str) -> Channel:
        """Calls carry the internal key; the query channel delegates: SQL run while serving a
        call carries that caller's key, so the query process scopes it as an in-process query
        core would (writes and other reads below the interceptor are the service's own)."""
        key = self.internal_key
        metadata = (("authorization", f"Bearer {key}"),) if key else ()
        channel = open_channel(
            address, self.settings.channel, component=component, metadata=metadata, delegate=component == "query"
        )
        self._channels.append(channel)
        return channel

    def close(self) -> None:
        for name in (
            "ask_runs",
            "workflows",
            "matrix",
            "vector_api",
            "vector",
            "models",
            "validation",
            "query",
            "ingest",
            "catalog",
            "auth",
        ):
            core = self.__dict__.get(name)
            if core is not None and hasattr(core, "close"):
                core.close()
        for channel in self._channels:
            channel.close()
        recorder = self.__dict__.get("recorder")
        if recorder is not None:
            recorder.close()  # last: what the calls above recorded is flushed too


@dataclass
class LakehouseServer:
    server: grpc.Server
    port: int
    runtime: Runtime
    health: health.HealthServicer
    hosted: list[str] = field(default_factory=list)
    # The HTTP components it hosts (servers/http_server.py), by name: `ui`, `mcp`.
    http: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.runtime.settings.server.host}:{self.port}"

    def stop(self, grace: float | None = None) -> None:
        for component in self.http.values():
            component.stop()  # first: their pages and tools call the services stopping below
        for name in self.hosted:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.runtime.recorder.end_tails()  # they follow forever: end them, not the grace period
        self.server.stop(self.runtime.settings.server.grace_s if grace is None else grace).wait()
        self.runtime.close()
        shutdown_tracing()  # the last calls' spans are still queued for export


def server_interceptors(
    settings: Settings, traced: bool, recorder=None, authenticator=None
) -> list[grpc.ServerInterceptor]:
    """Every call's interceptors, outermost first. The tracing interceptor only when a
    tracer provider is set (``traced``: ours from ``tracing.otlp_endpoint``, or an embedding
    application's): without one its spans are no-ops, and it costs every call its wrapping
    and attribute work. The recording interceptor when a ``recorder`` is given and
    ``observer.enabled``."""
    # Admission inside the error interceptor, so its refusals are mapped like any domain error.
    interceptors: list[grpc.ServerInterceptor] = [ErrorInterceptor(), AdmissionInterceptor(settings)]
    if settings.auth.enabled and authenticator is not None:
        from lakehouse.servers.auth.interceptor import AuthInterceptor

        # Inside the error interceptor (refusals mapped), outside admission (no slot for them).
        interceptors.insert(1, AuthInterceptor(authenticator, settings.auth))
    if recorder is not None and settings.observer.enabled:
        from lakehouse.servers.observer.interceptor import RecordingInterceptor

        # Outside the error interceptor, so it records the status the call really ended with.
        interceptors.insert(
            0, RecordingInterceptor(recorder, settings.observer, traced=settings.server.tracing and traced)
        )
    if settings.server.tracing and traced:
        from opentelemetry.instrumentation.grpc import server_interceptor

        # Outermost, so a span covers the whole call and records the mapped status.
        interceptors.insert(0, server_interceptor())
    return interceptors


def build_server(settings: Settings, services: str | None = None) -> LakehouseServer:
    started_at = time.time()
    configure_duckdb_allocator()  # before anything loads DuckDB (see servers/memory.py)
    check_pool(settings)  # the pool holds every long-call cap plus a reserve for light calls
    components = parse_components(settings.services if services is None else services)
    configure_tracing(settings, components)  # before any tracer is used: spans go to the OTLP endpoint
    from lakehouse.servers.auth.exposure import check_exposure

    check_exposure(settings, settings.server.host)  # no open port without auth, unless --insecure
    runtime = Runtime(settings, components)
    bootstrapped = False
    if settings.auth.enabled and runtime.upstream("catalog") is None:
        bootstrapped = runtime.auth.bootstrap(settings.auth_bootstrap_key_file, settings.auth_internal_key_file)
        if bootstrapped:
            log.warning("auth: created the admin key in %s (mode 0600)", settings.auth_bootstrap_key_file)
    from lakehouse.servers.janitor import collect_at_start

    collect_at_start(runtime, started_at)  # what a crash left behind, before serving; never raises
    opts = settings.server
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=opts.max_workers, thread_name_prefix="lakehouse-rpc"),
        interceptors=server_interceptors(
            settings,
            tracing_configured(),
            runtime.recorder,
            runtime.authenticator if settings.auth.enabled else None,
        ),
        options=[
            ("grpc.max_receive_message_length", opts.max_message_bytes),
            ("grpc.max_send_message_length", opts.max_message_bytes),
            ("grpc.so_reuseport", 0),
            *server_keepalive_options(settings.channel),
        ],
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    runtime.query_health = lambda serving: health_servicer.set(
        "lakehouse.v1.QueryService",
        health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    hosted = ["lakehouse.v1.SystemService"]
    for spec in SERVICES:
        if spec.component in components:
            importlib.import_module(spec.servicer_module).register(server, runtime)
            hosted.append(spec.full_name)
    from lakehouse.servers import system

    system.register(server, runtime, health_servicer, hosted)
    reflection.enable_server_reflection([*hosted, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(f"{opts.host}:{opts.grpc_port}")
    if port == 0:
        raise RuntimeError(f"cannot bind gRPC server to {opts.host}:{opts.grpc_port}")
    server.start()
    for name in [*hosted, ""]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving %s on %s:%d", ",".join(components), opts.host, port)
    http = {}  # the HTTP components: they call the services through the Python client
    if "ui" in components:
        from lakehouse.servers.ui.server import start_ui

        http["ui"] = start_ui(settings)
    if "mcp" in components:
        from lakehouse.servers.http_server import start_http

        http["mcp"] = start_http(
            "mcp",
            settings.mcp.http_host,
            settings.mcp.hosted_port,
            lambda: _mcp_app(settings),
            lifespan="on",  # the SDK's session manager runs in the app's lifespan
            on_stop=lambda app: app.close(),
            background=True,  # the SDK takes ~0.8 s to import: not on the start's path
        )
    return LakehouseServer(server, port, runtime, health_servicer, hosted, http)


def _mcp_app(settings: Settings):
    from lakehouse.servers.mcp.http import create_app

    return create_app(settings)


def serve_forever(settings: Settings, services: str | None = None, on_ready=None) -> None:
    """Run until SIGTERM/SIGINT; used by `lakehouse serve`."""
    lh = build_server(settings, services)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if on_ready is not None:
        on_ready(lh)
    stop.wait()
    lh.stop()
