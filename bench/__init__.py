"""Benchmarks: ingest throughput over HTTP against live servers, and CSV import, each beside a ceiling
(the same rows written straight through the database driver) measured in the same run.

Run with `make bench` or `python -m bench.run --help`; results are described in docs/benchmarks.md.
"""
