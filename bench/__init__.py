"""Benchmarks: printed figures, never asserted as timings in tests (`make bench`)."""
