"""The ``lakehouse`` command: operator commands (up, serve, gateway, status, down) that
host the servers, and user commands (ingest, sql, ...) that go through the client."""
