"""The console's SVG charts: well-formed, labelled for screen readers, every text escaped, sane scales."""

from __future__ import annotations

from xml.etree import ElementTree

from api.console.charts import bars, boxes, histogram, line, nice_max, short

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_charts_are_well_formed_labelled_and_escaped():
    evil = "<script>alert(1)</script> & co"
    charts = [
        bars("Runs per day", ["Aug 20", evil], [("auto", [1, 2]), (evil, [0, 3])], share=("share", [0.5, None])),
        boxes("Durations", {evil: [1.0, 2.0, 30.0], "quick": [0.5]}),
        histogram("Responses", [5, 70, 1000], [60, 120, 300], "answered"),
        line("Saved", ["a", "b", "c"], [0.0, 1.5, 2.0], "hours"),
    ]
    for svg in charts:
        assert "<script>" not in svg
        root = parse(svg)
        title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
        assert root.get("role") == "img" and title is not None and desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "&lt;script&gt;" in charts[0]


def test_scales_and_labels():
    assert [nice_max(v) for v in (0, 0.3, 1, 3, 7, 12, 480)] == [1.0, 0.5, 1, 5, 10, 20, 500]
    assert [short(s) for s in (45, 60, 300, 5400, 7200)] == ["45s", "1m", "5m", "1h 30m", "2h"]
    root = parse(histogram("Responses", [5, 70, 1000], [60, 120, 300], "answered"))
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert {"< 1m", "1m-2m", "2m-5m", "> 5m"} <= set(labels)
    many = parse(bars("Days", [f"d{i}" for i in range(30)], [("runs", [1.0] * 30)]))
    shown = [t.text for t in many.iter(f"{NS}text") if (t.text or "").startswith("d")]
    assert "d0" in shown and "d29" in shown and len(shown) <= 11  # readable: at most ~10 day labels
