"""Artifact provenance from the e-mail parser: where each value was found, and which Received hops count as
added by our own relays (only a chain of them from the top; never a name the sender chose).

The workflow side refuses to act on a `received_header` IP without an approval; these tests pin down what
the parser hands it. The last test runs the real API: the route passes the guardrails file's relays.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from api.ingest import parse_email, parse_splunk_body
from core.models import Artifact, Container
from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack

DATA = Path(__file__).resolve().parent.parent / "data" / "email"
EML = (DATA / "phishing_multipart.eml").read_bytes()
RELAYS = ("mail.corp.example", "10.20.0.0/24")  # the demo's MX host name and its internal relay network
# A hop a phisher writes below the real ones: it looks like any other Received header.
FORGED = b"Received: from [198.51.100.66] (helo=mail.northwind-payments.example) by smtp.northwind-payments.example\r\n" \
         b"\twith ESMTP; Tue, 07 May 2024 09:13:50 +0000\r\n"


def origin(c: Container) -> tuple[str, str | None]:
    a = next(a for a in c.artifacts if a.name == "Originating IP")
    return a.cef["sourceAddress"], a.provenance


def with_bottom_hop(raw: bytes, hop: bytes) -> bytes:
    """`raw` with `hop` added after its last Received header (the earliest, the one the sender writes)."""
    head, sep, body = raw.partition(b"\nFrom: ")
    return head + b"\n" + hop.rstrip(b"\r\n").replace(b"\r\n", b"\n") + sep + body


def test_every_artifact_says_where_it_came_from(tmp_path: Path) -> None:
    c = parse_email(EML, store_dir=tmp_path).container
    by_name = {(a.name, a.provenance) for a in c.artifacts}
    assert by_name == {("Email headers", "sender"), ("Sender", "sender"), ("Reply-To", "sender"),
                       ("Originating IP", "received_header"), ("Attachment", "attachment"), ("URL", "body"),
                       ("Domain", "url")}
    assert all(a.provenance for a in c.artifacts)


def test_hops_added_by_our_relays_are_trusted(tmp_path: Path) -> None:
    # mail.corp.example wrote the top hop; its client 10.20.0.15 (mx1) is a trusted relay, so the hop mx1
    # wrote is ours too: it names 198.51.100.23 as the client that handed us the message.
    c = parse_email(EML, store_dir=tmp_path, trusted_relays=RELAYS).container
    assert origin(c) == ("198.51.100.23", "received_header_trusted")


def test_a_forged_bottom_hop_is_never_trusted(tmp_path: Path) -> None:
    raw = with_bottom_hop(EML, FORGED)
    for relays in ((), RELAYS):
        c = parse_email(raw, store_dir=tmp_path, trusted_relays=relays).container
        assert origin(c) == ("198.51.100.66", "received_header"), relays


def test_trust_follows_client_ips_never_names(tmp_path: Path) -> None:
    # The sender HELOs as our relay: the top hop (ours) records its real address, so the chain stops there.
    hops = (b"Received: from mx1.corp.example (unknown [198.51.100.5]) by mail.corp.example with ESMTP;\r\n"
            b"\tTue, 07 May 2024 09:14:03 +0000\r\n"
            b"Received: from [203.0.113.77] by mx1.corp.example with ESMTP; Tue, 07 May 2024 09:14:00 +0000\r\n")
    raw = hops + b"From: a@sender.example\r\nSubject: s\r\n\r\nbody\r\n"
    c = parse_email(raw, store_dir=tmp_path, trusted_relays=RELAYS).container
    assert origin(c) == ("203.0.113.77", "received_header")
    only_top = parse_email(hops.split(b"Received: from [203")[0] + b"From: a@sender.example\r\n\r\nx\r\n",
                           store_dir=tmp_path, trusted_relays=RELAYS).container
    assert origin(only_top) == ("198.51.100.5", "received_header_trusted")


def test_no_trust_when_the_top_hop_is_not_ours(tmp_path: Path) -> None:
    raw = (b"Received: from out.sender.example (out.sender.example [198.51.100.23]) by mx.elsewhere.example;\r\n"
           b"\tTue, 07 May 2024 09:14:03 +0000\r\nFrom: a@sender.example\r\n\r\nbody\r\n")
    assert origin(parse_email(raw, store_dir=tmp_path, trusted_relays=RELAYS).container) == (
        "198.51.100.23", "received_header")


def test_x_originating_ip_header(tmp_path: Path) -> None:
    raw = b"From: a@sender.example\r\nX-Originating-IP: [185.220.101.7]\r\nSubject: s\r\n\r\nbody\r\n"
    assert origin(parse_email(raw, store_dir=tmp_path).container) == ("185.220.101.7", "originating_ip_header")


def test_splunk_and_api_artifacts_carry_no_provenance() -> None:
    body = {"result": {"src": "198.51.100.77", "dest": "10.2.2.9", "user": "jdoe"}, "sid": "s1",
            "search_name": "Access - Brute Force - Rule"}
    parsed = parse_splunk_body(json.dumps(body).encode())
    assert parsed.container.artifacts and all(a.provenance is None for a in parsed.container.artifacts)
    assert Artifact(name="a", cef={"sourceAddress": "198.51.100.7"}).provenance is None
    with pytest.raises(ValueError):
        Artifact(name="a", provenance="Received Header")  # lower-case words only


async def test_the_route_passes_the_guardrails_files_relays(dev_env, task_queue, assets_file, sim, tmp_path):
    rails = tmp_path / "guardrails.json"
    rails.write_text(json.dumps({"trusted_relays": list(RELAYS)}))
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data", "guardrails_file": rails})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                sent = {}
                # A header of this run's own: the same bytes would be a duplicate of another test's container
                # (content decides), whose workflow lives on a task queue no worker serves any more.
                unique = f"X-Test-Run: {uuid.uuid4()}\n".encode()
                for name, raw in (("real", unique + EML), ("forged", unique + with_bottom_hop(EML, FORGED))):
                    r = await api.post("/api/v1/ingest/email", content=raw,
                                       headers={**auth("automation"), "content-type": "message/rfc822"})
                    assert r.status_code == 202, r.text
                    v = (await api.get(f"/api/v1/containers/{r.json()['container_id']}",
                                       headers=auth("tier1"))).json()
                    sent[name] = origin(Container.model_validate(v["state"]["container"]))
    assert sent == {"real": ("198.51.100.23", "received_header_trusted"),
                    "forged": ("198.51.100.66", "received_header")}
