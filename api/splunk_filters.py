"""Splunk SOAR's REST list conventions (splunk-soar-compat.md §A.2), for every `/rest/<type>` list route:
`page` (0-based), `page_size` (0 = everything), `sort` + `order`, and the filter language.

Filters come as Django-style lookups with Python-literal values, `_filter_status="success"`,
`_filter_container__in=['SOAR-...']`, `_filter_start_time__gt=1718000000`, or as one JSON object,
`filter={"status": "success", "nested": true}`; all of them must match (AND). A bare word that is not a
Python literal is taken as the string it obviously is. Rows are objects with one attribute per field
(pydantic models): filters and sorting read the attributes, so a route declares its fields once, in its
row model.

Errors are `FilterError`s, which the routes answer with Splunk's `{"failed": true, "message": ...}` (400).
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request

MAX_PAGE_SIZE = 2000
OPERATORS = ("in", "gt", "gte", "lt", "lte", "icontains", "contains", "ne")
_ORDERING: dict[str, Callable[[Any, Any], Any]] = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
                                                   "lte": operator.le}
ORDERS = ("asc", "desc")
FILTER_PREFIX = "_filter_"

R = TypeVar("R")


class FilterError(ValueError):
    """A filter or sort the caller sent cannot be applied (answered as Splunk's 400 envelope)."""


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value  # Splunk wants Python literals; a bare word is taken as the string it obviously is


def parse_filters(filter_json: str | None, params: Iterable[tuple[str, str]],
                  fields: Sequence[str]) -> dict[str, Any]:
    """`filter={"status": "success"}` and `_filter_status="success"` -> `{"status": "success"}`.

    Raises:
        FilterError: bad JSON, not an object, or a field not in `fields` / an unknown operator.
    """
    out: dict[str, Any] = {}
    if filter_json:
        try:
            parsed = json.loads(filter_json)
        except json.JSONDecodeError as e:
            raise FilterError(f"'filter' is not valid JSON ({e.msg} at position {e.pos})") from None
        if not isinstance(parsed, dict):
            raise FilterError("'filter' must be a JSON object, e.g. {\"status\": \"success\"}")
        out.update(parsed)
    for k, v in params:
        if k.startswith(FILTER_PREFIX) and len(k) > len(FILTER_PREFIX):
            out[k[len(FILTER_PREFIX):]] = _literal(v)
    for key in out:
        field, _, op = key.partition("__")
        if field not in fields:
            raise FilterError(f"unknown filter field '{field[:60]}'; filterable: {', '.join(fields)}")
        if op and op not in OPERATORS:
            raise FilterError(f"unknown filter operator '__{op[:20]}'; one of: {', '.join(OPERATORS)}")
    return out


def _compare(value: Any, op: str, want: Any) -> bool:
    if op == "":
        return bool(value == want)
    if op == "ne":
        return bool(value != want)
    if op == "in":
        return bool(value in (want if isinstance(want, list | tuple | set) else [want]))
    if op in ("contains", "icontains"):
        a, b = str(value or ""), str(want)
        return (b.lower() in a.lower()) if op == "icontains" else b in a
    if value is None:
        return False
    return bool(_ORDERING[op](value, want))


def matches(value: Any, op: str, want: Any) -> bool:
    """`value <op> want` (op "" is equality; None never compares greater or less).

    Raises:
        FilterError: the two cannot be compared (e.g. a number with a string).
    """
    try:
        return _compare(value, op, want)
    except TypeError:
        raise FilterError(f"cannot compare {type(value).__name__} with {type(want).__name__} "
                          f"({want!r:.60})") from None


def apply_filters(rows: list[R], filters: dict[str, Any]) -> list[R]:
    """Rows matching every filter (fields read as attributes of the rows)."""
    out = rows
    for key, want in filters.items():
        field, _, op = key.partition("__")
        out = [r for r in out if matches(getattr(r, field, None), op, want)]
    return out


def sort_rows(rows: list[R], sort: str, order: str, tiebreak: str) -> list[R]:
    """Rows by `sort` (`tiebreak` second) in `order`; rows without a value last, in either order."""
    present = sorted((r for r in rows if getattr(r, sort) is not None),
                     key=lambda r: (getattr(r, sort), getattr(r, tiebreak)), reverse=order == "desc")
    return present + [r for r in rows if getattr(r, sort) is None]


def paginate(rows: list[R], page: int, page_size: int) -> tuple[list[R], int]:
    """One page of `rows` and the number of pages (`page_size` 0: everything on page 0)."""
    if page_size == 0:
        return (rows, 1) if page == 0 else ([], 1)
    return rows[page * page_size: (page + 1) * page_size], math.ceil(len(rows) / page_size)


@dataclass(frozen=True)
class ListArgs:
    """The query parameters of a Splunk list request (`ListArgsDep` reads them)."""

    page: int
    page_size: int
    filter: str | None
    sort: str | None
    order: str
    params: tuple[tuple[str, str], ...]

    def filters(self, fields: Sequence[str], default_sort: str) -> tuple[dict[str, Any], str]:
        """The parsed filters and the sort field, checked against the route's `fields`.

        Raises:
            FilterError: a bad filter, sort field or order.
        """
        filters = parse_filters(self.filter, self.params, fields)
        sort = self.sort or default_sort
        if sort not in fields:
            raise FilterError(f"cannot sort by '{sort[:60]}'; sortable: {', '.join(fields)}")
        if self.order not in ORDERS:
            raise FilterError("'order' must be 'asc' or 'desc'")
        return filters, sort


def list_args(
    request: Request,
    page: Annotated[int, Query(ge=0)] = 0,
    page_size: Annotated[int, Query(ge=0, le=MAX_PAGE_SIZE, description="0 = every matching row")] = 10,
    filter: Annotated[str | None, Query(description='JSON, e.g. {"status": "success"}')] = None,  # noqa: A002
    sort: Annotated[str | None, Query(description="A row field (playbook runs: default create_time)")] = None,
    order: Annotated[str, Query(description="asc | desc")] = "desc",
) -> ListArgs:
    """The list parameters, with every `_filter_<field>[__<op>]=<literal>` of the query string."""
    return ListArgs(page=page, page_size=page_size, filter=filter, sort=sort, order=order,
                    params=tuple(request.query_params.multi_items()))


ListArgsDep = Annotated[ListArgs, Depends(list_args)]
