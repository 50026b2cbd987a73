"""VectorService core: FAISS HNSW corpora persisted on the lake (see core.py)."""
