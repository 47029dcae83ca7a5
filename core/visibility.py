"""Temporal visibility list filters, built in one place from the search-attribute keys of `core/temporal.py`.

Every value goes through `literal()`: booleans and integers as themselves, datetimes as quoted RFC 3339,
strings (and string enums) quoted only when they match `SAFE_VALUE` (letters, digits, `_`, `-`, `.`, `/` and
spaces), so no value can close the quote and extend the query. A value that does not match raises
`UnsafeFilterValue`; the API answers it as 422.

    >>> str(playbook_runs(playbook="phishing_triage_automation", running=True))
    "SoarKind = 'playbook' AND SoarPlaybook = 'phishing_triage_automation' AND ExecutionStatus = 'Running'"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from temporalio.common import SearchAttributeKey

from core.temporal import SA_AWAITING_PROMPT, SA_CONTAINER_ID, SA_KIND, SA_PLAYBOOK

# Temporal's own attributes, typed like ours so one builder serves both.
WORKFLOW_TYPE = SearchAttributeKey.for_keyword("WorkflowType")
EXECUTION_STATUS = SearchAttributeKey.for_keyword("ExecutionStatus")
START_TIME = SearchAttributeKey.for_datetime("StartTime")
WORKFLOW_ID = SearchAttributeKey.for_keyword("WorkflowId")

SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.\- /]{1,256}$")  # "/": workflow ids (harmless inside quotes)
RUNNING = "Running"

Op = Literal["=", "!=", ">", ">=", "<", "<="]
Value = str | bool | int | datetime


class UnsafeFilterValue(ValueError):
    """A string value that could break out of a visibility query (see `SAFE_VALUE`)."""


def utc(dt: datetime) -> datetime:
    """`dt` in UTC (naive datetimes are taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def rfc3339(dt: datetime) -> str:
    """A visibility-query timestamp, e.g. `2024-08-21T09:30:00.000000Z`."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_safe(value: str) -> bool:
    """True when `value` may be quoted into a query as it is."""
    return SAFE_VALUE.match(value) is not None


def literal(value: Value) -> str:
    """`value` as a visibility-query literal.

    Raises:
        UnsafeFilterValue: a string outside `SAFE_VALUE`.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, datetime):
        return f"'{rfc3339(value)}'"
    text = str(value.value) if isinstance(value, Enum) else value
    if not is_safe(text):
        raise UnsafeFilterValue(f"{text[:60]!r}: only letters, digits, '_', '-', '.' and spaces are allowed")
    return f"'{text}'"


@dataclass(frozen=True)
class Filter:
    """A conjunction of `<attribute> <op> <literal>` clauses; `str()` gives the query text.

    Immutable: every method returns a new filter, so a base filter can be shared.
    """

    clauses: tuple[str, ...] = ()

    def where(self, key: SearchAttributeKey[Any], value: Value, op: Op = "=") -> Filter:
        """This filter AND `key <op> value`."""
        return Filter((*self.clauses, f"{key.name} {op} {literal(value)}"))

    def where_set(self, key: SearchAttributeKey[Any], value: Value | None, op: Op = "=") -> Filter:
        """`where(key, value, op)` when `value` is not None; this filter unchanged otherwise."""
        return self if value is None else self.where(key, value, op)

    def group_by(self, key: SearchAttributeKey[Any]) -> str:
        """The query text grouped by `key` (for `count_workflows`)."""
        return f"{self} GROUP BY {key.name}"

    def __str__(self) -> str:
        return " AND ".join(self.clauses)


def playbook_runs(*, since: datetime | None = None, until: datetime | None = None, playbook: str | None = None,
                  container: str | None = None, running: bool | None = None) -> Filter:
    """Playbook runs started in `[since, until)`, of one playbook / container, running or finished."""
    f = (Filter().where(SA_KIND, "playbook")
         .where_set(START_TIME, since, ">=").where_set(START_TIME, until, "<")
         .where_set(SA_PLAYBOOK, playbook).where_set(SA_CONTAINER_ID, container))
    if running is not None:
        f = f.where(EXECUTION_STATUS, RUNNING, "=" if running else "!=")
    return f


def pending_prompts() -> Filter:
    """Running playbook runs waiting for an analyst's answer."""
    return playbook_runs(running=True).where(SA_AWAITING_PROMPT, True)
