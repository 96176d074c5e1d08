"""Benchmark scripts (each runnable as `python benchmarks/NAME.py`; importable for their tests)."""
