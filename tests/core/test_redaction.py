"""What the API shows of an asset's configuration (`configuration_redacted`) and what the scrubber knows
(`AssetConfig.secrets`): secret fields are `***`, references show their own text, URLs lose their userinfo
password and secret-looking query values; every one of those values is scrubbed from messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities import discover_connectors
from core.config.assets import load_assets, redact_url
from core.redaction import scrub

CONNECTORS = discover_connectors()


def load(tmp_path: Path, *assets: dict) -> dict:
    p = tmp_path / "assets.json"
    p.write_text(json.dumps(list(assets)))
    loaded = load_assets(p, CONNECTORS)
    assert not loaded.unavailable, loaded.unavailable
    return dict(loaded)


def test_secret_fields_and_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RED_VT_KEY", "vt-from-env-0123456789")
    monkeypatch.setenv("RED_BASE", "https://vt.internal.example/api/v3")
    secret_file = tmp_path / "cs_secret"
    secret_file.write_text("cs-from-file-abcdef\n")
    a = load(tmp_path,
             {"app": "VirusTotal v3", "asset_name": "vt", "configuration": {"apikey": "${RED_VT_KEY}",
                                                                            "base_url": "${RED_BASE}"}},
             {"app": "CrowdStrike OAuth API", "asset_name": "cs",
              "configuration": {"client_id": "literal-client-id", "client_secret": f"file:{secret_file}"}},
             {"app": "ServiceNow", "asset_name": "snow",
              "configuration": {"username": "u", "password": "literal-password-1", "url": "https://x.example"}})
    assert a["vt"].configuration_redacted == {"apikey": "***", "base_url": "${RED_BASE}"}  # alias, reference
    assert set(a["vt"].secrets) == {"vt-from-env-0123456789", "https://vt.internal.example/api/v3"}
    assert a["cs"].configuration_redacted == {"client_id": "literal-client-id", "client_secret": "***"}
    assert a["cs"].secrets == ["cs-from-file-abcdef"]
    assert a["snow"].configuration_redacted["password"] == "***"  # a literal secret field too
    assert "literal-password-1" in a["snow"].secrets


@pytest.mark.parametrize(("url", "shown", "secrets"), [
    ("https://user:p%40ss-w0rd@rdap.example/registry", "https://user:***@rdap.example/registry",
     {"p%40ss-w0rd", "p@ss-w0rd"}),
    ("https://tok3n-abcdef@proxy.example/", "https://***@proxy.example/", {"tok3n-abcdef"}),
    ("https://h.example/api?key=k-123456&limit=5&access_token=at-98765&sig=s1g-0000#top",
     "https://h.example/api?key=***&limit=5&access_token=***&sig=***#top", {"k-123456", "at-98765", "s1g-0000"}),
    ("https://h.example?apikey=abc%2Bdef", "https://h.example?apikey=***", {"abc%2Bdef", "abc+def"}),
    ("https://h.example/path?Password=hunter22&API-KEY=zzzz9", "https://h.example/path?Password=***&API-KEY=***",
     {"hunter22", "zzzz9"}),
    ("https://rdap.arin.net/registry?limit=5", "https://rdap.arin.net/registry?limit=5", set()),
    ("not a url", "not a url", set()),
])
def test_redact_url(url: str, shown: str, secrets: set[str]) -> None:
    out, found = redact_url(url)
    assert out == shown and set(found) == secrets


def test_url_secrets_are_redacted_and_scrubbed(tmp_path: Path) -> None:
    a = load(tmp_path, {"app": "Whois", "asset_name": "whois",
                        "configuration": {"base_url": "https://rdap:s3cret-pw@rdap.internal.example/r?token=t0k-1234"}})
    whois = a["whois"]
    assert whois.configuration_redacted == {"base_url": "https://rdap:***@rdap.internal.example/r?token=***"}
    assert {"s3cret-pw", "t0k-1234"} <= set(whois.secrets)
    assert whois.settings.base_url.startswith("https://rdap:s3cret-pw@")  # the connector gets the real URL
    echoed = 'upstream said: "t0k-1234" for user rdap:s3cret-pw (s3cret%2Dpw?) dDBrLTEyMzQ='
    assert scrub(echoed, whois) == 'upstream said: "***" for user rdap:*** (s3cret%2Dpw?) ***'
