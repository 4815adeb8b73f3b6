"""What the Frends adapter reads of a definition row and a list page, decoded by
tools/decode.py: only these fields are built (the BPMN, element parameters and graph data
of each list row are skipped unparsed). Optional fields default to None: the vendor's
schema marks none of them required."""

from __future__ import annotations

from typing import Any

from tools.decode import Shape


class Variable(Shape):
    is_secret: bool | None = None
    value: Any = None


class DefinitionRow(Shape):
    id: int
    name: str | None = None
    version: int | None = None
    unique_identifier: str | None = None
    modified: str | None = None
    modifier: str | None = None
    description: str | None = None
    change_description: str | None = None
    is_subprocess: bool | None = None
    is_draft: bool | None = None
    is_not_latest_version: bool | None = None
    id_of_base_process_for_draft: int | None = None
    process_variables: list[Variable] | None = None


class Paging(Shape):
    total_count: int | None = None
    next_page: str | None = None


class DefinitionPage(Shape):
    data: list[DefinitionRow]
    paging: Paging | None = None
