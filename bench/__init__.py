"""Benchmarks for mediagen-mcp (project issue 9): run them all with `python -m bench` from the repository root."""
