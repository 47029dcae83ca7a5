"""Splunk SOAR's list conventions on plain rows (pure unit tests; the HTTP side is in test_metrics.py)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from api.splunk_filters import FilterError, ListArgs, apply_filters, paginate, parse_filters, sort_rows


class Row(BaseModel):
    id: int
    name: str
    status: str
    score: float | None = None


FIELDS = tuple(Row.model_fields)
ROWS = [Row(id=1, name="Alpha", status="success", score=2.5), Row(id=2, name="beta", status="failed"),
        Row(id=3, name="Gamma", status="success", score=1.0)]


def ids(rows: list[Row]) -> list[int]:
    return [r.id for r in rows]


def test_parse_python_literals_and_json():
    got = parse_filters('{"status": "success"}', [("_filter_id__in", "[1, 3]"), ("_filter_name", "Alpha"),
                                                   ("page", "0"), ("_filter_", "ignored")], FIELDS)
    assert got == {"status": "success", "id__in": [1, 3], "name": "Alpha"}  # a bare word is its string


@pytest.mark.parametrize("filter_json, params, words", [
    ("{not json", [], "not valid JSON"),
    ("[1]", [], "must be a JSON object"),
    (None, [("_filter_colour", "'red'")], "unknown filter field 'colour'"),
    (None, [("_filter_id__near", "1")], "unknown filter operator '__near'"),
])
def test_parse_errors(filter_json, params, words):
    with pytest.raises(FilterError, match=words):
        parse_filters(filter_json, params, FIELDS)


@pytest.mark.parametrize("filters, expected", [
    ({"status": "success"}, [1, 3]),
    ({"status__ne": "success"}, [2]),
    ({"id__in": [2, 3]}, [2, 3]),
    ({"id__in": 2}, [2]),
    ({"name__contains": "a"}, [1, 2, 3]),
    ({"name__contains": "A"}, [1]),
    ({"name__icontains": "ALP"}, [1]),
    ({"score__gt": 1.0}, [1]),
    ({"score__lte": 2.5}, [1, 3]),  # None never compares
    ({"status": "success", "score__lt": 2}, [3]),
])
def test_apply_filters(filters, expected):
    assert ids(apply_filters(ROWS, filters)) == expected


def test_uncomparable_filter():
    with pytest.raises(FilterError, match="cannot compare float with str"):
        apply_filters(ROWS, {"score__gt": "high"})


def test_sort_and_pages():
    assert ids(sort_rows(ROWS, "score", "desc", "id")) == [1, 3, 2]  # rows without a value last
    assert ids(sort_rows(ROWS, "score", "asc", "id")) == [3, 1, 2]
    assert ids(sort_rows(ROWS, "status", "asc", "id")) == [2, 1, 3]
    assert paginate(ROWS, 1, 2) == (ROWS[2:], 2)
    assert paginate(ROWS, 5, 2) == ([], 2)
    assert paginate(ROWS, 0, 0) == (ROWS, 1) and paginate(ROWS, 1, 0) == ([], 1)


def test_list_args_check_sort_and_order():
    args = ListArgs(page=0, page_size=10, filter=None, sort=None, order="asc", params=(("_filter_id", "1"),))
    assert args.filters(FIELDS, default_sort="id") == ({"id": 1}, "id")
    with pytest.raises(FilterError, match="cannot sort by 'secret'"):
        ListArgs(0, 10, None, "secret", "asc", ()).filters(FIELDS, "id")
    with pytest.raises(FilterError, match="'order' must be"):
        ListArgs(0, 10, None, None, "sideways", ()).filters(FIELDS, "id")
