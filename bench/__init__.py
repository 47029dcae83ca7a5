"""Benchmarks (`make bench`): the whole stack as separate processes, every figure next to a baseline
measured in the same run. Not tests: nothing here asserts a timing."""
