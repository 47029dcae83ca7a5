"""Payload encryption: AES-256-GCM over every payload the SDK sends to Temporal.

With `SOAR_ENCRYPTION_KEY` set, workflow inputs and results, activity arguments and results, memos,
update and query arguments, user metadata (summaries) and failure messages and stack traces reach the
Temporal server only as ciphertext. Search attributes, workflow/activity ids, type names and task
queue names are never encoded: keep artifact values and secrets out of them.

Wire format (the one of temporalio/samples-python `encryption/codec.py`, so its tools interoperate):
metadata `encoding=binary/encrypted`, `encryption-key-id=<key id>`; data = 12-byte random nonce ||
AES-GCM(serialized inner Payload) with its 16-byte tag.

Rotation: set a new `SOAR_ENCRYPTION_KEY_ID` and `SOAR_ENCRYPTION_KEY`, and move the previous pair into
`SOAR_ENCRYPTION_OLD_KEYS` (`{"<old id>": "<old base64 key>"}`). New payloads use the current key;
payloads written under any listed id still decode, so running workflows keep replaying.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from core.errors import ConfigError
from core.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
KEYGEN_COMMAND = 'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'
KEY_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted: unknown key id, wrong key, or altered data."""


def parse_key(value: str, variable: str = "SOAR_ENCRYPTION_KEY") -> bytes:
    """Decode and check one key: base64 of exactly 32 bytes (AES-256).

    Args:
        value: the base64 text.
        variable: the environment variable it came from (named in the error).

    Raises:
        ConfigError: not base64, or not 32 bytes; the message says how to generate a key.
    """
    fix = f"generate one with `{KEYGEN_COMMAND}` and set {variable} to its output"
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("environment", None, variable, "the encryption key is not valid base64", fix) from None
    if len(raw) != KEY_BYTES:
        raise ConfigError("environment", None, variable,
                          f"the encryption key is {len(raw)} bytes; AES-256 needs exactly {KEY_BYTES}", fix)
    return raw


def _check_key_id(key_id: str, variable: str) -> str:
    if not KEY_ID_RE.match(key_id):
        raise ConfigError("environment", None, variable, f"key id {key_id[:70]!r} is not 1-64 characters of "
                          "letters, digits, '.', '_', ':' or '-'", "choose an id such as '2025-06' or 'default'")
    return key_id


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec with a current key and older keys kept for decoding (rotation)."""

    def __init__(self, key_id: str, key: bytes, old_keys: Mapping[str, bytes] | None = None) -> None:
        """Build the codec.

        Args:
            key_id: id of the current key, written into every encoded payload.
            key: the current 32-byte key.
            old_keys: earlier keys by id, used only to decode.

        Raises:
            ValueError: a key is not 32 bytes, or `old_keys` gives the current id another key.
        """
        super().__init__()
        keys = dict(old_keys or {})
        if key_id in keys and keys[key_id] != key:
            raise ValueError(f"key id {key_id!r} is both the current key and an old key with different material")
        keys[key_id] = key
        for kid, k in keys.items():
            if len(k) != KEY_BYTES:
                raise ValueError(f"key {kid!r} is {len(k)} bytes; AES-256 needs {KEY_BYTES}")
        self.key_id = key_id
        self._ciphers = {kid: AESGCM(k) for kid, k in keys.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> EncryptionCodec:
        """The codec of `settings` (current key plus `encryption_old_keys`).

        Raises:
            ConfigError: no key set, or a key or key id is malformed (the message says how to fix it).
        """
        if settings.encryption_key is None:
            raise ConfigError("environment", None, "SOAR_ENCRYPTION_KEY", "payload encryption is not configured",
                              f"set SOAR_ENCRYPTION_KEY to the output of `{KEYGEN_COMMAND}`")
        key_id = _check_key_id(settings.encryption_key_id, "SOAR_ENCRYPTION_KEY_ID")
        key = parse_key(settings.encryption_key.get_secret_value())
        old: dict[str, bytes] = {}
        for kid, secret in settings.encryption_old_keys.items():
            _check_key_id(kid, "SOAR_ENCRYPTION_OLD_KEYS")
            old[kid] = parse_key(secret.get_secret_value(), f"SOAR_ENCRYPTION_OLD_KEYS[{kid!r}]")
        if key_id in old and old[key_id] != key:
            raise ConfigError("environment", None, "SOAR_ENCRYPTION_OLD_KEYS",
                              f"key id {key_id!r} is also listed with a different key",
                              "give the new key a new SOAR_ENCRYPTION_KEY_ID; keep old ids for old keys")
        return cls(key_id, key, old)

    @property
    def key_ids(self) -> list[str]:
        """Every key id this codec can decode."""
        return sorted(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload (whole serialized payload, metadata included) with the current key."""
        return [self.encrypt_payload(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads with the key their id names; others pass through unchanged.

        Raises:
            PayloadDecryptionError: unknown key id, wrong key for the id, or altered data.
        """
        return [self.decrypt_payload(p) for p in payloads]

    def encrypt_payload(self, payload: Payload) -> Payload:
        """One payload, encrypted with the current key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: self.key_id.encode()}, data=nonce + sealed)

    def decrypt_payload(self, payload: Payload) -> Payload:
        """One payload, decrypted (returned as is when it is not encrypted).

        Raises:
            PayloadDecryptionError: see `decode`.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload was encrypted with key id {key_id[:64]!r}, which this process does not have "
                f"(known ids: {', '.join(self.key_ids)}); add that key to SOAR_ENCRYPTION_OLD_KEYS as "
                f'{{"{key_id[:64]}": "<its base64 key>"}}')
        data = payload.data
        if len(data) < NONCE_BYTES + 16:
            raise PayloadDecryptionError(f"encrypted payload (key id {key_id!r}) is truncated: {len(data)} bytes")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload with key id {key_id!r} failed authentication: the key configured under that id is "
                "not the one that encrypted it, or the data was altered") from None
        return Payload.FromString(plain)


def encrypted_converter(settings: Settings) -> DataConverter:
    """The pydantic data converter with the encryption codec; failure messages are encrypted too.

    Raises:
        ConfigError: the key settings are missing or malformed.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec.from_settings(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
