"""Benchmarks: `python -m benchmarks [--quick] [--json]` runs them all and prints one table."""
