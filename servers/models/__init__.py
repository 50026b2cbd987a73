"""ModelService: embeddings (local model, HTTP providers, a test hash) and streamed chat."""
