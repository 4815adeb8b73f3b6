"""What every request to the Kommo simulator goes through before it is answered: the API
block, the bearer token, the plan (customers), the parameter tree in Kommo's bracket
forms, `with`, paging (`page`, `limit`) and the validation errors, reported together in
Kommo's 400 "Request validation failed" shape (reference section 7)."""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request

from tools.backends.kommo.brackets import BracketError, Repeated, Tree, integer, parse, scalar
from tools.backends.kommo.sim_filters import Problems
from tools.backends.kommo.sim_http import ApiError, KommoCore, problem
from tools.sim.faults import nginx_page

DEFAULT_LIMIT = 50
# What a list does with a `limit` above its maximum (undocumented): a page of the default
# size, silently, or a 400.
LimitOverMax = Literal["fallback", "refuse"]


class RequestChecks:
    """The checks, with the settings they read (the simulator sets them)."""

    core: KommoCore
    token: str
    repeated: Repeated
    customers_enabled: bool
    limit_over_max: LimitOverMax

    def _guard(self, request: Request, entity: str | None = None) -> None:
        if self.core.api_blocked:
            raise ApiError(403, html=nginx_page(403))
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != self.token:
            raise ApiError(
                401, problem(401, "Unauthorized", "Authorization failed: invalid access token")
            )
        if entity == "customers" and not self.customers_enabled:
            raise ApiError(
                402,
                problem(402, "Payment Required", "Customers are not available on this plan"),
            )

    def _tree(self, request: Request, allowed: frozenset[str], problems: Problems) -> Tree:
        try:
            tree = parse(request.query_params.multi_items(), repeated=self.repeated)
        except BracketError as exc:
            problems.bracket(exc)
            self._check(problems)
            return {}
        if self.core.strict:
            for key in tree:
                if key not in allowed:
                    problems.add(key, "This field is not supported.", "NotSupportedChoice")
        return tree

    def _with(self, tree: Tree, allowed: frozenset[str], problems: Problems) -> set[str]:
        if "with" not in tree:
            return set()
        try:
            text = scalar(tree["with"], "with")
        except BracketError as exc:
            problems.bracket(exc)
            return set()
        wanted: set[str] = set()
        for item in (w.strip() for w in text.split(",")):
            if item in allowed:
                wanted.add(item)
            elif item and self.core.strict:
                problems.add("with", f"{item!r} is not a valid choice.", "NotSupportedChoice")
        return wanted

    def _paging(self, tree: Tree, max_limit: int, problems: Problems) -> tuple[int, int]:
        page, limit = 1, DEFAULT_LIMIT
        try:
            if "page" in tree:
                page = integer(scalar(tree["page"], "page"), "page")
            if "limit" in tree:
                limit = integer(scalar(tree["limit"], "limit"), "limit")
        except BracketError as exc:
            problems.bracket(exc)
            return 1, DEFAULT_LIMIT
        if page < 1:
            problems.add("page", "page must be at least 1")
        if limit < 1:
            problems.add("limit", "limit must be at least 1")
        elif limit > max_limit:
            if self.limit_over_max == "refuse":
                problems.add("limit", f"limit must be at most {max_limit}", "TooBig")
            limit = min(DEFAULT_LIMIT, max_limit)
        return max(page, 1), max(limit, 1)

    def _check(self, problems: Problems) -> None:
        if problems.errors:
            body = problem(
                400,
                "Bad Request",
                "Request validation failed",
                **{"validation-errors": [{"request_id": "0", "errors": problems.errors}]},
            )
            raise ApiError(400, body)
