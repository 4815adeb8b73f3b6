"""The MCP adapter of process-mcp: the only package that imports `mcp`."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("process-mcp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
