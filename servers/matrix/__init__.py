"""MatrixService: many corpora searched as one."""
