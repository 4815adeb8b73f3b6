"""Export files through the real server (issue 14, item 3): concurrent generated names,
names that sanitise to nothing, rewritten names reported, temporaries removed on SIGTERM
and stale ones at start, large files read back in parts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.export.conftest import names, open_sim
from tests.server.conftest import text
from tools.exportfiles import MAX_READ_BYTES, TEMP_PREFIX, read_part
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio
SIM = open_sim(SANDBOXES[0], seed=9)
NAME = SIM.settings.name


def _server(directory: Path) -> object:
    settings = Settings(instances=[SIM.settings], export_dir=directory)
    return build_server(settings, transports={NAME: httpx.ASGITransport(app=SIM.core)})


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(_server(tmp_path)) as c:  # type: ignore[arg-type]
        yield c


async def test_parallel_exports_with_generated_names_never_collide(
    client: Client, tmp_path: Path
) -> None:
    results: list[object] = []

    async def export() -> None:
        results.append(await client.call_tool("export_process", {"backend": NAME, "max_rows": 3}))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(export)
    errors = [text(r) for r in results if r.is_error]  # type: ignore[attr-defined]
    assert errors == []
    files = {r.structured_content["file_name"] for r in results}  # type: ignore[attr-defined]
    assert len(files) == 10
    assert names(tmp_path) == sorted(files)


@pytest.mark.parametrize("file_name", ["🙂.csv", "🙂", "-.csv", "🙂.backup"])
async def test_a_name_that_sanitises_to_nothing_or_a_dot_file_gets_a_generated_name(
    client: Client, tmp_path: Path, file_name: str
) -> None:
    result = await client.call_tool(
        "export_process", {"backend": NAME, "max_rows": 2, "file_name": file_name}
    )
    assert not result.is_error, text(result)
    saved = result.structured_content["file_name"]
    assert not saved.startswith((".", "-"))
    assert saved.endswith(".csv")
    assert "saved as " + saved in text(result)
    # And it reads back (a dot-file would be refused by resources/read).
    read = await client.read_resource(result.structured_content["uri"])
    assert read.contents[0].text.startswith("backend,")


@pytest.mark.parametrize(
    ("file_name", "saved"),
    [("h€llo w🙂rld.csv", "h-llo-w-rld.csv"), ("report.txt", "report.txt.csv")],
)
async def test_a_rewritten_name_is_reported_in_the_answer(
    client: Client, tmp_path: Path, file_name: str, saved: str
) -> None:
    result = await client.call_tool(
        "export_process", {"backend": NAME, "max_rows": 2, "file_name": file_name}
    )
    assert not result.is_error, text(result)
    assert result.structured_content["file_name"] == saved
    assert f"saved as {saved}" in text(result)
    assert any(f"saved as {saved}" in w for w in result.structured_content["warnings"])


async def test_a_name_kept_as_given_is_not_reported(client: Client) -> None:
    result = await client.call_tool(
        "export_process", {"backend": NAME, "max_rows": 2, "file_name": "mine.csv"}
    )
    assert result.structured_content["file_name"] == "mine.csv"
    assert "saved as" not in text(result)


async def test_a_large_export_is_not_read_whole_but_answers_size_path_and_parts(
    client: Client, tmp_path: Path
) -> None:
    line = b"tallyfy-sandbox,runs," + b"x" * 100 + b"\r\n"
    data = line * (MAX_READ_BYTES // len(line) + 1000)
    (tmp_path / "big.csv").write_bytes(data)
    with pytest.raises(Exception, match="more than the 5 MB") as caught:
        await client.read_resource("export://csv/big.csv")
    notice = str(caught.value)
    assert f"{len(data):,} bytes" in notice
    assert str(tmp_path / "big.csv") in notice
    assert "export://csv/big.csv/part/1" in notice
    assert "part/2" in notice
    assert len(notice) < 2000
    parts = []
    for n in (1, 2):
        read = await client.read_resource(f"export://csv/big.csv/part/{n}")
        parts.append(read.contents[0].text.encode())
    assert b"".join(parts) == data
    assert all(p.endswith(b"\r\n") for p in parts)
    with pytest.raises(Exception, match="has parts 1 to 2"):
        await client.read_resource("export://csv/big.csv/part/3")


def test_parts_hold_whole_lines_and_join_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    data = b"".join(b'{"n": %d, "t": "%s"}\n' % (i, "é".encode() * (i % 7)) for i in range(500))
    path.write_bytes(data)
    size = 1000
    parts = [read_part(path, n, size) for n in range(1, len(data) // size + 2)]
    assert b"".join(parts) == data
    assert all(not p or p.endswith(b"\n") for p in parts)


def test_a_line_longer_than_a_part_is_cut_at_a_character_boundary(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    data = "é".encode() * 3000
    path.write_bytes(data)
    parts = [read_part(path, n, 1001) for n in range(1, 8)]
    assert b"".join(parts) == data
    for p in parts:
        p.decode("utf-8")


def test_stale_temporaries_are_removed_at_start_and_live_ones_kept(tmp_path: Path) -> None:
    stale = tmp_path / f"{TEMP_PREFIX}abc123-old.csv"
    fresh = tmp_path / f"{TEMP_PREFIX}def456-writing.csv"
    kept = tmp_path / "done.csv"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x" * 65_000)
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    os.utime(kept, (two_hours_ago, two_hours_ago))
    _server(tmp_path)
    assert names(tmp_path) == sorted([fresh.name, kept.name])


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tools.exportfiles import AtomicExport

    with AtomicExport(Path(sys.argv[1]), "slow.csv") as out:
        out.write(b"x" * 65_000)
        out._file.flush()
        print("writing", flush=True)
        sys.stdin.read()  # blocks until the parent's signal ends us
        out.commit()
    """
)


def test_sigterm_removes_the_temporary_file_of_an_export_in_progress(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"writing\n"
        assert [n for n in names(tmp_path) if n.startswith(TEMP_PREFIX)]
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()
    assert names(tmp_path) == []
