"""Users: `{"name", "roles": [...], "token_sha256"}`. Tokens are stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config.loading import explain, read_json_list
from core.errors import ConfigError

ANALYST_ROLES = {"soc_tier1", "soc_tier2", "soc_tier3", "soc_manager", "analyst", "admin"}


class User(BaseModel):
    """An API caller."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    roles: list[str] = Field(default_factory=list)
    token_sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")

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


def load_users(path: Path) -> UserDirectory:
    """Load and validate a users file.

    Raises:
        ConfigError: naming file, user index, field and fix.
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
        users.append(u)
    return UserDirectory(users)
