"""AuthService: proto <-> AuthCore (hosted with the catalog, which holds the tables)."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from lakehouse.api import auth as api
from lakehouse.servers.auth.context import caller
from lakehouse.v1 import auth_pb2, auth_pb2_grpc

ANONYMOUS = "anonymous"


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, core, enabled: bool) -> None:
        self._core = core
        self._enabled = enabled

    def CreatePrincipal(self, request, context):
        return api.principal_to_pb(self._core.create_principal(request.name, request.kind))

    def ListPrincipals(self, request, context):
        return auth_pb2.ListPrincipalsResponse(
            principals=[api.principal_to_pb(p) for p in self._core.list_principals()]
        )

    def CreateKey(self, request, context):
        created = self._core.create_key(request.principal, request.ttl_s, request.description)
        return auth_pb2.CreatedKey(key=api.key_to_pb(created.key), secret=created.secret)

    def RevokeKey(self, request, context):
        return api.key_to_pb(self._core.revoke_key(request.key_id))

    def CreateProfile(self, request, context):
        return api.profile_to_pb(self._core.create_profile(api.profile_from_pb(request.profile)))

    def ListProfiles(self, request, context):
        profiles = self._core.list_profiles(request.principal)
        return auth_pb2.ListProfilesResponse(profiles=[api.profile_to_pb(p) for p in profiles])

    def DeleteProfile(self, request, context):
        self._core.delete_profile(request.name)
        return empty_pb2.Empty()

    def WhoAmI(self, request, context):
        who = caller()
        if who is None:  # auth is off: everyone is the anonymous caller, unscoped
            return auth_pb2.WhoAmIResponse(principal=auth_pb2.Principal(name=ANONYMOUS), auth_enabled=self._enabled)
        return api.identity_to_pb(who)

    def Authenticate(self, request, context):
        return api.identity_to_pb(self._core.authenticate(request.secret))


def register(server: grpc.Server, runtime) -> None:
    servicer = AuthServicer(runtime.auth, runtime.settings.auth.enabled)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
