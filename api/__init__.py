"""What the servers and every client share: the domain errors and their google.rpc.Status
mapping, the Arrow wire format, proto conversions and the one gRPC channel factory.

It imports nothing from ``lakehouse.servers``, so a client installs and runs without
the server side (see docs/DECISIONS.md, D22).
"""
