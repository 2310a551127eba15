"""Reliability drills: the app under host crashes, ARM faults and outages, and bad input.

Each drill is one command (`python -m drills NAME`, see `drills.__main__`) that records its
results in benchmarks/results/; a smaller version of each runs in `make test` (tests/drills).
"""
