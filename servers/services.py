"""The gRPC services Lakehouse exposes, and which component hosts each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    component: str  # name used by `lakehouse serve --services`
    full_name: str  # fully-qualified gRPC service name
    pb2_module: str  # module whose DESCRIPTOR defines it
    # Package under lakehouse.servers whose servicer.register() serves it ("": the component's).
    package: str = ""

    @property
    def servicer_module(self) -> str:
        return f"lakehouse.servers.{self.package or self.component}.servicer"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("storage", "lakehouse.v1.StorageService", "lakehouse.v1.storage_pb2"),
    ServiceSpec("catalog", "lakehouse.v1.CatalogService", "lakehouse.v1.catalog_pb2"),
    # Principals, keys and profiles live in the catalog's database.
    ServiceSpec("catalog", "lakehouse.v1.AuthService", "lakehouse.v1.auth_pb2", package="auth"),
    ServiceSpec("ingest", "lakehouse.v1.IngestService", "lakehouse.v1.ingest_pb2"),
    # Pulls write through the ingest core of the same process.
    ServiceSpec("ingest", "lakehouse.v1.SourceService", "lakehouse.v1.sources_pb2", package="sources"),
    ServiceSpec("query", "lakehouse.v1.QueryService", "lakehouse.v1.query_pb2"),
    # Data-quality checks run as DuckDB SQL over the lake, beside the query engine.
    ServiceSpec("query", "lakehouse.v1.ValidationService", "lakehouse.v1.validation_pb2", package="validation"),
    ServiceSpec("models", "lakehouse.v1.ModelService", "lakehouse.v1.models_pb2"),
    ServiceSpec("vector", "lakehouse.v1.VectorService", "lakehouse.v1.vector_pb2"),
    ServiceSpec("matrix", "lakehouse.v1.MatrixService", "lakehouse.v1.matrix_pb2"),
    # Answers retrieve through the matrix core of the same process.
    ServiceSpec("matrix", "lakehouse.v1.AskService", "lakehouse.v1.ask_pb2", package="ask"),
    # Recorded ops and workflows: workflow modes reach matrix, vector, query, models in-process.
    ServiceSpec("matrix", "lakehouse.v1.ObserverService", "lakehouse.v1.observer_pb2", package="observer"),
    # Scores evidence (Ask runs recorded in this process, the journal, playbooks) into the lake.
    ServiceSpec("matrix", "lakehouse.v1.DistillationService", "lakehouse.v1.distillation_pb2", package="distillation"),
    # Drift reruns playbook queries through the matrix core of the same process.
    ServiceSpec("matrix", "lakehouse.v1.DriftService", "lakehouse.v1.drift_pb2", package="drift"),
    # Rule checks: Ask and workflow modes check candidates through the truth core in-process.
    ServiceSpec("matrix", "lakehouse.v1.TruthService", "lakehouse.v1.truth_pb2", package="truth"),
    # Pathway memory: a replay runs its steps through the workflow core of the same process.
    ServiceSpec("matrix", "lakehouse.v1.PathwayService", "lakehouse.v1.pathway_pb2", package="pathway"),
    ServiceSpec("system", "lakehouse.v1.SystemService", "lakehouse.v1.system_pb2"),
)

# Each once, in SERVICES order (a component may host several services).
COMPONENTS: tuple[str, ...] = tuple(dict.fromkeys(s.component for s in SERVICES if s.component != "system"))
# Components that serve HTTP, not gRPC: started beside the gRPC server by build_server
# (servers/app.py), reached through Envoy by path, never an upstream of another process.
HTTP_COMPONENTS: tuple[str, ...] = ("ui", "mcp")

# Long calls by full gRPC method name -> the admission kind whose cap they share
# (servers/admission.py; the kinds are the AdmissionSettings fields). Every method not
# named here is a light call and is never capped.
LONG_CALLS: dict[str, str] = {
    "/lakehouse.v1.IngestService/Ingest": "uploads",
    "/lakehouse.v1.IngestService/IngestWithProgress": "uploads",
    "/lakehouse.v1.StorageService/PutObject": "uploads",
    "/lakehouse.v1.QueryService/ExecuteQuery": "queries",
    "/lakehouse.v1.QueryService/Sql": "queries",
    "/lakehouse.v1.ValidationService/ValidateDataset": "queries",
    # A generative answer holds its thread while the model writes.
    "/lakehouse.v1.AskService/Ask": "queries",
    "/lakehouse.v1.AskService/AskStream": "queries",
    # A workflow run holds its thread while its nodes run.
    "/lakehouse.v1.ObserverService/RunWorkflow": "queries",
    "/lakehouse.v1.ObserverService/RunWorkflowStream": "queries",
    # A replay is a workflow run.
    "/lakehouse.v1.PathwayService/ReplayPathway": "queries",
    "/lakehouse.v1.VectorService/BuildCorpus": "builds",
    "/lakehouse.v1.VectorService/RebuildCorpus": "builds",
    "/lakehouse.v1.IngestService/CompactDataset": "builds",
    "/lakehouse.v1.SourceService/PullDataset": "builds",
    "/lakehouse.v1.CatalogService/VacuumDatasets": "builds",
    "/lakehouse.v1.CatalogService/VerifyDatasets": "builds",
    # A dataset check is one query over the whole dataset.
    "/lakehouse.v1.TruthService/Check": "queries",
    # Drift runs read whole generations or re-run many playbook queries.
    "/lakehouse.v1.DriftService/PlaybookDrift": "builds",
    "/lakehouse.v1.DriftService/PlaybookDriftStream": "builds",
    "/lakehouse.v1.DriftService/EmbeddingDrift": "builds",
    "/lakehouse.v1.DistillationService/RunDistillation": "builds",
    "/lakehouse.v1.DistillationService/ExportSft": "builds",
    "/lakehouse.v1.DistillationService/ScorerDrift": "builds",
}


def parse_components(spec: str) -> list[str]:
    """'all' or a comma list of component names → ordered component list."""
    known = (*COMPONENTS, *HTTP_COMPONENTS)
    if spec.strip() in ("", "all"):
        return list(known)
    wanted = [c.strip() for c in spec.split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"unknown services {unknown}; choose from {list(known)} or 'all'")
    return [c for c in known if c in wanted]
