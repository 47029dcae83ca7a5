"""Real phishing and spam (../shared/corpus/emails, 141 messages from public corpora) parsed as the HTTP route does.

For every message: no exception escapes (a container, or an IngestError the route answers with 422), the
container and its notes serialise within `CONTAINER_BUDGET_BYTES`, and URLs, attachment SHA-256s and the sender
match an independent reading (`tests/api/mail_oracle.py`: stdlib `email` and `html.parser` only). Every place
where the two readings differ is listed in KNOWN with the reason; a new difference fails, and so does a listed
one that went away (remove it). The messages are not copied into the repository: without the folder (a user's
clone) the test is skipped.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from api.ingest import IngestError, parse_email
from api.ingest.limits import CONTAINER_BUDGET_BYTES
from core.models import Container
from core.settings import get_settings
from tests.api.mail_oracle import normalise, read

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "emails"
MANIFEST = CORPUS / "MANIFEST.tsv"

# Why the readings differ, by kind (each is the product reading more than the naive one, on purpose).
WWW = "scheme-less www. name in text (finding 10); the oracle's text regex needs a scheme"
HTML_TEXT = ("URL written in HTML text or CSS (link text, `url(...)`, an unterminated href); the oracle reads "
             "only link attributes")
BROKEN_MIME = ("the MIME structure is broken (boundary never used, or its quote unterminated); compat32 gives up "
               "and its multipart/* leaf counts as one 'attachment', while the product reads the text (and "
               "finds the tree when only the quote is missing)")
COMMA_NAME = "unquoted display name with a comma (`Name ,_<addr>`); parseaddr gives up, mail clients show addr"
COMMENT_ADDR = ("address only inside a comment (`\"x@y\" (<real@addr>)`, finding 6); parseaddr takes the quoted "
                "local part")
TWO_ADDRS = "two addresses without a comma in From; parseaddr gives up, the product takes the first"

KNOWN: dict[tuple[str, str], str] = {
    ("emlparser-sample_body_data.eml", "urls only in product"): WWW,
    ("emlparser-sample_body_noscheme_url.eml", "urls only in product"): WWW,
    ("emlparser-sample_large.eml", "urls only in product"): WWW,
    ("pot-sample-1743.eml", "sender"): COMMA_NAME,
    ("pot-sample-1763.eml", "urls only in product"): WWW,
    ("pot-sample-1763.eml", "sender"): COMMA_NAME,
    ("pot-sample-2202.eml", "sender"): COMMA_NAME,
    ("pot-sample-2292.eml", "sender"): COMMA_NAME,
    ("pot-sample-2408.eml", "sender"): COMMA_NAME,
    ("pot-sample-2430.eml", "sender"): COMMA_NAME,
    ("pot-sample-2665.eml", "sender"): COMMA_NAME,
    ("pot-sample-2711.eml", "sender"): COMMENT_ADDR,
    ("pot-sample-398.eml", "urls only in product"): WWW,
    ("pot-sample-398.eml", "attachments only in oracle"): BROKEN_MIME,
    ("pot-sample-398.eml", "attachments only in product"): BROKEN_MIME,
    ("pot-sample-4091.eml", "urls only in product"): HTML_TEXT,
    ("pot-sample-5517.eml", "urls only in product"): HTML_TEXT,
    ("pot-sample-6290.eml", "urls only in product"): HTML_TEXT,
    ("rubymail-emails_error_emails_cant_parse_from.eml", "urls only in product"): HTML_TEXT,
    ("rubymail-emails_plain_emails_raw_email_multiple_from.eml", "sender"): TWO_ADDRS,
    ("sa-spam_015.eml", "urls only in product"): BROKEN_MIME,
    ("sa-spam_015.eml", "attachments only in oracle"): BROKEN_MIME,
    ("sa-spam_badmime2.txt.eml", "urls only in product"): BROKEN_MIME,
    ("sa-spam_badmime2.txt.eml", "attachments only in oracle"): BROKEN_MIME,
    ("sa-spam_badmime3.txt.eml", "urls only in product"): BROKEN_MIME,
    ("sa-spam_badmime3.txt.eml", "attachments only in oracle"): BROKEN_MIME,
    ("spamscope-mail_malformed_3.eml", "attachments only in oracle"): BROKEN_MIME,
    ("spamscope-mail_test_2.eml", "urls only in product"): HTML_TEXT,
    ("spamscope-mail_test_4.eml", "urls only in product"): WWW,
    ("spamscope-mail_test_5.eml", "urls only in product"): WWW,
    ("spamscope-mail_test_7.eml", "urls only in product"): WWW,
}
# Not e-mails at all: the route answers 422 (the reason is the IngestError's message).
NOT_MAIL = {"pot-sample-2024.eml": "47-byte fragment", "pot-sample-2227.eml": "empty file",
            "spamscope-mail_outlook_1.eml": "an Outlook .msg (OLE2), not RFC 822"}


def manifest() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ENTRIES = manifest()
pytestmark = pytest.mark.skipif(not ENTRIES, reason=f"the shared e-mail corpus is not here ({CORPUS}); "
                                                    "it is kept outside the repository")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus-raw")


def as_route(raw: bytes, store: Path):
    """What POST /api/v1/ingest/email does with the body: 422 for empty, else parse_email with its settings."""
    if not raw:
        raise IngestError("body", "empty; send the raw message (Content-Type: message/rfc822)")
    return parse_email(raw, store_dir=store, max_artifacts=get_settings().api_max_artifacts)


def disagreements(raw: bytes, container: Container) -> dict[str, object]:
    oracle = read(raw)
    urls = {normalise(a.cef["requestURL"]) for a in container.artifacts if "requestURL" in a.cef}
    hashes = {a.cef["fileHashSha256"] for a in container.artifacts if "fileHashSha256" in a.cef}
    sender = next((a.cef["fromEmail"].lower() for a in container.artifacts if a.name == "Sender"), "")
    out: dict[str, object] = {
        "urls only in oracle": sorted(oracle.urls - urls),
        "urls only in product": sorted(u for u in urls - oracle.urls if u),
        "attachments only in oracle": sorted(oracle.attachments - hashes),
        "attachments only in product": sorted(hashes - oracle.attachments),
        "sender": (oracle.sender, sender) if oracle.sender != sender else None,
    }
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_message(entry: dict[str, str], store: Path):
    raw = (CORPUS / entry["file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"], "the corpus file differs from its MANIFEST entry"
    try:
        parsed = as_route(raw, store)
    except IngestError as e:
        assert entry["file"] in NOT_MAIL, f"422 for a real message: {e}"
        assert e.field == "body" and e.message
        return
    assert entry["file"] not in NOT_MAIL
    c = parsed.container
    assert parsed.size() <= CONTAINER_BUDGET_BYTES
    assert Container.model_validate_json(c.model_dump_json()) == c
    found = disagreements(raw, c)
    known = {kind for (name, kind) in KNOWN if name == entry["file"]}
    assert set(found) == known, f"new or fixed differences (update KNOWN): {found}"


def test_known_differences_name_corpus_files():
    files = {e["file"] for e in ENTRIES}
    assert {name for name, _ in KNOWN} | set(NOT_MAIL) <= files
