"""Looking for secrets and plaintext: every payload of a history (raw and decoded), every secret we configure."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from google.protobuf.message import Message
from pydantic import BaseModel, SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory

from activities import discover_connectors
from core.codec import EncryptionCodec, PayloadDecryptionError
from core.config.assets import load_assets
from simulator import credentials
from simulator.credentials import DEMO_ENV
from tests.helpers.api import TOKENS


def iter_payloads(msg: Message) -> Iterator[Payload]:
    """Every `Payload` anywhere inside a protobuf message (maps and repeated fields included)."""
    for fd, value in msg.ListFields():
        if fd.type != fd.TYPE_MESSAGE:
            continue
        if fd.message_type.GetOptions().map_entry:
            vfd = fd.message_type.fields_by_name["value"]
            children: Iterable[Any] = value.values() if vfd.type == vfd.TYPE_MESSAGE else ()
        elif fd.is_repeated:
            children = value
        else:
            children = (value,)
        for child in children:
            if isinstance(child, Payload):
                yield child
            else:
                yield from iter_payloads(child)


@dataclass
class HistoryDump:
    """One workflow history in every form a secret could hide in."""

    workflow_id: str
    run_id: str
    raw_json: str
    raw_bytes: bytes
    payload_data: list[bytes] = field(default_factory=list)  # data (and metadata) of each payload, as stored
    decoded_data: list[bytes] = field(default_factory=list)  # the same after decryption (encrypted ones only)
    encrypted: int = 0
    plain: int = 0

    def blobs(self) -> Iterator[tuple[str, bytes]]:
        """(where, bytes) for every form."""
        yield "history JSON", self.raw_json.encode()
        yield "history protobuf", self.raw_bytes
        for i, d in enumerate(self.payload_data):
            yield f"payload #{i}", d
        for i, d in enumerate(self.decoded_data):
            yield f"decrypted payload #{i}", d


def dump_history(history: WorkflowHistory, codec: EncryptionCodec | None) -> HistoryDump:
    """Serialize a history and pull out every payload, decrypting those the codec has a key for."""
    raw = b"".join(e.SerializeToString() for e in history.events)
    out = HistoryDump(history.workflow_id, history.run_id, history.to_json(), raw)
    for event in history.events:
        for p in iter_payloads(event):
            meta = b"\n".join(k.encode() + b"=" + v for k, v in p.metadata.items())
            out.payload_data.append(meta + b"\n" + p.data)
            if p.metadata.get("encoding") == b"binary/encrypted":
                out.encrypted += 1
                if codec is not None:
                    try:
                        inner = codec.decrypt_payload(p)
                    except PayloadDecryptionError:
                        continue
                    out.decoded_data.append(inner.data)
            else:
                out.plain += 1
    return out


async def all_histories(client: Client, codec: EncryptionCodec | None = None, query: str | None = None,
                        concurrency: int = 16) -> list[HistoryDump]:
    """Every workflow execution the server lists (all runs), fetched and dumped."""
    runs = [(wf.id, wf.run_id) async for wf in client.list_workflows(query)]
    sem = asyncio.Semaphore(concurrency)

    async def one(wid: str, rid: str) -> HistoryDump:
        async with sem:
            h = await client.get_workflow_handle(wid, run_id=rid).fetch_history()
        return dump_history(h, codec)

    return list(await asyncio.gather(*(one(w, r) for w, r in runs)))


def _secret_values(obj: Any) -> Iterator[tuple[str, str]]:
    if isinstance(obj, SecretStr):
        yield "", obj.get_secret_value()
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            for sub, v in _secret_values(getattr(obj, name)):
                yield f".{name}{sub}", v
    elif isinstance(obj, dict):
        for k, v in obj.items():
            for sub, s in _secret_values(v):
                yield f"[{k}]{sub}", s
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            for sub, s in _secret_values(v):
                yield f"[{i}]{sub}", s


# Set from the environment but not secret: Falcon's API client id is an identifier (a plain string field in
# Splunk SOAR's CrowdStrike app, unlike client_secret), shown by GET /api/v1/assets.
IDENTIFIERS = {"CS_CLIENT_ID"}


def configured_secrets(assets_file: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """label -> secret value: the simulator's demo credentials, every SecretStr of the example assets (resolved),
    the Basic-auth headers they make, the API tokens, and `extra`."""
    out: dict[str, str] = {f"env {k}": v for k, v in DEMO_ENV.items() if k not in IDENTIFIERS}
    out["PAN-OS API key"] = credentials.PAN_API_KEY
    out["CrowdStrike Basic"] = base64.b64encode(
        f"{credentials.CS_CLIENT_ID}:{credentials.CS_CLIENT_SECRET}".encode()).decode()
    out["ServiceNow Basic"] = base64.b64encode(
        f"{credentials.SNOW_USERNAME}:{credentials.SNOW_PASSWORD}".encode()).decode()
    for name, asset in load_assets(assets_file, discover_connectors()).items():
        for path, value in _secret_values(asset.settings):
            if value:
                out[f"asset {name}{path}"] = value
    out.update({f"API token {who}": t for who, t in TOKENS.items()})
    out.update(extra or {})
    short = [k for k, v in out.items() if len(v) < 8]
    assert not short, f"secrets too short to search for reliably: {short}"
    return out


def forms(secret: str) -> set[bytes]:
    """The ways a secret could be written: as is, URL-encoded, base64."""
    return {secret.encode(), quote(secret, safe="").encode(), quote_plus(secret).encode(),
            base64.b64encode(secret.encode())}


def find_secrets(blobs: Iterable[tuple[str, bytes]], secrets: dict[str, str]) -> list[str]:
    """'<secret label> in <where>' for every hit."""
    wanted = [(label, f) for label, s in secrets.items() for f in forms(s)]
    hits = []
    for where, blob in blobs:
        for label, f in wanted:
            if f in blob:
                hits.append(f"{label} in {where}")
    return hits
