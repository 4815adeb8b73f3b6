"""completion/complete: argument values for the prompts and the export:// templates.

Values come from tools.suggest (cached discovery with a TTL, never a request per
keystroke). A reference this server does not know (another server's prompt, a typo)
gets an empty list rather than an error: completion is a convenience, and the protocol
asks for a `completion` in every answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import (
    CompleteRequestParams,
    CompleteResult,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from server.prompts import BY_NAME
from server.protocol import lowlevel
from tools.export_process import URI_SCHEME
from tools.exportformats import MIME
from tools.suggest import SuggestionCache, Suggestions, suggest

if TYPE_CHECKING:
    from server.app import SharedInstances

# Prompt arguments that take several values, comma-separated: the completion keeps what
# is typed before the last comma and completes the last item.
LISTS = frozenset({"native_status", "include"})
EXPORT_TEMPLATES = {f"{URI_SCHEME}://{ext}/{{name}}": ext for ext in MIME}


def install(server: MCPServer[Any], shared: SharedInstances, cache: SuggestionCache) -> None:
    async def handler(
        ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams
    ) -> CompleteResult:
        found = await complete(shared, cache, params.ref, params.argument, params.context)
        return CompleteResult(completion=found)

    lowlevel(server).add_request_handler("completion/complete", CompleteRequestParams, handler)


async def complete(
    shared: SharedInstances,
    cache: SuggestionCache,
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    await shared.ready()
    chosen = dict(context.arguments or {}) if context is not None else {}
    if isinstance(ref, ResourceTemplateReference):
        extension = EXPORT_TEMPLATES.get(ref.uri)
        if extension is None or argument.name != "name":
            return Completion(values=[])
        found = await suggest(
            shared.instances,
            cache,
            "export_name",
            argument.value,
            export_dir=shared.settings.export_dir,
            extension=extension,
        )
        return _completion(found)
    prompt = BY_NAME.get(ref.name)
    if prompt is None or argument.name not in {a.name for a in prompt.arguments}:
        return Completion(values=[])
    head, _, last = (
        argument.value.rpartition(",") if argument.name in LISTS else ("", "", argument.value)
    )
    found = await suggest(
        shared.instances,
        cache,
        argument.name,
        last.strip(),
        backend=chosen.get("backend"),
        collection=chosen.get("collection") or None,
    )
    if head:
        taken = {v.strip() for v in head.split(",")}
        values = tuple(f"{head},{v}" for v in found.values if v not in taken)
        found = Suggestions(values, len(values), found.has_more)
    return _completion(found)


def _completion(found: Suggestions) -> Completion:
    return Completion(values=list(found.values), total=found.total, has_more=found.has_more)
