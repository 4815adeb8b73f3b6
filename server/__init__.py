"""The MCP adapter of process-mcp: the only package that imports `mcp`."""

# The one place the version lives (pyproject reads it through hatch); a literal, because
# importlib.metadata costs about 45 ms of start-up.
__version__ = "0.1.0"
