"""Benchmarks of cellmon beside bare FastAPI baselines, measured in the same run.

`python -m bench` (or `make bench`) runs them and writes docs/benchmarks.md; see that file.
"""
