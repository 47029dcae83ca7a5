"""The platform's error tree. Vendor and library errors are translated into these at ONE boundary
per connector (its `client.py`), and into Temporal `ApplicationError` at the activity boundary.

    SoarError
    ├── ConfigError               a config file is wrong: names the file, entry, field and the fix
    ├── AssetUnavailable          the asset's configuration is wrong; the message says why (never retried)
    ├── ApprovalRequired          a high-impact action ran without an analyst's approval (never retried)
    ├── ApprovalInvalid           its approval is forged, expired or for another action/target (never retried)
    ├── GuardrailRefused          a response action aimed at what must never be touched (never retried)
    └── ConnectorError            anything a connector action can raise
        ├── InvalidParameter      the parameter is not an IP/hash/URL/...; raised before any request
        ├── AuthError             401/403: credentials or scope wrong (never retried)
        ├── NotFound              the vendor has no such object (an action may map it to "no data")
        ├── VendorResponseError   malformed/unexpected body (never retried): quotes a short safe snippet
        └── RetryableError        worth another attempt
            ├── RateLimited       429: carries the vendor's own retry delay
            └── VendorUnavailable 5xx, timeout, connection error
"""

from __future__ import annotations

from datetime import timedelta


class SoarError(Exception):
    """Base of every error the platform raises on purpose."""

    retryable: bool = False

    @property
    def type_name(self) -> str:
        """The `ApplicationError.type` this error travels under in Temporal."""
        return type(self).__name__


class ConfigError(SoarError):
    """A configuration file is invalid.

    The message names the file, the entry (index or asset name), the field and how to fix it.
    """

    def __init__(self, file: str, entry: str | None, field: str | None, problem: str, fix: str) -> None:
        self.file, self.entry, self.field, self.problem, self.fix = file, entry, field, problem, fix
        where = file
        if entry:
            where += f", {entry}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class AssetUnavailable(SoarError):
    """An action was asked of an asset that failed to load; the message carries the loader's reason."""


class ApprovalRequired(SoarError):
    """A high-impact action was asked to run without an analyst's approval."""


class ApprovalInvalid(SoarError):
    """An approval did not verify: bad signature, unknown key, expired, or for another prompt/action/target."""


class GuardrailRefused(SoarError):
    """A response action was refused by a guardrail (core/guardrails.py) before any vendor call.

    The message names the rule, the value and what to change if the action is really intended; `rule` and
    `value` carry them for the audit log.
    """

    def __init__(self, rule: str, value: str, problem: str, fix: str) -> None:
        self.rule, self.value, self.problem, self.fix = rule, value, problem, fix
        super().__init__(f"refused by guardrail {rule}: {problem}. Fix: {fix}")


class ConnectorError(SoarError):
    """Base of the errors a connector action raises."""


class InvalidParameter(ConnectorError):
    """An action parameter is invalid (not an IP, not a hash, ...). Raised before any request."""


class AuthError(ConnectorError):
    """The vendor rejected the credentials (401) or the scope (403)."""


class NotFound(ConnectorError):
    """The vendor has no record of the object."""


class VendorResponseError(ConnectorError):
    """The vendor answered something we cannot understand (truncated JSON, an HTML page, ...)."""


class RetryableError(ConnectorError):
    """A transient failure: Temporal retries the activity with backoff."""

    retryable = True

    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """The vendor said 429. `retry_after` is the vendor's own signal, converted to a delay."""


class VendorUnavailable(RetryableError):
    """5xx, timeout or connection failure."""


NON_RETRYABLE_TYPES: list[str] = [
    "ConfigError",
    "AssetUnavailable",
    "ApprovalRequired",
    "ApprovalInvalid",
    "GuardrailRefused",
    "InvalidParameter",
    "AuthError",
    "NotFound",
    "VendorResponseError",
]


def snippet(text: str | bytes, limit: int = 120) -> str:
    """A short, single-line excerpt of a vendor body for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")
