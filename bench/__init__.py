"""Benchmarks: each ``bench_*.py`` module prints figures; none passes or fails on time.

Run them all with ``make bench`` (``python -m bench``); ``--quick`` runs fewer iterations.
"""
