"""Fake vendor APIs over real HTTP, speaking each vendor's wire format, for the demo, tests and benchmarks."""
