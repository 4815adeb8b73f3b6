"""resources/list: the exports written so far, newest first, paginated.

Reading them stays with the `export://EXT/{name}` templates of server.app; this lists
what those templates can read, each with its size, MIME type and modification time, so a
client can find an earlier export without knowing its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    Annotations,
    ListResourcesResult,
    PaginatedRequestParams,
    Resource,
)

from server.protocol import lowlevel
from tools.errors import ProcessMcpError
from tools.export_index import ExportFile, list_exports, page

PAGE_SIZE = 50


def _resource(f: ExportFile) -> Resource:
    return Resource(
        uri=f.uri,
        name=f.name,
        title=f.name,
        description=f"process-mcp export ({f.extension}, {f.size} bytes, {f.modified})",
        mime_type=f.mime_type,
        size=f.size,
        annotations=Annotations(last_modified=f.modified),
    )


def list_page(directory: Path, cursor: str | None, size: int = PAGE_SIZE) -> ListResourcesResult:
    try:
        files, next_cursor = page(list_exports(directory), cursor, size)
    except ProcessMcpError as exc:
        raise MCPError(code=INVALID_PARAMS, message=exc.for_model()) from None
    return ListResourcesResult(resources=[_resource(f) for f in files], next_cursor=next_cursor)


def install(server: MCPServer[Any], directory: Path, size: int = PAGE_SIZE) -> None:
    async def handler(
        ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams
    ) -> ListResourcesResult:
        return list_page(directory, params.cursor, size)

    lowlevel(server).add_request_handler("resources/list", PaginatedRequestParams, handler)
