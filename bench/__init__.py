"""Benchmarks: each runs the project's code and a peer on the same data in one run."""
