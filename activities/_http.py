"""Shared HTTP plumbing for connector clients. Each connector's `client.py` subclasses `VendorClient`
and overrides the two hooks that differ per vendor (`error_detail`, `retry_after`); everything that
turns an HTTP exchange into our error tree happens in `VendorClient.request`.

No error leaves a client with a secret in it, whatever the route: every method of `VendorClient` and of
its subclasses is wrapped (`__init_subclass__`) so that a `SoarError` raised through it has the secrets
replaced by `***`, in every form a vendor may echo them (raw, URL-encoded, JSON-escaped, base64, the Basic
`user:password` token). The client knows the asset's secret values (`AssetStore.client()` hands them over)
and everything it sends as a credential: credential headers, the Basic-auth password, secret-looking form,
JSON and query fields (a CrowdStrike `client_secret`, a PAN-OS keygen `password`, a bearer token).
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from core.errors import (
    AuthError,
    NotFound,
    RateLimited,
    SoarError,
    VendorResponseError,
    VendorUnavailable,
    snippet,
)
from core.redaction import scrub_values, secret_forms

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_RETRY_AFTER_S = 3600.0
# Header and field names whose values are credentials (x-apikey, Key, Authorization, client_secret, ...).
CREDENTIAL_NAME = re.compile(r"auth|key|token|secret|passw|sig|cookie", re.IGNORECASE)
F = TypeVar("F", bound=Callable[..., Any])


def _scrubbing(fn: F) -> F:
    """Wrap a client method so that a `SoarError` raised through it leaves without the client's secrets."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(self: VendorClient, *args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(self, *args, **kwargs)
            except SoarError as e:
                self.scrub_error(e)
                raise
        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(self: VendorClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except SoarError as e:
            self.scrub_error(e)
            raise
    return run  # type: ignore[return-value]


def _wrap_methods(cls: type) -> None:
    for name, member in list(vars(cls).items()):
        if inspect.isfunction(member) and not name.startswith("__") and name not in ("scrub", "scrub_error"):
            setattr(cls, name, _scrubbing(member))


def parse_retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date -> a delay (capped at an hour)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return timedelta(seconds=min(max(seconds, 0.0), MAX_RETRY_AFTER_S))


def epoch_to_delay(value: str | None) -> timedelta | None:
    """An epoch-seconds reset time (CrowdStrike `X-Ratelimit-Retryafter`, AbuseIPDB `X-RateLimit-Reset`)."""
    if not value:
        return None
    try:
        seconds = float(value) - time.time()
    except ValueError:
        return None
    return timedelta(seconds=min(max(seconds, 0.0), MAX_RETRY_AFTER_S))


class VendorClient:
    """An httpx.AsyncClient wrapper: the one place a vendor's HTTP answers become our errors."""

    vendor = "vendor"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _wrap_methods(cls)  # every connector's own methods scrub too, not only the ones of this class

    def __init__(self, *, asset_name: str, base_url: str, timeout_s: float = 30.0, verify: bool = True,
                 headers: dict[str, str] | None = None, auth: httpx.Auth | tuple[str, str] | None = None) -> None:
        self.asset_name = asset_name
        self.base_url = base_url.rstrip("/")
        self._secret_forms: set[str] = set()
        self._learn(headers)
        if isinstance(auth, tuple):
            user, password = auth
            self.scrub_secrets([password, base64.b64encode(f"{user}:{password}".encode()).decode()])
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, verify=verify,
                                      headers=headers or {}, auth=auth,
                                      follow_redirects=False)

    # --- secrets ----------------------------------------------------------------------------------
    def scrub_secrets(self, values: Iterable[str]) -> None:
        """Scrub these values (and their encoded forms) from every error this client raises."""
        for v in values:
            if isinstance(v, str):
                self._secret_forms |= secret_forms(v)

    def scrub(self, text: str) -> str:
        """`text` with every known secret replaced by `***`."""
        return scrub_values(text, self._secret_forms) if self._secret_forms else text

    def scrub_error(self, e: SoarError) -> None:
        """Scrub an error's message (its args) in place."""
        if self._secret_forms:
            e.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in e.args)

    def _learn(self, fields: Mapping[str, Any] | Any) -> None:
        """Remember the values of credential-named headers or fields (a `Bearer x` token as `x` too)."""
        items = fields.items() if isinstance(fields, Mapping) else fields if isinstance(fields, list) else ()
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                continue
            name, value = item
            if isinstance(name, str) and isinstance(value, str) and CREDENTIAL_NAME.search(name):
                self.scrub_secrets([value, value.split(" ", 1)[-1]])

    # --- hooks -----------------------------------------------------------------------------------
    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """The vendor's own error text from its error envelope (override per vendor)."""
        return ""

    def retry_after(self, resp: httpx.Response) -> timedelta | None:
        """The vendor's retry signal on a 429 (override per vendor)."""
        return parse_retry_after(resp.headers.get("Retry-After"))

    def auth_hint(self) -> str:
        """What to check when the vendor rejects the credentials."""
        return "check the credentials in the asset configuration"

    # --- the boundary -----------------------------------------------------------------------------
    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; transport failures become `VendorUnavailable`. Body size is capped."""
        for part in ("headers", "data", "json", "params"):
            self._learn(kwargs.get(part))
        try:
            req = self.http.build_request(method, path, **kwargs)
            resp = await self.http.send(req, stream=True)
        except httpx.TimeoutException:
            raise VendorUnavailable(f"{self.vendor} timed out ({method} {path.split('?')[0]})") from None
        except httpx.TransportError as e:
            raise VendorUnavailable(
                f"{self.vendor} unreachable at {self.base_url}: {type(e).__name__}; "
                f"check base_url of asset '{self.asset_name}' and the network"
            ) from None
        try:
            chunks, total = [], 0
            async for chunk in resp.aiter_bytes():
                total += len(chunk)
                if total > MAX_BODY_BYTES:
                    raise VendorResponseError(
                        f"{self.vendor} answered a body larger than {MAX_BODY_BYTES} bytes; refusing to read it"
                    )
                chunks.append(chunk)
            resp._content = b"".join(chunks)
        except httpx.TransportError:
            raise VendorUnavailable(f"{self.vendor} connection broke while reading the answer") from None
        finally:
            await resp.aclose()
        return resp

    def parse_json(self, resp: httpx.Response) -> Any:
        """The JSON body or a `VendorResponseError` quoting a short snippet."""
        try:
            return json.loads(resp.content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            ctype = resp.headers.get("content-type", "?")
            raise VendorResponseError(
                f"{self.vendor} answered HTTP {resp.status_code} with a body that is not JSON "
                f"(content-type {ctype}): {snippet(resp.content)!r}"
            ) from None

    def raise_for_status(self, resp: httpx.Response, *, not_found_ok: bool = False) -> None:
        """Map an HTTP status to our error tree."""
        status = resp.status_code
        if status < 400:
            return
        try:
            body = json.loads(resp.content) if resp.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        detail = self.error_detail(resp, body) if body is not None else ""
        detail = snippet(detail or resp.reason_phrase or "", 200)
        if status in (401, 403):
            raise AuthError(f"{self.vendor} rejected the request of asset '{self.asset_name}' "
                            f"(HTTP {status}: {detail}); {self.auth_hint()}")
        if status == 404 and not not_found_ok:
            raise NotFound(f"{self.vendor}: not found ({detail})")
        if status == 404:
            return
        self.raise_if_transient(resp, detail)
        raise VendorResponseError(f"{self.vendor} refused the request (HTTP {status}: {detail})")

    def raise_if_transient(self, resp: httpx.Response, detail: str) -> None:
        """429 -> RateLimited with the vendor's delay; 5xx/408/425 -> VendorUnavailable. Otherwise return."""
        status = resp.status_code
        if status == 429:
            delay = self.retry_after(resp)
            wait = f"; retrying in {delay.total_seconds():.0f}s as the vendor asked" if delay else ""
            raise RateLimited(f"{self.vendor} rate limit hit (HTTP 429: {detail}){wait}", retry_after=delay)
        if status >= 500 or status in (408, 425):
            raise VendorUnavailable(f"{self.vendor} is unavailable (HTTP {status}: {detail})",
                                    retry_after=parse_retry_after(resp.headers.get("Retry-After")))

    async def request_json(self, method: str, path: str, *, expect: tuple[int, ...] = (200,),
                           not_found_ok: bool = False, **kwargs: Any) -> tuple[int, Any]:
        """Send, map errors, and parse a JSON answer. Returns (status, body); body is None on an allowed 404."""
        resp = await self.send(method, path, **kwargs)
        self.raise_for_status(resp, not_found_ok=not_found_ok)
        if resp.status_code == 404 and not_found_ok:
            return 404, None
        if resp.status_code not in expect:
            raise VendorResponseError(f"{self.vendor} answered HTTP {resp.status_code}, expected "
                                      f"{'/'.join(map(str, expect))}: {snippet(resp.content)!r}")
        return resp.status_code, self.parse_json(resp)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()


_wrap_methods(VendorClient)
