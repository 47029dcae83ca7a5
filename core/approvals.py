"""Signed approvals: the only thing that lets a high-impact action run.

When the API records an analyst's answer to a prompt, it signs the decision with an Ed25519 key that only
the API holds. Workers hold the public keys: the prompt's update validator and every high-impact activity
verify the signature and the claims, so neither workflow code, a worker, nor anyone who can reach the
Temporal frontend can mint, replay or stretch an approval.

The signed claims bind the decision to one prompt of one playbook run of one container, the option the
analyst chose, the actions that option authorises with their targets (host, user, IP, URL as the prompt
showed them), the responder and the roles the API authenticated, and a validity window. A high-impact
activity runs only when the approval verifies, has not expired, names this container, and authorises this
action on this target; otherwise it fails non-retryable with `ApprovalRequired` or `ApprovalInvalid`
naming what did not match.

Keys rotate by key id, like the payload codec: the API signs with `SOAR_APPROVAL_KEY_ID`; workers trust
every key in their public key file, so approvals signed under an older id keep verifying.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, Field, ValidationError

from core.errors import ApprovalInvalid, ApprovalRequired, ConfigError

KEY_FILE_MODE = 0o600


class AuthorizedAction(BaseModel):
    """One action an option authorises: the action's name and the target it may act on."""

    action: str = Field(description="The connector action, e.g. 'quarantine device'")
    target: str = Field(description="What it may act on, as the prompt showed it: a host, user, IP or URL")
    connector: str | None = Field(default=None, description="Restrict to one connector (e.g. crowdstrike)")

    def covers(self, action_names: tuple[str, ...], targets: tuple[str, ...], connector: str) -> bool:
        """Whether this authorises one of `action_names` on one of `targets` (the value as given and as
        validated) with `connector`. Names and targets compare case-insensitively."""
        names = {n.lower() for n in action_names}
        wanted = self.target.casefold()
        return (self.action.lower() in names and any(t and t.casefold() == wanted for t in targets)
                and self.connector in (None, connector))


class ApprovalClaims(BaseModel):
    """What an approval says; signed as canonical JSON."""

    v: Literal[1] = 1
    kind: Literal["analyst", "operator", "delegate", "withdraw"] = "analyst"
    prompt_id: str
    workflow_id: str
    container_id: str
    option: str
    actions: list[AuthorizedAction] = Field(default_factory=list)
    responder: str
    roles: list[str] = Field(default_factory=list)
    issued_at: datetime
    expires_at: datetime
    source: str | None = Field(default=None, description="Where the answer came from (client address)")
    delegate_to: str | None = Field(default=None, description="kind delegate: the colleague (who holds the role)")

    def canonical(self) -> bytes:
        """The bytes that are signed."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


class SignedApproval(BaseModel):
    """Claims, the id of the key that signed them, and the Ed25519 signature (base64)."""

    claims: str = Field(max_length=64_000)
    kid: str = Field(max_length=64)
    signature: str = Field(max_length=200)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApprovalInvalid(f"{what} is not base64") from None


class Signer:
    """The API's signing key (never given to workers)."""

    def __init__(self, kid: str, key: Ed25519PrivateKey) -> None:
        self.kid, self._key = kid, key

    def sign(self, claims: ApprovalClaims) -> SignedApproval:
        """Sign `claims`."""
        data = claims.canonical()
        return SignedApproval(claims=data.decode(), kid=self.kid, signature=_b64(self._key.sign(data)))

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key for another purpose of the API (e.g. signing console sessions), derived from this one
        with HMAC-SHA256 over `label`: whoever can sign approvals can sign sessions, and nobody else."""
        return hmac.new(self._key.private_bytes_raw(), label, hashlib.sha256).digest()

    def public_key(self) -> str:
        """The raw public key, base64 (what workers trust)."""
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return _b64(raw)


class Keyring:
    """The public keys a worker trusts, by key id."""

    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self.keys = keys

    @classmethod
    def from_b64(cls, keys: dict[str, str]) -> Keyring:
        """From `{kid: base64 raw public key}`.

        Raises:
            ConfigError: a key is not 32 bytes of base64.
        """
        out = {}
        for kid, text in keys.items():
            try:
                out[kid] = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                raise ConfigError("approval public keys", f"key '{kid}'", None,
                                  "not the base64 of a 32-byte Ed25519 public key",
                                  "copy the public key `soar keys show` prints") from None
        return cls(out)

    def verify(self, signed: SignedApproval | None) -> ApprovalClaims:
        """The claims of a correctly signed approval.

        Raises:
            ApprovalRequired: there is none.
            ApprovalInvalid: unknown key id, bad signature, or malformed claims.
        """
        if signed is None:
            raise ApprovalRequired("no approval: a high-impact action needs an analyst's signed approval")
        key = self.keys.get(signed.kid)
        if key is None:
            raise ApprovalInvalid(f"approval signed with unknown key id {signed.kid[:64]!r}; this worker trusts "
                                  f"{', '.join(sorted(self.keys)) or 'no key'}")
        try:
            key.verify(_unb64(signed.signature, "signature"), signed.claims.encode())
        except InvalidSignature:
            raise ApprovalInvalid("approval signature does not verify: the claims were altered or not "
                                  "signed by the API") from None
        try:
            return ApprovalClaims.model_validate_json(signed.claims)
        except ValidationError:
            raise ApprovalInvalid("approval claims are malformed") from None


def check_action(keyring: Keyring, signed: SignedApproval | None, *, action_names: tuple[str, ...],
                 targets: tuple[str, ...], connector: str, container_id: str | None,
                 now: datetime | None = None) -> ApprovalClaims:
    """Verify that `signed` lets this action run on this target in this container now.

    Raises:
        ApprovalRequired: no approval.
        ApprovalInvalid: naming what did not match (signature, expiry, container, action or target).
    """
    if signed is None:
        raise ApprovalRequired(f"'{action_names[0]}' on {targets[0]!r} is high impact and needs an analyst's signed "
                               "approval: run it from a playbook after a prompt, or as an audited operator approval "
                               "(soar action run --approve-as ... --operator-reason ...)")
    claims = keyring.verify(signed)
    now = now or datetime.now(UTC)
    if now >= claims.expires_at:
        raise ApprovalInvalid(f"approval of prompt {claims.prompt_id} expired at {claims.expires_at.isoformat()}")
    if container_id is None or claims.container_id != container_id:
        raise ApprovalInvalid(f"approval is for container {claims.container_id}, not {container_id or '(none)'}")
    if not any(a.covers(action_names, targets, connector) for a in claims.actions):
        granted = "; ".join(f"{a.action} on {a.target}" for a in claims.actions) or "nothing"
        raise ApprovalInvalid(f"approval ({claims.responder} chose {claims.option!r} on prompt {claims.prompt_id}) "
                              f"does not authorise '{action_names[0]}' on {targets[0]!r}; it authorises: {granted}")
    return claims


def check_quorum(keyring: Keyring, approvals: list[SignedApproval], *, quorum: int, action_names: tuple[str, ...],
                 targets: tuple[str, ...], connector: str, container_id: str | None,
                 now: datetime | None = None) -> list[ApprovalClaims]:
    """Verify `approvals` (each as `check_action` does) and that `quorum` different people gave them, for one
    prompt and one option.

    Raises:
        ApprovalRequired: none given.
        ApprovalInvalid: one does not verify, they mix prompts or options, or too few distinct approvers.
    """
    if not approvals:
        return [check_action(keyring, None, action_names=action_names, targets=targets, connector=connector,
                             container_id=container_id, now=now)]
    claims = [check_action(keyring, a, action_names=action_names, targets=targets, connector=connector,
                           container_id=container_id, now=now) for a in approvals]
    if any(c.kind not in ("analyst", "operator") for c in claims):
        raise ApprovalInvalid("a delegation or withdrawal is not an approval")
    if len({(c.prompt_id, c.option) for c in claims}) > 1:
        raise ApprovalInvalid("the approvals are for different prompts or options")
    people = {c.responder for c in claims}
    if len(people) < quorum:
        raise ApprovalInvalid(f"'{action_names[0]}' on {targets[0]!r} needs {quorum} different approvers; "
                              f"{len(people)} approved ({', '.join(sorted(people))})")
    return claims


# ---- the keys this process trusts (workers: for update validators and activities) ------------------------
_trusted: Keyring | None = None


def trust(keyring: Keyring) -> None:
    """Make `keyring` the keys this process verifies approvals with (the worker calls it at start)."""
    global _trusted
    _trusted = keyring


def trusted() -> Keyring:
    """The keys this process trusts.

    Raises:
        ApprovalInvalid: none were configured (then nothing can be approved here).
    """
    if _trusted is None:
        raise ApprovalInvalid("this worker has no trusted approval keys (SOAR_APPROVAL_PUBLIC_KEYS_FILE); "
                              "no approval can be verified")
    return _trusted


# ---- keys on disk ---------------------------------------------------------------------------------------
def load_signer(path: Path, kid: str) -> Signer:
    """The signing key from a file holding the base64 of the 32-byte Ed25519 seed.

    Raises:
        ConfigError: the file is missing or not a key.
    """
    try:
        raw = base64.b64decode(path.read_text().strip(), validate=True)
        return Signer(kid, Ed25519PrivateKey.from_private_bytes(raw))
    except OSError as e:
        raise ConfigError(str(path), None, None, f"cannot read the approval signing key: {e.strerror}",
                          "run `soar keys init` (or set SOAR_APPROVAL_PRIVATE_KEY_FILE)") from None
    except (binascii.Error, ValueError):
        raise ConfigError(str(path), None, None, "not the base64 of a 32-byte Ed25519 private key",
                          "run `soar keys init` to create a key pair") from None


def load_keyring(path: Path) -> Keyring:
    """Trusted public keys from a JSON file `{kid: base64 public key}`.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ConfigError(str(path), None, None, f"cannot read the approval public keys: {e.strerror}",
                          "run `soar keys init` (or set SOAR_APPROVAL_PUBLIC_KEYS_FILE)") from None
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), None, None, f"invalid JSON: {e.msg}",
                          'write {"<key id>": "<base64 public key>"}') from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()) or not data:
        raise ConfigError(str(path), None, None, "expected a non-empty object of key id -> base64 public key",
                          'write {"<key id>": "<base64 public key>"}')
    return Keyring.from_b64(data)


def init_keys(private_file: Path, public_file: Path, kid: str) -> Signer:
    """Create a key pair when none exists (the dev default); add the public key to the trusted file."""
    if private_file.exists():
        signer = load_signer(private_file, kid)
    else:
        private_file.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes_raw()
        fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        with os.fdopen(fd, "w") as f:
            f.write(_b64(seed) + "\n")
        signer = Signer(kid, key)
    trusted = json.loads(public_file.read_text()) if public_file.exists() else {}
    if trusted.get(kid) != signer.public_key():
        trusted[kid] = signer.public_key()
        public_file.parent.mkdir(parents=True, exist_ok=True)
        public_file.write_text(json.dumps(trusted, indent=2) + "\n")
    return signer


Kind = Literal["analyst", "operator", "delegate", "withdraw"]


def claims_for(*, prompt_id: str, workflow_id: str, container_id: str, option: str,
               actions: list[AuthorizedAction], responder: str, roles: list[str], now: datetime,
               valid_for: timedelta, kind: Kind = "analyst", source: str | None = None,
               delegate_to: str | None = None) -> ApprovalClaims:
    """The claims of one decision, valid from `now` for `valid_for`."""
    return ApprovalClaims(kind=kind, prompt_id=prompt_id, workflow_id=workflow_id, container_id=container_id,
                          option=option, actions=actions, responder=responder, roles=sorted(set(roles)),
                          issued_at=now, expires_at=now + valid_for, source=source, delegate_to=delegate_to)
