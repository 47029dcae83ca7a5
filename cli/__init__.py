"""The `soar` command line."""
