"""Users: `{"name", "roles": [...], "token_sha256"}`, optionally `"slack_user_id"` (answering prompts from Slack)
and `"timezone"` (how the console shows times, e.g. `"Europe/Berlin"`). Tokens are stored only as SHA-256
digests."""

from __future__ import annotations

import hashlib
import hmac
import json
import zoneinfo
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.config.loading import explain, read_json_list
from core.errors import ConfigError

ANALYST_ROLES = {"soc_tier1", "soc_tier2", "soc_tier3", "soc_manager", "analyst", "admin"}


class User(BaseModel):
    """An API caller."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    roles: list[str] = Field(default_factory=list)
    token_sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,20}$",
                                      description="The Slack member id (U...) whose button clicks answer as this user")
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone for the console")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                zoneinfo.ZoneInfo(v)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v[:40]!r}; use an IANA name such as Europe/Berlin") from None
        return v

    def has_role(self, *roles: str) -> bool:
        """True if the user holds any of `roles` (or `admin`)."""
        return "admin" in self.roles or any(r in self.roles for r in roles)


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token, as stored in users.json."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserDirectory:
    """Token -> user lookup, compared in constant time."""

    def __init__(self, users: list[User]) -> None:
        self.users = users

    def authenticate(self, token: str) -> User | None:
        """The user owning `token`, or None."""
        digest = hash_token(token)
        found = None
        for u in self.users:
            if hmac.compare_digest(digest, u.token_sha256.lower()):
                found = u
        return found

    def get(self, name: str) -> User | None:
        """The user named `name`, or None."""
        return next((u for u in self.users if u.name == name), None)

    def by_slack(self, slack_user_id: str) -> User | None:
        """The user mapped to a Slack member id, or None."""
        return next((u for u in self.users if u.slack_user_id and u.slack_user_id == slack_user_id), None)


# The demo users `soar dev` creates for itself (their tokens are printed in the README, so they are public):
# no other process accepts them unless SOAR_DEV_MODE=1.
DEMO_USERS: list[tuple[str, list[str], str]] = [
    ("automation_user", ["automation"], "demo-automation-token"),
    ("alice", ["soc_tier1", "analyst"], "demo-tier1-token"),
    ("bob", ["soc_tier2", "analyst"], "demo-tier2-token"),
    ("carol", ["soc_manager", "analyst", "soc_tier2"], "demo-manager-token"),
]
DEMO_SLACK_IDS = {"alice": "U0SIMALICE", "bob": "U0SIMBOB", "carol": "U0SIMCAROL"}  # the simulator's Slack
DEMO_TOKEN_HASHES = frozenset(hash_token(t) for _, _, t in DEMO_USERS)


def write_demo_users(path: Path) -> Path:
    """Write the demo users (for `soar dev` and the tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"name": n, "roles": r, "token_sha256": hash_token(t),
             **({"slack_user_id": DEMO_SLACK_IDS[n]} if n in DEMO_SLACK_IDS else {})} for n, r, t in DEMO_USERS]
    path.write_text(json.dumps(rows, indent=2) + "\n")
    return path


def load_users(path: Path, *, dev_mode: bool = False) -> UserDirectory:
    """Load and validate a users file.

    Raises:
        ConfigError: naming file, user index, field and fix; also for a demo token outside dev mode.
    """
    file = str(path)
    users: list[User] = []
    for i, raw in enumerate(read_json_list(path, "users")):
        entry = f"user #{i}"
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            entry += f" ({raw['name'][:60]})"
        try:
            u = User.model_validate(raw)
        except ValidationError as e:
            err = explain(e, file=file, entry=entry)
            if err.field == "token_sha256":
                err = ConfigError(file, entry, "token_sha256", "token_sha256 must be a 64-character hex digest",
                                  "store sha256(token), e.g. `printf %s TOKEN | sha256sum`")
            raise err from None
        if any(x.name == u.name for x in users):
            raise ConfigError(file, entry, "name", "duplicate user name", "give every user a unique name")
        if any(x.token_sha256.lower() == u.token_sha256.lower() for x in users):
            raise ConfigError(file, entry, "token_sha256", "two users share one token",
                              "issue every user their own token")
        if u.token_sha256.lower() in DEMO_TOKEN_HASHES and not dev_mode:
            raise ConfigError(file, entry, "token_sha256", "this is a public demo token (printed in the README)",
                              "issue a real token (`soar users add NAME --role ROLE`), or set SOAR_DEV_MODE=1 for a "
                              "throw-away demo")
        users.append(u)
    return UserDirectory(users)
