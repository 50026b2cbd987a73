"""Generated Lakehouse v1 messages and gRPC stubs (scripts/gen.py)."""
