"""Charts as inline SVG, drawn on the server from the metrics (no chart library, nothing fetched, no script).

Pure functions returning markup: each chart has a `<title>` and a `<desc>` for screen readers (the page also
gives the figures as a table), colours come from console.css classes (`.s0`, `.s1`, ...), and the view box
scales to the page's width, from a phone to a wide screen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from api.report import fmt_duration
from core.metrics import quantile

W, H = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 52, 28, 44
MAX_X_LABELS = 10


def _id(title: str) -> str:
    return "c-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]


def _svg(title: str, desc: str, body: str, height: int = H) -> Markup:
    cid = _id(title)
    markup = (f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="{cid}-t {cid}-d" '
              f'preserveAspectRatio="xMidYMid meet"><title id="{cid}-t">{escape(title)}</title>'
              f'<desc id="{cid}-d">{escape(desc)}</desc>{body}</svg>')
    # Safe: every text in `body` went through `escape` (see `_text`); the rest are numbers formatted here.
    return Markup(markup)  # noqa: S704


def nice_max(v: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `v` (1 for nothing)."""
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    return next(m * exp for m in (1, 2, 5, 10) if m * exp >= v)


def _text(x: float, y: float, s: str, cls: str = "", anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{escape(s)}</text>'


def _legend(names: Sequence[str], extra: str | None = None) -> str:
    out: list[str] = []
    x = float(LEFT)
    for i, name in enumerate(names):
        out.append(f'<rect x="{x}" y="6" width="10" height="10" class="s{i}"/>'
                   + _text(x + 14, 15, name, "lg", "start"))
        x += 24 + 6.2 * len(name)
    if extra:
        out.append(f'<line x1="{x}" y1="11" x2="{x + 14}" y2="11" class="ln"/>'
                   + _text(x + 18, 15, extra, "lg", "start"))
    return "".join(out)


def _y_axis(top: float, fmt: Callable[[float], str], right: bool = False) -> str:
    x = W - RIGHT if right else LEFT
    out = []
    for i in range(5):
        y = H - BOTTOM - (H - BOTTOM - TOP) * i / 4
        if not right:
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" class="grid"/>')
        out.append(_text(x + (6 if right else -6), y + 4, fmt(top * i / 4), "tick", "start" if right else "end"))
    return "".join(out)


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> str:
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    last = len(labels) - 1
    shown = {i for i in range(0, len(labels), step)}
    if last not in shown:  # the latest day is always labelled; the regular label before it makes room
        shown.discard(last - last % step)
        shown.add(last)
    return "".join(_text(x, H - BOTTOM + 16, lab, "tick") for i, (lab, x) in enumerate(zip(labels, xs, strict=True))
                   if i in shown)


def _count(v: float) -> str:
    return f"{v:g}" if v != int(v) else str(int(v))


def bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
         share: tuple[str, Sequence[float | None]] | None = None, fmt: Callable[[float], str] = _count) -> Markup:
    """Stacked bars per label (one colour per series), with an optional share (0..1) drawn as a line against
    a 0-100 % axis on the right."""
    n = max(1, len(labels))
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top = nice_max(max(totals, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / n
    xs = [LEFT + slot * (i + 0.5) for i in range(len(labels))]
    body = [_legend([s[0] for s in series], share[0] if share else None), _y_axis(top, fmt)]
    for i, x in enumerate(xs):
        y = float(H - BOTTOM)
        for k, (name, values) in enumerate(series):
            h = plot_h * values[i] / top
            if h > 0:
                body.append(f'<rect x="{x - slot * 0.35:.1f}" y="{y - h:.1f}" width="{slot * 0.7:.1f}" '
                            f'height="{h:.1f}" class="s{k}"><title>{escape(labels[i])}: {escape(name)} '
                            f'{escape(fmt(values[i]))}</title></rect>')
            y -= h
    if share:
        body.append(_y_axis(1.0, lambda v: f"{v:.0%}", right=True))
        pts = [(x, H - BOTTOM - plot_h * v) for x, v in zip(xs, share[1], strict=True) if v is not None]
        if pts:
            body.append('<polyline class="ln" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="pt"/>' for x, y in pts]
    body.append(_x_labels(labels, xs))
    desc = "; ".join(f"{lab}: " + ", ".join(f"{s[0]} {fmt(s[1][i])}" for s in series)
                     for i, lab in enumerate(labels) if totals[i])[:1500] or "no data in this period"
    return _svg(title, desc, "".join(body))


def line(title: str, labels: Sequence[str], values: Sequence[float], name: str,
         fmt: Callable[[float], str] = _count) -> Markup:
    """One series as a line with points (e.g. cumulative time saved)."""
    top = nice_max(max(values, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(1, len(values) - 1)
    pts = [(LEFT + plot_w * i / n, H - BOTTOM - plot_h * v / top) for i, v in enumerate(values)]
    body = [_legend([], name), _y_axis(top, fmt)]
    if pts:
        body.append('<polyline class="ln" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    body.append(_x_labels(labels, [p[0] for p in pts]))
    desc = f"{name}: " + (", ".join(f"{lab} {fmt(v)}" for lab, v in zip(labels, values, strict=True)) or "no data")
    return _svg(title, desc[:1500], "".join(body))


def boxes(title: str, groups: dict[str, list[float]]) -> Markup:
    """Horizontal box plots of durations per group: whiskers min-max, box 25-75 %, a mark at the median."""
    rows = max(1, len(groups))
    height = TOP + BOTTOM + 34 * rows
    left = 190
    top = nice_max(max((max(v) for v in groups.values() if v), default=0))
    plot_w = W - left - 24
    x = lambda v: left + plot_w * v / top  # noqa: E731 - a scale, read like one
    body = []
    for i in range(5):
        gx = left + plot_w * i / 4
        body.append(f'<line x1="{gx:.1f}" y1="{TOP - 8}" x2="{gx:.1f}" y2="{height - BOTTOM + 4}" class="grid"/>')
        body.append(_text(gx, height - BOTTOM + 20, fmt_duration(top * i / 4), "tick"))
    descs = []
    for r, (name, vals) in enumerate(groups.items()):
        y = TOP + 34 * r + 12
        lo, q1, med, q3, hi = (quantile(vals, q) for q in (0, 0.25, 0.5, 0.75, 1))
        body.append(_text(left - 8, y + 4, name, "tick", "end"))
        body.append(f'<line x1="{x(lo):.1f}" y1="{y}" x2="{x(hi):.1f}" y2="{y}" class="wh"/>')
        body.append(f'<rect x="{x(q1):.1f}" y="{y - 9}" width="{max(1.5, x(q3) - x(q1)):.1f}" height="18" class="s0">'
                    f'<title>{escape(name)}: median {fmt_duration(med)}, {len(vals)} runs</title></rect>')
        body.append(f'<line x1="{x(med):.1f}" y1="{y - 11}" x2="{x(med):.1f}" y2="{y + 11}" class="md"/>')
        descs.append(f"{name}: {len(vals)} runs, min {fmt_duration(lo)}, median {fmt_duration(med)}, "
                     f"max {fmt_duration(hi)}")
    return _svg(title, "; ".join(descs)[:1500] or "no finished runs in this period", "".join(body), height)


def short(seconds: float) -> str:
    """`45s`, `5m`, `1h 30m`: a bucket edge."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    h, m = divmod(s // 60, 60)
    return f"{h}h {m}m" if h and m else f"{h}h" if h else f"{m}m"


def histogram(title: str, values: Sequence[float], edges: Sequence[float], name: str) -> Markup:
    """Counts of `values` in the buckets between `edges` (seconds; the last bucket is open)."""
    labels = [f"< {short(edges[0])}"] + [f"{short(a)}-{short(b)}" for a, b in zip(edges, edges[1:], strict=False)] \
        + [f"> {short(edges[-1])}"]
    counts = [0.0] * len(labels)
    for v in values:
        counts[sum(v >= e for e in edges)] += 1
    return bars(title, labels, [(name, counts)])
