"""`process-mcp export`: the export_process tool for people, with a progress bar on stderr."""

from __future__ import annotations

import argparse
import sys
from typing import IO, TYPE_CHECKING, Any

from tools.errors import ProcessMcpError, explained
from tools.progress import Progress, reporting

if TYPE_CHECKING:
    from server.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export one process or a whole list query to a file",
        description="Same as the export_process tool. Without --id, every process matching "
        "the filters goes to a csv or jsonl file; with --id, one process in full.",
    )
    p.add_argument("--backend", required=True, help='instance name (or "all" for lists)')
    p.add_argument("--id", help="export this one process (json, markdown or native)")
    p.add_argument("--collection")
    p.add_argument("--format", choices=("csv", "jsonl", "json", "markdown", "native"))
    # --columns: the option's name before fields replaced columns (cheap to keep).
    p.add_argument(
        "--fields", "--columns", dest="fields", help="columns, comma-separated (id always)"
    )
    p.add_argument("--file-name", help="file name inside the export directory")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--max-rows", type=int)
    p.add_argument("--status", action="append", help="unified status (repeatable)")
    p.add_argument("--native-status", action="append", help="backend status (repeatable)")
    p.add_argument("--tag", dest="tags", action="append", help="tag (repeatable, all-of)")
    for name in ("text", "owner", "template", "sort"):
        p.add_argument(f"--{name}")
    dates = ("created-after", "created-before", "updated-after", "updated-before")
    for name in (*dates, "due-after", "due-before"):
        p.add_argument(f"--{name}", metavar="ISO8601")
    p.add_argument("--overdue", action="store_true", help="open and due before now")
    p.add_argument(
        "--where", help="attribute conditions, e.g. 'budget >= 40000 and city = \"Pune\"'"
    )
    p.add_argument("--export-dir", help="write here instead of the configured directory")
    return p


def arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The tool's arguments from the command line (only what was given)."""
    out: dict[str, Any] = {"backend": args.backend}
    simple = (
        "id", "collection", "format", "file_name", "max_rows", "status", "native_status",
        "tags", "text", "owner", "template", "sort",
        "created_after", "created_before", "updated_after", "updated_before",
        "due_after", "due_before",
    )  # fmt: skip
    for name in simple:
        value = getattr(args, name)
        if value is not None:
            out[name] = value
    if args.overwrite:
        out["overwrite"] = True
    if args.overdue:
        out["overdue"] = True
    if args.fields:
        out["fields"] = [c.strip() for c in args.fields.split(",") if c.strip()]
    if args.where:
        # As the tool takes it: an expression, or the JSON text of the older object form.
        out["where"] = args.where
    return out


# A person at a terminal likes a livelier bar than an MCP client needs notifications.
BAR_INTERVAL = 0.2
BAR_WIDTH = 30


class ProgressBar:
    """A one-line bar on a terminal; on a pipe, nothing until the final line.

    It draws what it is given: the throttling (and the rule that counts only rise) is
    tools.progress's, which calls it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._drawn = 0

    async def __call__(self, done: float, total: float | None, message: str) -> None:
        if not self.tty:
            return
        line = message or f"{int(done)} rows"
        if total:
            filled = int(BAR_WIDTH * min(done / total, 1.0))
            line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {line}"
        # Pad over what the previous, longer frame left on the line.
        self.stream.write("\r" + line.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(line)

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    import anyio

    from tools.export_process import export_process
    from tools.instances import Instances
    from tools.shared_state import SharedState

    directory = Path(args.export_dir).expanduser() if args.export_dir else settings.export_dir
    bar = ProgressBar(sys.stderr)
    progress = Progress(bar, interval=BAR_INTERVAL)

    def failed(exc: ProcessMcpError) -> int:
        bar.finish()
        print(f"process-mcp: {exc.for_model()}", file=sys.stderr)
        return 1

    async def go() -> int:
        # With a Redis URL the quota windows are the replicas' (and survive this process).
        shared = SharedState(settings.redis_url)
        instances = Instances.from_settings(
            settings.instances,
            settings.problems,
            quotas=shared.quotas,
            shared_cache=shared.cache,
        )
        try:
            with reporting(progress):
                result = await export_process(
                    instances,
                    arguments(args),
                    directory=directory,
                    progress=progress,
                    max_seconds=settings.export_max_seconds,
                )
        except ProcessMcpError as exc:
            return failed(exc)
        except Exception as exc:
            found = explained(exc)
            if found is None:
                raise
            return failed(found)
        finally:
            await instances.aclose()
            await shared.aclose()
        bar.finish()
        rows = f"{result.rows} rows" if result.rows is not None else "1 process"
        print(f"{rows} -> {result.path} ({result.size_bytes} bytes, sha256 {result.sha256})")
        if result.duplicates_removed:
            print(f"{result.duplicates_removed} duplicate rows dropped (data moved while paging)")
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return 0

    return anyio.run(go)
