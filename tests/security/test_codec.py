"""Payload encryption: the codec (round trip, rotation, unknown key, tampering, key validation), a real
phishing container whose raw history holds no artifact value in plaintext, and the codec endpoints."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from core.codec import (
    ENCODING,
    KEY_ID_METADATA,
    KEYGEN_COMMAND,
    EncryptionCodec,
    PayloadDecryptionError,
    encrypted_converter,
    parse_key,
)
from core.errors import ConfigError
from core.models import Artifact, Container, Severity
from core.settings import Settings
from core.temporal import data_converter, dev_server_path
from tests.helpers.api import TOKENS, auth, run_api
from tests.helpers.stack import run_stack
from tests.security.conftest import KEY_B64, KEY_ID, OLD_KEY_B64, OLD_KEY_ID, enc_settings, make_codec
from tests.security.scan import all_histories

UI_ORIGIN = "http://localhost:8233"


def key(n: int) -> bytes:
    return bytes([n]) * 32


# ---- the codec -------------------------------------------------------------------------------------
async def test_round_trip_hides_the_value_and_restores_it():
    conv = encrypted_converter(enc_settings())
    art = Artifact(name="url", cef={"requestURL": "http://evil-roundtrip.example/x"})
    [p] = await conv.encode([art])
    assert p.metadata["encoding"] == ENCODING and p.metadata[KEY_ID_METADATA] == KEY_ID.encode()
    assert b"evil-roundtrip" not in p.SerializeToString()
    [back] = await conv.decode([p], [Artifact])
    assert back == art
    [p2] = await conv.encode([art])
    assert p2.data != p.data  # a fresh nonce every time


async def test_rotation_decodes_payloads_of_the_old_key():
    old = EncryptionCodec("2024-12", key(1))
    [sealed] = await old.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"host-42"')])
    rotated = EncryptionCodec("2025-06", key(2), {"2024-12": key(1)})
    [plain] = await rotated.decode([sealed])
    assert plain.data == b'"host-42"' and plain.metadata["encoding"] == b"json/plain"
    [fresh] = await rotated.encode([plain])
    assert fresh.metadata[KEY_ID_METADATA] == b"2025-06"
    # and through settings: the previous pair moved into SOAR_ENCRYPTION_OLD_KEYS
    s = Settings(encryption_key=SecretStr(KEY_B64), encryption_key_id="new",
                 encryption_old_keys={"2024-12": SecretStr(base64.b64encode(key(1)).decode())})
    assert await EncryptionCodec.from_settings(s).decode([sealed]) == [plain]


async def test_unknown_key_id_is_a_clear_error():
    [sealed] = await EncryptionCodec("gone", key(3)).encode([Payload(data=b"x")])
    with pytest.raises(PayloadDecryptionError) as e:
        await make_codec().decode([sealed])
    msg = str(e.value)
    assert "'gone'" in msg and "SOAR_ENCRYPTION_OLD_KEYS" in msg and KEY_ID in msg and OLD_KEY_ID in msg
    assert KEY_B64 not in msg and OLD_KEY_B64 not in msg


async def test_wrong_key_or_altered_data_fails_authentication():
    [sealed] = await EncryptionCodec(KEY_ID, key(4)).encode([Payload(data=b"secret")])
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await make_codec().decode([sealed])  # same id, other key
    [good] = await make_codec().encode([Payload(data=b"secret")])
    bad = Payload()
    bad.CopyFrom(good)
    bad.data = good.data[:-1] + bytes([good.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="altered"):
        await make_codec().decode([bad])
    bad.data = good.data[:5]
    with pytest.raises(PayloadDecryptionError, match="truncated"):
        await make_codec().decode([bad])


async def test_unencrypted_payloads_pass_through():
    plain = (await pydantic_data_converter.encode([{"a": 1}]))[0]
    assert await make_codec().decode([plain]) == [plain]


async def test_failure_messages_are_encrypted():
    conv = encrypted_converter(enc_settings())
    f = Failure()
    await conv.encode_failure(ApplicationError("lookup of evil-failure.example failed", type="X"), f)
    assert b"evil-failure" not in f.SerializeToString() and f.message == "Encoded failure"
    err = await conv.decode_failure(f)
    assert "evil-failure.example" in str(err)


@pytest.mark.parametrize("value, problem", [
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"k" * 16).decode(), "16 bytes"),
    ("", "0 bytes"),
])
def test_bad_keys_say_how_to_generate_one(value, problem):
    with pytest.raises(ConfigError) as e:
        encrypted_converter(Settings(encryption_key=SecretStr(value)))
    assert problem in str(e.value) and KEYGEN_COMMAND in str(e.value) and "SOAR_ENCRYPTION_KEY" in str(e.value)
    assert parse_key(KEY_B64) == bytes(range(32))


def test_bad_key_ids_and_conflicting_old_keys_are_refused():
    with pytest.raises(ConfigError, match="SOAR_ENCRYPTION_KEY_ID"):
        encrypted_converter(Settings(encryption_key=SecretStr(KEY_B64), encryption_key_id="a b"))
    with pytest.raises(ConfigError, match="also listed with a different key"):
        encrypted_converter(Settings(encryption_key=SecretStr(KEY_B64), encryption_key_id="k",
                                     encryption_old_keys={"k": SecretStr(OLD_KEY_B64)}))
    with pytest.raises(ConfigError, match=r"SOAR_ENCRYPTION_OLD_KEYS\['old'\]"):
        encrypted_converter(Settings(encryption_key=SecretStr(KEY_B64),
                                     encryption_old_keys={"old": SecretStr("short")}))


def test_the_platform_converter_uses_the_codec_when_a_key_is_set():
    conv = data_converter(enc_settings())
    assert isinstance(conv.payload_codec, EncryptionCodec) and conv.payload_codec.key_id == KEY_ID
    assert dataclasses.replace(conv, payload_codec=None).payload_converter_class is \
        pydantic_data_converter.payload_converter_class
    assert data_converter(Settings(encryption_key=None)) is pydantic_data_converter


# ---- a real container on the dev server ------------------------------------------------------------
async def test_history_holds_no_plaintext_and_the_codec_endpoint_decodes_it(dev_env, enc_client, task_queue,
                                                                            assets_file, sim):
    tag = uuid.uuid4().hex[:10]
    host, url, user = f"ws-{tag}-host", f"http://malicious-{tag}.example/login", f"user{tag}"
    container = Container(
        name=f"Reported phishing {tag}", label="phishing", severity=Severity.MEDIUM,
        source_data_identifier=f"codec-{tag}",
        artifacts=[Artifact(name="url", cef={"requestURL": url}),
                   Artifact(name="endpoint", cef={"sourceHostName": host, "sourceUserName": user})])
    async with run_stack(enc_client, task_queue, assets_file) as stack:
        r = await stack.start(container)
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running",
                                 timeout=60)
        assert v.state.disposition == "True Positive - Escalated to Tier 2"  # it really ran, encrypted
        assert any(f"malicious-{tag}" in u for u in sim.state()["effects"]["panos"]["blocked_urls"])

        # the raw history, read with a client that has no codec
        dumps = await all_histories(dev_env.client, query=f"SoarContainerId='{r.container_id}'")
        assert {d.workflow_id.split("/")[0] for d in dumps} == {"container", "playbook"}
        for d in dumps:
            assert d.encrypted > 0, d.workflow_id
            for where, blob in d.blobs():
                for needle in (tag, host, url, user, "Reported phishing"):
                    assert needle.encode() not in blob, f"{needle!r} in plaintext in {where} of {d.workflow_id}"
        # control: the same histories, decrypted, do hold the values (so the check above can fail)
        decoded = b"".join(b for d in await all_histories(dev_env.client, make_codec(),
                                                          f"SoarContainerId='{r.container_id}'")
                           for b in d.decoded_data)
        assert url.encode() in decoded and host.encode() in decoded

        # the codec endpoint decodes what the worker wrote, over HTTP, with a token
        h = await dev_env.client.get_workflow_handle(f"container/{r.container_id}").fetch_history()
        start = h.events[0].workflow_execution_started_event_attributes.input
        body = json_format.MessageToDict(Payloads(payloads=list(start.payloads)))
        with run_api(enc_settings(stack.settings), enc_client) as base:
            async with httpx.AsyncClient(base_url=base, timeout=30) as api:
                assert (await api.post("/codec/decode", json=body)).status_code == 401
                bad = await api.post("/codec/decode", json=body, headers={"Authorization": "Bearer nope"})
                assert bad.status_code == 401
                assert (await api.post("/codec/decode", json=body, headers=auth("automation"))).status_code == 403
                ok = await api.post("/codec/decode", json=body, headers={**auth("tier1"), "X-Namespace": "default"})
                assert ok.status_code == 200, ok.text
                out = json_format.ParseDict(ok.json(), Payloads())
                assert url.encode() in out.payloads[0].data and out.payloads[0].metadata["encoding"] == b"json/plain"
                # the Temporal CLI decodes through the same endpoint with `--codec-auth`
                c = dev_env.client
                cli = await asyncio.create_subprocess_exec(
                    str(dev_server_path()), "workflow", "show", "--address", c.service_client.config.target_host,
                    "--namespace", c.namespace, "-w", f"container/{r.container_id}", "--output", "json",
                    "--codec-endpoint", f"{base}/codec", "--codec-auth", f"Bearer {TOKENS['tier1']}",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                out, err = await asyncio.wait_for(cli.communicate(), timeout=60)
                assert cli.returncode == 0, err.decode()[-500:]
                started = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
                shown = base64.b64decode(started["input"]["payloads"][0]["data"])
                assert url.encode() in shown
                # encode then decode through the API
                plain = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                                       "data": base64.b64encode(b'"hello"').decode()}]}
                enc = await api.post("/codec/encode", json=plain, headers=auth("tier2"))
                assert enc.status_code == 200
                sealed = enc.json()["payloads"][0]
                assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
                dec = await api.post("/codec/decode", json=enc.json(), headers=auth("tier2"))
                assert dec.json() == plain
                # malformed bodies and undecryptable payloads are 422 with the reason
                r1 = await api.post("/codec/decode", content=b"{nope", headers=auth("tier1"))
                assert r1.status_code == 422 and "protobuf JSON" in r1.json()["detail"]
                r2 = await api.post("/codec/decode", json={"payloads": "x"}, headers=auth("tier1"))
                assert r2.status_code == 422
                foreign = await EncryptionCodec("elsewhere", key(9)).encode([Payload(data=b"x")])
                r3 = await api.post("/codec/decode", json=json_format.MessageToDict(Payloads(payloads=foreign)),
                                    headers=auth("tier1"))
                assert r3.status_code == 422 and "'elsewhere'" in r3.json()["detail"]


async def test_codec_endpoint_cors_and_encryption_off(dev_env, tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.encryption_key is None
    with run_api(settings, dev_env.client) as off_base, run_api(enc_settings(settings), dev_env.client) as base:
        async with httpx.AsyncClient(timeout=30) as http:
            off = await http.post(f"{off_base}/codec/decode", json={"payloads": []}, headers=auth("tier1"))
            assert off.status_code == 501 and "SOAR_ENCRYPTION_KEY" in off.json()["detail"]
            assert (await http.post(f"{off_base}/codec/decode", json={"payloads": []})).status_code == 401

            for origin in (UI_ORIGIN, "http://127.0.0.1:8233"):
                pre = await http.options(f"{base}/codec/decode", headers={
                    "Origin": origin, "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace,authorization"})
                assert pre.status_code in (200, 204), pre.text
                assert pre.headers["access-control-allow-origin"] == origin
                assert "POST" in pre.headers["access-control-allow-methods"]
                allowed = {h.strip() for h in pre.headers["access-control-allow-headers"].split(",")}
                assert {"content-type", "x-namespace", "authorization"} <= allowed
            evil = await http.options(f"{base}/codec/encode", headers={
                "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
            assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
            put = await http.options(f"{base}/codec/decode", headers={
                "Origin": UI_ORIGIN, "Access-Control-Request-Method": "PUT"})
            assert put.status_code == 400
            # the real calls carry the origin, errors included, so the UI shows the actual status
            denied = await http.post(f"{base}/codec/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN})
            assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == UI_ORIGIN
            ok = await http.post(f"{base}/codec/decode", json={"payloads": []},
                                 headers={"Origin": UI_ORIGIN, **auth("tier1")})
            assert ok.status_code == 200 and ok.json() == {"payloads": []}
            assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
            other = await http.post(f"{base}/codec/decode", json={"payloads": []},
                                    headers={"Origin": "http://evil.example", **auth("tier1")})
            assert "access-control-allow-origin" not in other.headers
