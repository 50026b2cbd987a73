"""Which role each method needs. One table for every service, read by the interceptor.

Open methods need no key (health checks, reflection). WhoAmI needs any valid key. Reads
need ``reader``; everything not listed as a read needs ``writer`` (a new method is closed
until it is classified); principal, key, profile, bucket, source and vacuum changes need
``admin``, and so does Authenticate (processes that do not host the catalog check keys
through it with their internal service key; nobody else can use it as a guessing oracle).
"""

from __future__ import annotations

from lakehouse.api.auth import ADMIN, READER, WRITER

OPEN = ""
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
OPEN_METHODS = frozenset({"/lakehouse.v1.SystemService/GetHealth"})
# Any valid key, whatever its profiles (not a role: every identity passes).
KEY_ONLY = "key"
KEY_ONLY_METHODS = frozenset({"/lakehouse.v1.AuthService/WhoAmI"})
# Method names that only read (by prefix), in any service ...
READ_PREFIXES = ("Get", "List", "Find", "Search", "Embed", "Verify", "Tail", "Nearest", "Describe")
# ... and the other reads, by full name.
READ_METHODS = frozenset(
    {
        "/lakehouse.v1.QueryService/ExecuteQuery",
        "/lakehouse.v1.QueryService/Sql",
        "/lakehouse.v1.QueryService/CancelQuery",
        "/lakehouse.v1.AskService/Ask",
        "/lakehouse.v1.AskService/AskStream",
        "/lakehouse.v1.ModelService/Chat",
        "/lakehouse.v1.MatrixService/FilterRelevance",
        "/lakehouse.v1.TruthService/Check",
        "/lakehouse.v1.ValidationService/ValidateDataset",
        "/lakehouse.v1.PathwayService/BucketVector",
        "/lakehouse.v1.DistillationService/ScoreRecords",
    }
)
ADMIN_METHODS = frozenset(
    {
        "/lakehouse.v1.AuthService/CreatePrincipal",
        "/lakehouse.v1.AuthService/ListPrincipals",
        "/lakehouse.v1.AuthService/CreateKey",
        "/lakehouse.v1.AuthService/RevokeKey",
        "/lakehouse.v1.AuthService/CreateProfile",
        "/lakehouse.v1.AuthService/ListProfiles",
        "/lakehouse.v1.AuthService/DeleteProfile",
        "/lakehouse.v1.AuthService/Authenticate",
        "/lakehouse.v1.StorageService/CreateBucket",
        "/lakehouse.v1.StorageService/DeleteBucket",
        "/lakehouse.v1.SourceService/CreateSource",
        "/lakehouse.v1.SourceService/DeleteSource",
        "/lakehouse.v1.CatalogService/VacuumDatasets",
    }
)


def required_role(method: str) -> str:
    """The role ``method`` (a full gRPC method path) needs; OPEN for none."""
    if method in OPEN_METHODS or method.startswith(OPEN_PREFIXES):
        return OPEN
    if method in KEY_ONLY_METHODS:
        return KEY_ONLY
    if method in ADMIN_METHODS:
        return ADMIN
    name = method.rsplit("/", 1)[-1]
    if method in READ_METHODS or name.startswith(READ_PREFIXES):
        return READER
    return WRITER
