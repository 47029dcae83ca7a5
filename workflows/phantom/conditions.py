"""`condition` / `decision` and `format` / `get_format_data` over datapaths.

A condition `[left, operator, right]` compares a datapath's values (or a literal) with a literal (or
another datapath's values). Each side's datapath ranges over its items (artifacts, action results, input
values, ...); an item matches when any of its values satisfies the comparison. Two datapaths of the same
items compare item by item; of different items, position by position. `or` joins the matches, `and` keeps
the items every condition on their kind of item matched (and nothing if one condition matched nothing).

Comparisons: `==`, `!=`, `<`, `>`, `<=`, `>=` (numerically when both sides are numbers, "10" included),
`in` / `not in` (membership in a list, or a substring). A missing value equals `""` (so
`["artifact:*.cef.sourceAddress", "!=", ""]` means "has a source address"). `case_sensitive=False`
compares strings in lower case; `delimiter` (default `,`) splits artifact and input strings into values.

`format` fills `{0}`, `{1}`... with its datapaths' values joined by `separator` (default `", "`); a section
between `%%` markers repeats once per row. A value that is missing renders as `None` (dropped with
`drop_none=True`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from workflows.phantom.context import PhantomError
from workflows.phantom.datapaths import Datapath, Datapaths, Filtered, Item, Ref, parse

ORDER: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, ">": operator.gt, "<=": operator.le,
                                                ">=": operator.ge}
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d+)\}")


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def _equal(a: Any, b: Any) -> bool:
    a = "" if a is None else a
    b = "" if b is None else b
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return x == y
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return bool(a == b)


def _contains(haystack: Any, needle: Any) -> bool:
    if needle is None or haystack is None:
        return False
    if isinstance(haystack, list | tuple | set | dict):
        return needle in haystack or any(_equal(needle, h) for h in haystack)
    return str(needle) in str(haystack)


def compare(a: Any, op: str, b: Any, case_sensitive: bool = True) -> bool:
    """`a <op> b` as Splunk SOAR's conditions compare.

    Raises:
        PhantomError: an unknown operator.
    """
    op = str(op).strip().lower()
    if not case_sensitive:
        a, b = (a.lower() if isinstance(a, str) else a), (b.lower() if isinstance(b, str) else b)
    if op in ("==", "!="):
        return _equal(a, b) == (op == "==")
    if op in ("in", "not in"):
        return _contains(b, a) == (op == "in")
    if op in ORDER:
        x, y = _num(a), _num(b)
        if x is not None and y is not None:
            return ORDER[op](x, y)
        return isinstance(a, str) and isinstance(b, str) and ORDER[op](a, b)
    raise PhantomError(f"unknown condition operator {op!r}; use ==, !=, <, >, <=, >=, in or not in")


def _space(ref: Ref) -> tuple[Any, ...]:
    return ref[:2] if ref[0] in ("result", "input", "format", "custom", "output") else ref[:1]


class PhantomData(Datapaths):
    """Datapaths plus the decisions and text made from them (one per run)."""

    def _split(self, dp: Datapath, values: list[Any], delimiter: str | None) -> list[Any]:
        if not delimiter or dp.kind not in ("artifact", "input"):
            return values
        out: list[Any] = []
        for v in values:
            out.extend(p.strip() for p in v.split(delimiter)) if isinstance(v, str) and delimiter in v \
                else out.append(v)
        return out

    def _one(self, cond: Any, action_results: Any, scope: Any, case: bool, delimiter: str | None,
             filtered_artifacts: Any = None) -> tuple[set[Ref], bool | None]:
        """The items one condition matches (or its truth when both sides are literals)."""
        if not isinstance(cond, list | tuple) or len(cond) != 3:
            raise PhantomError(f"condition {cond!r}: expected [left, operator, right]")
        lhs, op, rhs = cond
        left, right = parse(lhs), parse(rhs)

        def items(dp: Datapath) -> list[Item]:
            return self.items(dp, action_results=action_results, scope=scope, filter_artifacts=filtered_artifacts)

        def vals(dp: Datapath, item: Item) -> list[Any]:
            return self._split(dp, self.values(dp, item), delimiter)

        def test(xs: list[Any], ys: list[Any]) -> bool:
            return any(compare(x, op, y, case) for x in xs for y in ys)

        if left is None and right is None:
            return set(), compare(lhs, op, rhs, case)
        matched: set[Ref] = set()
        if left is not None and right is not None:
            li, ri = items(left), items(right)
            if left.space == right.space:
                by_ref = {i.ref: i for i in ri}
                pairs = [(a, by_ref[a.ref]) for a in li if a.ref in by_ref]
            else:
                pairs = list(zip(li, ri, strict=False))
            for a, b in pairs:
                if test(vals(left, a), vals(right, b)):
                    matched |= {a.ref, b.ref}
            return matched, None
        dp, literal = (left, rhs) if left is not None else (right, lhs)
        assert dp is not None
        for item in items(dp):
            xs = vals(dp, item)
            if (test(xs, [literal]) if left is not None else test([literal], xs)):
                matched.add(item.ref)
        return matched, None

    def evaluate(self, conditions: list[Any], logical_operator: str, *, action_results: Any = None,
                 scope: Any = None, case_sensitive: bool = True, delimiter: str | None = ",",
                 filtered_artifacts: Any = None, filtered_results: Any = None) -> tuple[set[Ref], bool]:
        """The items the conditions match, and whether they hold at all (among `filtered_artifacts` and the
        results of `action_results`, else `filtered_results`, when given)."""
        results = action_results if action_results is not None else filtered_results
        parts = [self._one(c, results, scope, case_sensitive, delimiter, filtered_artifacts) for c in conditions]
        if str(logical_operator).strip().lower() != "and":
            refs = set().union(*(m for m, _ in parts)) if parts else set()
            return refs, bool(refs) or any(lit for _, lit in parts)
        if not parts or any(lit is False for _, lit in parts) or any(lit is None and not m for m, lit in parts):
            return set(), False
        spaces: dict[tuple[Any, ...], set[Ref] | None] = {}
        for m, lit in parts:
            if lit is not None:
                continue
            for sp in {_space(r) for r in m}:
                mine = {r for r in m if _space(r) == sp}
                known = spaces.get(sp)
                spaces[sp] = mine if known is None else known & mine
        refs = set().union(*(s for s in spaces.values() if s)) if spaces else set()
        return refs, bool(refs) or not spaces

    def decision(self, conditions: list[Any], logical_operator: str = "or", **kw: Any) -> bool:
        """Whether the conditions hold."""
        return self.evaluate(conditions, logical_operator, **kw)[1]

    def condition(self, conditions: list[Any], logical_operator: str = "or", *, name: str | None = None,
                  limit: int | None = None, **kw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(matched artifacts, matched results), saved under `name` for `filtered-data:<name>:...`."""
        refs, holds = self.evaluate(conditions, logical_operator, **kw)
        arts = self.box.artifact_dicts()
        if holds and not refs:  # literals only: every artifact passes
            refs = {("artifact", a["id"]) for a in arts}
        if name:
            self.filtered[name] = Filtered(refs=set(refs))
        matched_arts = [a for a in arts if ("artifact", a["id"]) in refs][: limit or None]
        results: list[dict[str, Any]] = []
        blocks = sorted({r[1] for r in refs if r[0] == "result"})
        for block in blocks:
            given = kw.get("action_results") if kw.get("action_results") is not None else kw.get("filtered_results")
            for i, run in enumerate(self.block_results(block, given)):
                items = [ar for j, ar in enumerate(run.get("action_results") or []) if ("result", block, i, j) in refs]
                if items:
                    results.append({**run, "action_results": items, "result_data": items})
        results += [{"playbook_input": r[1], "value": self.inputs.get(r[1], [])[r[2]]}
                    for r in sorted(refs, key=str) if r[0] == "input"]
        results += [{"datapath": r[0], "name": r[1] if len(r) > 1 else ""} for r in sorted(refs, key=str)
                    if r[0] in ("container", "format", "custom", "output")]
        return matched_arts, results

    # ---- format --------------------------------------------------------------------------------------
    def format(self, template: str, parameters: list[Any], *, name: str | None, scope: Any = None,
               separator: str | None = None, drop_none: bool = False, keep: bool = True,
               filter_artifact_ids: Any = None) -> str:
        """Fill the template (see the module docstring) and keep it under `name` (unless `keep` is False).

        Raises:
            PhantomError: the template uses more placeholders than there are parameters.
        """
        cols: list[list[Any]] = []
        for p in parameters:
            col = ([row[0] for row in self.collect2([p], scope=scope, filter_artifacts=filter_artifact_ids)]
                   if parse(p) is not None else [p])
            cols.append([v for v in col if v is not None] if drop_none else col)
        sep = ", " if separator is None else separator
        missing = "" if drop_none else "None"

        def fill(text: str, value: Callable[[int], str]) -> str:
            def sub(m: re.Match[str]) -> str:
                if m.group(1) is None:
                    return m.group(0)[0]
                k = int(m.group(1))
                if k >= len(cols):
                    raise PhantomError(f"format {name or ''}: the template uses {{{k}}} but {len(cols)} "
                                       "parameters were given")
                return value(k)
            return PLACEHOLDER.sub(sub, text)

        def joined(k: int) -> str:
            col = cols[k]
            return sep.join(str(v) for v in col) if col else missing

        def at(row: int) -> Callable[[int], str]:
            def value(k: int) -> str:
                col = cols[k]
                v = col[row] if row < len(col) else (col[0] if len(col) == 1 else None)
                return missing if v is None else str(v)
            return value

        segments, out, rows = template.split("%%"), [], []
        for n, seg in enumerate(segments):
            if n % 2 == 0 or n == len(segments) - 1:
                out.append(fill(seg, joined))
                continue
            body = seg.strip("\n")
            used = [int(k) for k in re.findall(r"\{(\d+)\}", body) if int(k) < len(cols)]
            lines = [fill(body, at(r)) for r in range(max((len(cols[k]) for k in used), default=1))]
            rows.extend(lines)
            # the newlines around the %% markers are the markers' lines, unless the text would run together
            lead = "\n" if seg.startswith("\n") and out and not out[-1].endswith("\n") else ""
            after = segments[n + 1]
            out.append(lead + "\n".join(lines) + ("\n" if seg.endswith("\n") and not after.startswith("\n") else ""))
        text = "".join(out)
        if keep:
            self.formats[name or f"format_{len(self.formats) + 1}"] = (text, rows or [text])
        return text

    def format_data(self, name: str) -> Any:
        """A format block's text, or its rows for `<name>__as_list`; None when it has not run."""
        base, as_list = (name[:-9], True) if name.endswith("__as_list") else (name, False)
        found = self.formats.get(base)
        if found is None:
            return None
        return list(found[1]) if as_list else found[0]
