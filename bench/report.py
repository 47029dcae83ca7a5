"""The printed table: every figure next to its same-run baseline, the ratio and the target."""

from __future__ import annotations

from bench.common import Row, Section


def fmt(v: float | None, unit: str = "") -> str:
    """A figure with its unit, or '-'."""
    if v is None:
        return "-"
    if abs(v) >= 100 or float(v).is_integer():
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return f"{s} {unit}".rstrip()


def status(r: Row) -> str:
    """MET / MISSED / '' (no target)."""
    if r.met is None:
        return ""
    return "MET" if r.met else "MISSED"


def render(sections: list[Section]) -> str:
    """The whole table as text."""
    head = ("metric", "SOAR", "baseline (same run)", "ratio", "target", "")
    lines: list[tuple[str, ...]] = []
    for s in sections:
        lines.append((f"[{s.name}]  ({s.seconds:.0f}s)", "", "", "", "", ""))
        for r in s.rows:
            base = f"{fmt(r.baseline, r.unit)}  {r.baseline_label}".strip() if r.baseline is not None else \
                r.baseline_label
            ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
            lines.append(("  " + r.metric, fmt(r.value, r.unit), base, ratio, r.target, status(r)))
            if r.note:
                lines.append(("    " + r.note, "", "", "", "", ""))
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    widths[0] = min(widths[0], 70)
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
           "  ".join("-" * w for w in widths)]
    for ln in lines:
        if ln[1:] == ("", "", "", "", ""):
            out.append(ln[0])
        else:
            out.append("  ".join(c.ljust(w) for c, w in zip(ln, widths, strict=True)).rstrip())
    missed = [r for s in sections for r in s.rows if r.met is False]
    failed = [s.name for s in sections if "FAILED" in s.name]
    out.append("")
    if failed:
        out.append(f"Scenarios that failed (traceback on stderr): {', '.join(failed)}")
    if missed:
        out.append("Targets missed: " + "; ".join(f"{r.section} / {r.metric}" for r in missed)
                   + " (why and what would close them: the README's Performance section)")
    elif not failed:
        out.append("Every target with a threshold was met.")
    return "\n".join(out)
