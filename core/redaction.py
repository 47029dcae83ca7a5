"""Keeping secrets out of what leaves a connector: which configuration fields are secret, the forms a vendor
may echo a secret in, and scrubbing them from text (errors, messages) before it reaches history or logs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import quote, quote_plus

from pydantic import AliasChoices, BaseModel, SecretStr

if TYPE_CHECKING:
    from core.connector import AssetConfig


def secret_fields(model: type[BaseModel]) -> set[str]:
    """Names (and aliases) of the model's `SecretStr` fields."""
    out: set[str] = set()
    for name, f in model.model_fields.items():
        ann = f.annotation
        if ann is SecretStr or SecretStr in getattr(ann, "__args__", ()):
            out.add(name)
            alias = f.validation_alias
            if isinstance(alias, AliasChoices):
                out.update(c for c in alias.choices if isinstance(c, str))
    return out


MIN_SECRET_LEN = 4  # shorter values would scrub ordinary words


def secret_forms(value: str) -> set[str]:
    """`value` as a vendor may echo it: raw, URL-encoded (form or query), JSON-escaped and base64."""
    if len(value) < MIN_SECRET_LEN:
        return set()
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
             json.dumps(value)[1:-1].replace("/", "\\/"), base64.b64encode(value.encode()).decode()}
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def scrub_values(text: str, forms: Iterable[str]) -> str:
    """Replace each of `forms` (longest first) in `text` with `***`."""
    for f in sorted(forms, key=len, reverse=True):
        text = text.replace(f, "***")
    return text


def scrub(text: str, asset: AssetConfig | None) -> str:
    """Replace every secret value of the asset (in every form `secret_forms` knows) in `text` with `***`."""
    if asset is None:
        return text
    return scrub_values(text, {f for s in asset.secrets for f in secret_forms(s)})


@runtime_checkable
class ScrubsSecrets(Protocol):
    """A client that removes secrets from the errors it raises (`activities._http.VendorClient`)."""

    def scrub_secrets(self, values: Iterable[str]) -> None:
        """Add the asset's secret values (`AssetConfig.secrets`) to what the client scrubs."""
