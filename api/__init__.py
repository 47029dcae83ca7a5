"""The HTTP API: a thin FastAPI layer that starts workflows, reads their state and delivers decisions."""
