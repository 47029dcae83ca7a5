"""Assets: Splunk SOAR asset objects `{"app", "asset_name", "configuration", "product_vendor", ...}`."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.config.loading import explain, read_json_list, resolve_reference
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.connector import Connector

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class AssetConfig(BaseModel):
    """One configured asset. `settings` is the connector's typed config with secrets resolved."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    app: str
    asset_name: str
    product_vendor: str = ""
    product_name: str = ""
    description: str = ""
    connector: str = Field(description="Name of the connector package, e.g. 'virustotal'")
    settings: Any = Field(exclude=True, repr=False)
    configuration_redacted: dict[str, Any] = Field(default_factory=dict)

    @property
    def rate_limited(self) -> bool:
        """Whether this asset gets its own rate-limited task queue."""
        return bool(getattr(self.settings, "rate_limit", False)) and self.per_second is not None

    @property
    def per_second(self) -> float | None:
        """The server-enforced activity rate of the asset's queue."""
        n = getattr(self.settings, "max_requests_per_minute", None)
        return n / 60.0 if n else None


def _secret_fields(model: type[BaseModel]) -> set[str]:
    out = set()
    for name, f in model.model_fields.items():
        ann = f.annotation
        if ann is SecretStr or (getattr(ann, "__args__", None) and SecretStr in ann.__args__):  # type: ignore[union-attr]
            out.add(name)
    return out


def parse_asset(raw: Any, *, file: str, index: int, connectors: dict[str, Connector]) -> AssetConfig:
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
    by_app = {c.app.lower(): c for c in connectors.values()}
    by_app.update({c.name: c for c in connectors.values()})
    if not isinstance(app, str) or app.lower() not in by_app:
        known = ", ".join(sorted(c.app for c in connectors.values()))
        raise ConfigError(file, entry, "app", f"unknown app {app!r}", f"use one of: {known}")
    connector = by_app[app.lower()]
    conf = raw.get("configuration", {})
    if not isinstance(conf, dict):
        raise ConfigError(file, entry, "configuration", "configuration must be a JSON object",
                          'write it as "configuration": {"field": "value", ...}')
    secret_fields = _secret_fields(connector.config_model)
    resolved: dict[str, Any] = {}
    redacted: dict[str, Any] = {}
    for key, value in conf.items():
        if isinstance(value, str):
            value_r, was_ref = resolve_reference(value, file=file, entry=entry, field=f"configuration.{key}")
            if key in secret_fields and not was_ref and value:
                log.warning("%s: %s: configuration.%s is a literal secret; prefer \"${ENV_VAR}\" or "
                            "\"file:/path\" so it stays out of the file", file, entry, key)
            resolved[key] = value_r
            redacted[key] = "***" if key in secret_fields else value_r
        else:
            resolved[key] = value
            redacted[key] = value
    try:
        settings = connector.config_model.model_validate(resolved)
    except ValidationError as e:
        raise explain(e, file=file, entry=entry, prefix="configuration.") from None
    if getattr(settings, "rate_limit", False) and not getattr(settings, "max_requests_per_minute", None):
        raise ConfigError(file, entry, "configuration.max_requests_per_minute",
                          "rate_limit is true but max_requests_per_minute is not set",
                          "set max_requests_per_minute to the vendor quota (e.g. 4 for VirusTotal public)")
    return AssetConfig(
        app=connector.app, asset_name=name, connector=connector.name,
        product_vendor=str(raw.get("product_vendor", "")), product_name=str(raw.get("product_name", "")),
        description=str(raw.get("description", "")), settings=settings, configuration_redacted=redacted,
    )


def load_assets(path: Path, connectors: dict[str, Connector] | None = None) -> dict[str, AssetConfig]:
    """Load and validate an assets file.

    Raises:
        ConfigError: on the first problem, naming file, asset, field and fix.
    """
    if connectors is None:
        from activities import discover_connectors

        connectors = discover_connectors()
    file = str(path)
    out: dict[str, AssetConfig] = {}
    for i, raw in enumerate(read_json_list(path, "assets")):
        asset = parse_asset(raw, file=file, index=i, connectors=connectors)
        if asset.asset_name in out:
            raise ConfigError(file, f"asset '{asset.asset_name}'", "asset_name", "duplicate asset name",
                              "give every asset a unique asset_name")
        out[asset.asset_name] = asset
    return out
