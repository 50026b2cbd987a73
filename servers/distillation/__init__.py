"""Distillation: the versioned scorer of evidence records, scored runs, the SFT export
and its contamination firewall, and scorer drift (DistillationService)."""
