"""What the Frends adapter reads of a definition row and a list page, decoded by
tools/decode.py: only these fields are built (the BPMN, element parameters and graph data
of each list row are skipped unparsed). Optional fields default to None: the vendor's
schema marks none of them required."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from tools.decode import Shape

R = TypeVar("R", covariant=True)


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


# -- executions (process instances) ------------------------------------------------------
# `GET /instances/{agentGroupId}` (reference: Continuation list; the item's fields). The
# execution id (a uuid) is what a row is addressed by, so it is required; the schema marks
# nothing else required, and endTimeUtc is null while an execution runs.


class Execution(Shape):
    """What a summary row of an execution reads."""

    execution_id: str
    state: str | None = None
    start_time_utc: str | None = None
    end_time_utc: str | None = None
    process_id: int | None = None
    process_guid: str | None = None
    user_name: str | None = None


class FullExecution(Execution):
    """Adds what only the extras and the `where` attributes read."""

    id: int | None = None
    parent_id: int | None = None
    process_version: int | None = None
    trigger_name: str | None = None
    agent_name: str | None = None
    parent_name: str | None = None
    acknowledged_utc: str | None = None
    exception: str | None = None


class ExecutionPage(Shape, Generic[R]):
    data: list[R]
    next_continuation_token: str | None = None
