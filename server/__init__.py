"""mediagen-mcp: the MCP layer over the `providers` library."""

__version__ = "0.1.0"
