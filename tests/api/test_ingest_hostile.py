"""The hostile corpus (tests/api/hostile.py) through both parsers: bounded time, bounded memory, no escaping error.

Time is judged against normal messages parsed in the same run (so a slow or busy machine moves both): the
budget of a hostile message is TIME_FACTOR times what a normal one of its size costs, measured as a fixed part
(a small phish) plus a per-byte part (a 1 MB newsletter with links and an attachment), plus PARTS_FACTOR times
a normal message with as many parts as the parser reads (500 attachments): many parts cost per part, and the
part cap is what bounds that. Memory is the growth of the process's peak RSS while parsing (Linux: VmHWM, reset through
/proc/self/clear_refs), bounded by MEMORY_FACTOR times the input plus a fixed allowance.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.ingest import IngestError, parse_email, parse_splunk_body
from api.ingest.limits import CONTAINER_BUDGET_BYTES, MAX_ARTIFACTS
from tests.api.hostile import EMAILS, splunk_bodies

TIME_FACTOR = 12
PARTS_FACTOR = 3
MEMORY_FACTOR = 40
MEMORY_ALLOWANCE_KB = 96 * 1024
NORMAL = Path(__file__).resolve().parent.parent / "data" / "email" / "phishing_multipart.eml"
# Each case must still find what it hides, where it can (the rest only have to stay bounded).
EXPECTED_URLS = {"deep_multipart": set(), "from_parens": {"http://p.example/"},
                 "giant_content_type": {"http://ct.example/"}, "html_comments": set(),
                 "quoted_printable_soft_breaks": {"http://qp.example/"}, "html_unclosed_tags": {"http://u.example/"}}


def newsletter(size: int = 1_000_000) -> bytes:
    """A normal, large HTML mail: paragraphs with a link each, and a 256 KB attachment."""
    para = ('<p>Dear customer, our spring catalogue is out. Read more on <a href="https://shop{0}.example/'
            'items?id={0}&amp;ref=mail">our shop</a> or call us.</p>\r\n')
    html = "".join(para.format(i) for i in range(size // 2 // len(para)))
    att = base64.encodebytes(bytes(range(256)) * 1024).decode()
    return (f"From: News <news@shop.example>\r\nTo: b@corp.example\r\nSubject: Spring\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=n\r\n\r\n--n\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            f"{html}\r\n--n\r\nContent-Type: application/pdf; name=cat.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{att}\r\n--n--\r\n").encode()


def attachments(n: int = 500) -> bytes:
    """A normal mail with as many parts as the parser reads by default (a folder of scanned receipts)."""
    parts = "".join(f"--n\r\nContent-Type: application/pdf; name=r{i}.pdf\r\nContent-Transfer-Encoding: base64\r\n"
                    f"\r\n{base64.b64encode(b'%%PDF-1.4 receipt %d' % i).decode()}\r\n" for i in range(n - 1))
    return (f"From: scan@corp.example\r\nSubject: receipts\r\nContent-Type: multipart/mixed; boundary=n\r\n\r\n"
            f"{parts}--n--\r\n").encode()


@dataclass
class Baseline:
    fixed: float
    per_byte: float
    parts: float

    def budget(self, size: int) -> float:
        return TIME_FACTOR * (self.fixed + self.per_byte * size) + PARTS_FACTOR * self.parts


def best_of(fn, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-raw")


@pytest.fixture(scope="module")
def baseline(store: Path) -> Baseline:
    small, large, many = NORMAL.read_bytes(), newsletter(), attachments()
    t_small = best_of(lambda: parse_email(small, store_dir=store))
    t_large = best_of(lambda: parse_email(large, store_dir=store))
    t_many = best_of(lambda: parse_email(many, store_dir=store, max_attachments=1000))
    return Baseline(t_small, max(t_large - t_small, 1e-6) / (len(large) - len(small)), t_many)


def _kb(field: str) -> int | None:
    try:
        m = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def reset_peak() -> int | None:
    """The current RSS in kB after resetting the peak, or None where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _kb("VmRSS")


def measure(fn, size: int, baseline: Baseline):
    """(outcome, seconds, peak growth in kB or None); a case over its time budget gets one more try."""
    for attempt in range(2):
        rss = reset_peak()
        t = time.perf_counter()
        try:
            outcome: object = fn()
        except IngestError as e:
            outcome = e
        took = time.perf_counter() - t
        peak = _kb("VmHWM")
        grown = peak - rss if rss is not None and peak is not None else None
        if took <= baseline.budget(size) or attempt:
            return outcome, took, grown


def check_bounds(name: str, size: int, took: float, grown: int | None, baseline: Baseline) -> None:
    assert took <= baseline.budget(size), (
        f"{name}: {took:.2f}s for {size} bytes; the budget from normal messages in this run is "
        f"{baseline.budget(size):.3f}s ({baseline})")
    if grown is not None:
        assert grown <= MEMORY_FACTOR * size // 1024 + MEMORY_ALLOWANCE_KB, f"{name}: peak RSS grew {grown} kB"


@pytest.mark.parametrize("name", list(EMAILS))
def test_hostile_email(name: str, store: Path, baseline: Baseline):
    raw = EMAILS[name]()
    outcome, took, grown = measure(lambda: parse_email(raw, store_dir=store), len(raw), baseline)
    check_bounds(name, len(raw), took, grown, baseline)
    if isinstance(outcome, IngestError):
        assert outcome.field and outcome.message
        return
    c = outcome.container  # type: ignore[attr-defined]
    assert len(c.artifacts) <= MAX_ARTIFACTS and outcome.size() <= CONTAINER_BUDGET_BYTES  # type: ignore[attr-defined]
    if name in EXPECTED_URLS:
        assert {a.cef["requestURL"] for a in c.artifacts if "requestURL" in a.cef} >= EXPECTED_URLS[name]


SPLUNK = dict(splunk_bodies())
SPLUNK_422 = {"deep_array", "deep_result", "huge_int", "bad_utf8"}


@pytest.mark.parametrize("name", list(SPLUNK))
def test_hostile_splunk(name: str, baseline: Baseline):
    body = SPLUNK[name]
    outcome, took, grown = measure(lambda: parse_splunk_body(body), len(body), baseline)
    check_bounds(name, len(body), took, grown, baseline)
    if name in SPLUNK_422:
        assert isinstance(outcome, IngestError) and outcome.field == "body"
    else:
        assert not isinstance(outcome, IngestError)
        assert outcome.size() <= CONTAINER_BUDGET_BYTES  # type: ignore[attr-defined]
