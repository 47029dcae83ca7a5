"""Assets: Splunk SOAR asset objects `{"app", "asset_name", "configuration", "product_vendor", ...}`.

Written the way users have them: the brief's own objects, and Splunk SOAR exports with each app's own
name and configuration keys. Each connector declares the app names it answers to and the keys it accepts
(its config model's fields and their aliases) or ignores (`Connector.ignored_keys`); a key nobody knows
is a warning naming the asset and the key, never a refusal.

One broken asset does not stop the others: a file that is not JSON, or two assets with one name, still
stops the start (`ConfigError`), but an asset whose app or configuration is wrong is loaded as
*unavailable* with its reason, and everything else works.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

from pydantic import ValidationError

from core.config.loading import explain, read_json_list, resolve_reference
from core.connector import AssetConfig, Connector, accepted_keys
from core.errors import ConfigError
from core.redaction import secret_fields

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Query parameters that carry credentials: `key`, `apikey`, `api_key`, `token`, `password`, `secret`, `sig`,
# also as a suffix (`access_token`, `client_secret`, `x_api_key`).
SECRET_QUERY = re.compile(r"(^|_)(key|apikey|api_key|token|password|passwd|secret|sig|signature)$")


@dataclass(frozen=True)
class UnavailableAsset:
    """An asset that could not be loaded: its name, the app it named and why (the full ConfigError text)."""

    asset_name: str
    app: str
    connector: str | None
    reason: str
    field: str | None = None


@dataclass
class Assets(Mapping[str, AssetConfig]):
    """The loaded assets file: the usable assets by name, and the unavailable ones with their reasons."""

    available: dict[str, AssetConfig] = field(default_factory=dict)
    unavailable: dict[str, UnavailableAsset] = field(default_factory=dict)

    def __getitem__(self, name: str) -> AssetConfig:
        return self.available[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.available)

    def __len__(self) -> int:
        return len(self.available)


def _app_index(connectors: Mapping[str, Connector[Any, Any]]) -> dict[str, Connector[Any, Any]]:
    out: dict[str, Connector[Any, Any]] = {}
    for c in connectors.values():
        out[c.name.lower()] = c
        for app in c.app_names:
            out[app.lower()] = c
    return out


def _known_apps(connectors: Mapping[str, Connector[Any, Any]]) -> str:
    return ", ".join(sorted({a for c in connectors.values() for a in c.app_names}))


def _resolve_configuration(conf: dict[str, Any], connector: Connector[Any, Any], *, file: str,
                           entry: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Keep the keys the connector knows (warning about the others) and resolve secret references.

    Returns:
        The values to validate, the redacted copy shown by the API, and every secret value.
    """
    accepted = accepted_keys(connector.config_model)
    secrets = secret_fields(connector.config_model)
    resolved: dict[str, Any] = {}
    redacted: dict[str, Any] = {}
    secret_values: list[str] = []
    for key, value in conf.items():
        if key in connector.ignored_keys:
            log.info("%s: %s: configuration.%s accepted and not used: %s", file, entry, key,
                     connector.ignored_keys[key])
            shown, url_secrets = redact_url(value) if isinstance(value, str) else (value, [])
            redacted[key] = "***" if key in secrets else shown
            secret_values += url_secrets
            continue
        if key not in accepted:
            log.warning("%s: %s: configuration.%s is not a setting of the %s connector; ignored. Known keys: %s",
                        file, entry, key, connector.app, ", ".join(sorted(accepted)))
            continue
        was_ref = False
        shown = value
        if isinstance(value, str):
            value, was_ref = resolve_reference(value, file=file, entry=entry, field=f"configuration.{key}")
            if key in secrets and not was_ref and value:
                log.warning("%s: %s: configuration.%s is a literal secret; prefer \"${ENV_VAR}\" or "
                            "\"file:/path\" so it stays out of the file", file, entry, key)
            if (was_ref or key in secrets) and value:
                secret_values.append(value)
            shown, url_secrets = redact_url(value)
            secret_values += url_secrets
            if was_ref:
                shown = conf[key]  # the reference text, never what it resolved to
        elif key in secrets and value is not None:
            secret_values.append(str(value))  # a secret given as a number is still a secret
        redacted[key] = "***" if key in secrets else shown
        resolved[key] = value
    return resolved, redacted, secret_values


def redact_url(value: str) -> tuple[str, list[str]]:
    """A URL with its userinfo password (or lone token) and secret-looking query values replaced by `***`.

    Returns:
        The redacted text (`value` itself when it is no URL or has nothing secret) and the secret parts, as
        written and decoded, for the scrubber.
    """
    if "://" not in value:
        return value, []
    value, hash_, fragment = value.partition("#")
    scheme, sep, rest = value.partition("://")
    authority, slash, tail = rest.partition("/") if "/" in rest else (rest, "", "")
    out: list[str] = []
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user, colon, password = userinfo.partition(":")
        secret = password if colon else user
        out += [secret, unquote(secret)]
        authority = f"{user}:***@{host}" if colon else f"***@{host}"
    path, q, query = tail.partition("?") if slash else ("", "", "")
    if not slash:
        authority, q, query = authority.partition("?")
    fields = []
    for part in query.split("&") if q else []:
        name, eq, v = part.partition("=")
        if eq and v and SECRET_QUERY.search(unquote_plus(name).lower().replace("-", "_")):
            out += [v, unquote_plus(v)]
            part = f"{name}=***"
        fields.append(part)
    redacted = f"{scheme}{sep}{authority}{slash}{path}{q}{'&'.join(fields)}{hash_}{fragment}"
    return redacted, [s for s in out if s]


def parse_asset(raw: Any, *, file: str, index: int, connectors: Mapping[str, Connector[Any, Any]]) -> AssetConfig:
    """Validate one asset object and its connector configuration.

    Raises:
        ConfigError: naming the asset, the field and the fix.
    """
    entry = f"asset #{index}"
    if not isinstance(raw, dict):
        raise ConfigError(file, entry, None, f"expected a JSON object, got {type(raw).__name__}",
                          'write each asset as {"app": ..., "asset_name": ..., "configuration": {...}}')
    name = raw.get("asset_name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(file, entry, "asset_name",
                          "missing or invalid asset_name" if name is None else f"invalid asset_name {str(name)[:60]!r}",
                          "use letters, digits, '_', '-' or '.', starting with a letter or digit (max 100)")
    entry = f"asset '{name}'"
    app = raw.get("app")
    connector = _app_index(connectors).get(app.strip().lower()) if isinstance(app, str) else None
    if connector is None:
        raise ConfigError(file, entry, "app", f"unknown app {app!r}", f"use one of: {_known_apps(connectors)}")
    conf = raw.get("configuration", {})
    if not isinstance(conf, dict):
        raise ConfigError(file, entry, "configuration", "configuration must be a JSON object",
                          'write it as "configuration": {"field": "value", ...}')
    resolved, redacted, secret_values = _resolve_configuration(conf, connector, file=file, entry=entry)
    try:
        settings = connector.config_model.model_validate(resolved)
    except ValidationError as e:
        raise explain(e, file=file, entry=entry, prefix="configuration.") from None
    if settings.rate_limit and not settings.max_requests_per_minute:
        raise ConfigError(file, entry, "configuration.max_requests_per_minute",
                          "rate_limit is true but max_requests_per_minute is not set",
                          "set max_requests_per_minute to the vendor quota (e.g. 4 for VirusTotal public)")
    if not settings.verify_ssl:
        log.warning("%s: %s: TLS certificate verification is OFF (verify_ssl / verify_server_cert / "
                    "validate_ssl_cert false): the connection is open to interception. Use it only for "
                    "labs, or give the vendor a certificate this host trusts", file, entry)
    return AssetConfig(
        app=connector.app, asset_name=name, connector=connector.name,
        product_vendor=str(raw.get("product_vendor", "")), product_name=str(raw.get("product_name", "")),
        description=str(raw.get("description", "")), settings=settings, configuration_redacted=redacted,
        secrets=secret_values,
    )


def load_assets(path: Path, connectors: Mapping[str, Connector[Any, Any]]) -> Assets:
    """Load an assets file; an asset that fails validation is kept as unavailable with its reason.

    Raises:
        ConfigError: the file is missing or not a JSON list, an entry has no usable `asset_name`, or two
            assets share a name.
    """
    file = str(path)
    out = Assets()
    for i, raw in enumerate(read_json_list(path, "assets")):
        name = raw.get("asset_name") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not NAME_RE.match(name):
            parse_asset(raw, file=file, index=i, connectors=connectors)  # raises the clear error
        assert isinstance(name, str)
        if name in out.available or name in out.unavailable:
            raise ConfigError(file, f"asset '{name}'", "asset_name", "duplicate asset name",
                              "give every asset a unique asset_name")
        try:
            out.available[name] = parse_asset(raw, file=file, index=i, connectors=connectors)
        except ConfigError as e:
            app = str(raw.get("app", ""))
            known = _app_index(connectors).get(app.strip().lower())
            out.unavailable[name] = UnavailableAsset(asset_name=name, app=app, connector=known.name if known else None,
                                                     reason=str(e), field=e.field)
            log.error("asset %s is unavailable: %s", name, e)
    return out
