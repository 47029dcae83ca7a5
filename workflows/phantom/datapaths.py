"""Datapaths and `collect2`.

A datapath names values in the run's data; `collect2` returns rows, one column per datapath:

    artifact:*.cef.<key>, artifact:*.id, artifact:*.<field>    one row per artifact (scope, tags, limit)
    container:<field>                                          one row
    playbook_input:<name>                                      one row per input value
    <block>:action_result.<path>                               one row per action result of an act or prompt
        path: status, message, summary[.<key>...], parameter.<name>[.context.artifact_id],
              data.*.<key>...  (`*` expands a list, a number indexes one: summary.responses.0)
    <format block>:formatted_data[.*]                          the text (or one row per repeated line)
    <block>:custom_function:<name>                             the run data a code block saved as <block>:<name>
    <child block>:playbook_output:<name>                       a child playbook's output
    filtered-data:<filter>:condition_<n>:<datapath>            the artifacts/results/inputs that condition matched

Datapaths of one source (the same artifacts, the same block's results) are correlated per item: a value
that is a single one beside a `*` expansion repeats on each row. Columns of different sources are aligned
by position. Anything else is not a datapath (conditions treat it as a literal); `custom_list:` and
`custom_function_result` datapaths raise NotImplementedError.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from workflows.phantom.context import PhantomError, unsupported

if TYPE_CHECKING:
    from workflows.phantom.containers import ContainerBox

DEFAULT_LIMIT = 2000
BLOCK_RE = re.compile(r"^[A-Za-z0-9_\- ]+$")
Ref = tuple[Any, ...]


@dataclass
class Block:
    """A named block's state: an act, prompt or child playbook, and what it returned."""

    name: str
    kind: str
    done: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Filtered:
    """What a condition matched (for `filtered-data:<name>:...`)."""

    refs: set[Ref] = field(default_factory=set)


@dataclass(frozen=True)
class Datapath:
    """A parsed datapath: its source (kind + block or input name), the path within, and the filter."""

    kind: str
    block: str
    path: tuple[str, ...]
    filtered: str | None
    raw: str

    @property
    def space(self) -> tuple[str, str]:
        """The items this datapath ranges over (all datapaths of one space are correlated per item)."""
        return self.kind, self.block


@dataclass(frozen=True)
class Item:
    """One artifact, action result, input value, ...: its identity and the object paths walk."""

    ref: Ref
    obj: Any


def parse(dp: Any) -> Datapath | None:
    """The datapath `dp`, or None when it is not one (a literal).

    Raises:
        NotImplementedError: a custom list or custom function result datapath.
    """
    if not isinstance(dp, str) or ":" not in dp:
        return None
    s, filtered = dp, None
    if s.startswith("filtered-data:"):
        parts = s.split(":")
        if len(parts) < 4:
            raise PhantomError(f"datapath {dp!r}: expected filtered-data:<filter>:condition_<n>:<datapath>")
        filtered, s = f"{parts[1]}:{parts[2]}", ":".join(parts[3:])
    head, _, rest = s.partition(":")
    segs = tuple(rest.split(".")) if rest else ()
    if head == "artifact":
        return Datapath("artifact", "", segs[1:] if segs[:1] == ("*",) else segs, filtered, dp)
    if head == "container":
        return Datapath("container", "", segs, filtered, dp)
    if head == "playbook_input":
        return Datapath("input", rest, (), filtered, dp)
    if head == "custom_list":
        raise unsupported(f"the custom list datapath {dp!r}")
    if not BLOCK_RE.match(head):
        return None
    return _block_datapath(dp, head, rest, segs, filtered)


def _block_datapath(dp: str, head: str, rest: str, segs: tuple[str, ...], filtered: str | None) -> Datapath | None:
    """A datapath into a block's results: `<block>:action_result...`, formatted data, outputs."""
    if segs[:1] == ("action_result",):
        return Datapath("result", head, segs[1:], filtered, dp)
    if segs[:1] == ("formatted_data",):
        return Datapath("format", head, segs[1:], filtered, dp)
    if rest.startswith("custom_function:"):
        return Datapath("custom", head, (rest.split(":", 1)[1],), filtered, dp)
    if rest.startswith("playbook_output:"):
        return Datapath("output", head, (rest.split(":", 1)[1],), filtered, dp)
    if rest.startswith("custom_function_result"):
        raise unsupported(f"the custom function datapath {dp!r}", "Custom functions are not supported.")
    return None


def walk(obj: Any, path: tuple[str, ...]) -> list[Any]:
    """The values at `path` in `obj` (`*` expands lists; a missing key gives None)."""
    vals = [obj]
    for seg in path:
        nxt: list[Any] = []
        for v in vals:
            if seg == "*":
                nxt.extend(v if isinstance(v, list) else ([] if v is None else [v]))
            elif isinstance(v, dict):
                nxt.append(v.get(seg))
            elif isinstance(v, list) and seg.isdigit():
                nxt.append(v[int(seg)] if int(seg) < len(v) else None)
            else:
                nxt.append(None)
        vals = nxt
    return vals


def _rows(columns: list[list[Any]]) -> list[list[Any]]:
    """Rows of one item: single values repeat beside expanded ones; an item with no values gives no row."""
    n = max((len(c) for c in columns), default=0)
    return [[c[k] if k < len(c) else (c[0] if len(c) == 1 else None) for c in columns] for k in range(n)]


class Datapaths:
    """Resolves datapaths against one run's data."""

    def __init__(self, box: ContainerBox, blocks: dict[str, Block], run_data: dict[str, Any],
                 inputs: dict[str, list[Any]]) -> None:
        self.box, self.blocks, self.run_data, self.inputs = box, blocks, run_data, inputs
        self.filtered: dict[str, Filtered] = {}
        self.formats: dict[str, tuple[str, list[str]]] = {}

    def items(self, dp: Datapath, *, action_results: Any = None, scope: Any = None, filter_artifacts: Any = None,
              tags: list[str] | None = None) -> list[Item]:
        """The items `dp` ranges over (after its filter, scope and tags)."""
        out = self._items(dp, action_results)
        if dp.kind == "artifact":
            if scope not in (None, "all", "new"):
                out = [i for i in out if str(i.obj["id"]) == str(scope)]
            if filter_artifacts:
                ids = {a.get("id") if isinstance(a, dict) else a for a in filter_artifacts}
                out = [i for i in out if i.obj["id"] in ids]
            if tags:
                out = [i for i in out if set(tags) & set(i.obj.get("tags") or [])]
        if dp.filtered is not None:
            f = self.filtered.get(dp.filtered)
            out = [i for i in out if f is not None and i.ref in f.refs]
        return out

    def _items(self, dp: Datapath, action_results: Any) -> list[Item]:
        if dp.kind == "artifact":
            return [Item(("artifact", a["id"]), a) for a in self.box.artifact_dicts()]
        if dp.kind == "container":
            return [Item(("container",), self.box.container_dict())]
        if dp.kind == "input":
            return [Item(("input", dp.block, k), v) for k, v in enumerate(self.inputs.get(dp.block, []))]
        if dp.kind == "result":
            runs = self.block_results(dp.block, action_results)
            return [Item(("result", dp.block, i, j), ar) for i, run in enumerate(runs)
                    for j, ar in enumerate(run.get("action_results") or [])]
        if dp.kind == "format":
            text, rows = self.formats.get(dp.block, (None, []))
            values: list[Any] = rows if dp.path[:1] == ("*",) else ([] if text is None else [text])
        elif dp.kind == "custom":
            raw = self.run_data.get(f"{dp.block}:{dp.path[0]}", "")
            v = json.loads(raw) if isinstance(raw, str) and raw else (raw if raw != "" else None)
            values = v if isinstance(v, list) else ([] if v is None else [v])
        else:  # a child playbook's output
            b = self.blocks.get(dp.block)
            v = b.outputs.get(dp.path[0]) if b is not None else None
            values = v if isinstance(v, list) else ([] if v is None else [v])
        return [Item((dp.kind, dp.block, k), v) for k, v in enumerate(values)]

    def block_results(self, block: str, action_results: Any = None) -> list[dict[str, Any]]:
        """A block's app runs: from the callback's `action_results` when they are that block's, else the run's."""
        if isinstance(action_results, list):
            given = [r for r in action_results if isinstance(r, dict) and r.get("name") == block]
            if given:
                return given
        b = self.blocks.get(block)
        return b.results if b is not None else []

    @staticmethod
    def values(dp: Datapath, item: Item) -> list[Any]:
        """The values of `dp` in one item."""
        if dp.kind in ("artifact", "container", "result"):
            return walk(item.obj, dp.path)
        if dp.kind == "format" and dp.path[:1] == ("*",):
            return walk(item.obj, dp.path[1:])
        if dp.kind in ("custom", "output"):
            return walk(item.obj, dp.path[1:])
        return walk(item.obj, dp.path)

    def collect2(self, datapaths: list[str], *, action_results: Any = None, filter_artifacts: Any = None,
                 tags: list[str] | None = None, scope: Any = None, limit: int | None = None) -> list[list[Any]]:
        """Rows of values, one column per datapath.

        Raises:
            PhantomError: an entry is not a datapath.
        """
        parsed = []
        for raw in datapaths:
            dp = parse(raw)
            if dp is None:
                raise PhantomError(f"collect2: {raw!r} is not a datapath")
            parsed.append(dp)
        groups: dict[tuple[str, str, str | None], list[int]] = {}
        for n, dp in enumerate(parsed):
            groups.setdefault((dp.kind, dp.block, dp.filtered), []).append(n)
        per_group: list[tuple[list[int], list[list[Any]]]] = []
        for cols in groups.values():
            first = parsed[cols[0]]
            rows: list[list[Any]] = []
            for item in self.items(first, action_results=action_results, scope=scope,
                                   filter_artifacts=filter_artifacts, tags=tags):
                rows.extend(_rows([self.values(parsed[c], item) for c in cols]))
            per_group.append((cols, rows))
        out: list[list[Any]] = []
        for combo in zip_longest(*(rows for _, rows in per_group)):
            row: list[Any] = [None] * len(parsed)
            for (cols, _), part in zip(per_group, combo, strict=True):
                for c, v in zip(cols, part or [None] * len(cols), strict=True):
                    row[c] = v
            out.append(row)
        return out[: limit or DEFAULT_LIMIT]
