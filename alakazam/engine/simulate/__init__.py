"""Simulated Measurement Sets with known injected Jones terms (the truth beside them)."""
