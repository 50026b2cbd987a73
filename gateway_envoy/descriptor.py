"""The FileDescriptorSet Envoy's transcoder needs, built from the generated stubs.

Building it from the imported ``_pb2`` modules (rather than a committed binary)
means the gateway can never disagree with the stubs the servers run. It pulls in
every transitive import, including google/rpc/error_details.proto, which Envoy
needs to render error details into REST JSON bodies.
"""

from __future__ import annotations

import importlib

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor
from google.rpc import error_details_pb2

from lakehouse.servers.services import SERVICES


def _modules() -> list[FileDescriptor]:
    files = [importlib.import_module(s.pb2_module).DESCRIPTOR for s in SERVICES]
    files.append(error_details_pb2.DESCRIPTOR)
    return files


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """All service files and their dependencies, dependencies first."""
    out = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(fd: FileDescriptor) -> None:
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            add(dep)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        out.file.append(proto)

    for fd in _modules():
        add(fd)
    return out
