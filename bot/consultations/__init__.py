"""Consultations: their files, the directory, the catalogue and the lifecycle (launch, close, extend)."""
