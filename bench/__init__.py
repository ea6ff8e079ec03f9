"""Benchmarks for rapidicom (pytest-benchmark suites and ``report.py``).

A package so that ``bench.corpus`` never collides with ``tests/corpus.py``
when both folders are collected in one pytest session.
"""
