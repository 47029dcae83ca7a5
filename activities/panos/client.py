"""PAN-OS XML API client: the one place firewall answers become our errors.

Every request is `POST <base_url>/api/` with a form-encoded body. The API key travels in the
`X-PAN-KEY` header, never in a URL, so it cannot end up in access or client logs. Replies are parsed
with defusedxml only (DTDs, entities and external references refused), so a hostile or broken device
cannot expand an XML bomb in the worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from activities._http import VendorClient
from activities.panos.config import PanosConfig
from core.errors import AuthError, VendorResponseError, VendorUnavailable, snippet

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

API_PATH = "/api/"
AUTH_CODES = {"403", "22"}  # bad/expired key, session timed out: a fresh key may help
UNAUTHORIZED = "16"  # the admin role lacks the right: a fresh key will not help
CODE_NAMES = {
    "400": "Bad request", "403": "Forbidden", "1": "Unknown command", "6": "Bad Xpath",
    "7": "Object not present", "8": "Object not unique", "10": "Reference count not zero",
    "12": "Invalid object", "13": "Object not found", "14": "Operation not possible",
    "15": "Operation denied", "16": "Unauthorized", "17": "Invalid command", "18": "Malformed command",
    "22": "Session timed out",
}
BAD_REQUEST_CODES = {"400", "6", "7", "12", "13", "17", "18"}


class _KeyRejected(Exception):
    """The device refused the key (HTTP 403, code 403/22, "Invalid Credential"); maybe regenerate it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class CommitOutcome:
    """How a commit ended: the job id (None when there was nothing to commit) and its last line."""

    job_id: str | None
    message: str


def parse_xml(content: bytes, vendor: str = "PAN-OS") -> Element:
    """Parse a reply with defusedxml (no DTD, no entities, no external references).

    Raises:
        VendorResponseError: the body is not well-formed XML or is hostile (DTD/entity bomb).
    """
    try:
        return fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise VendorResponseError(f"{vendor} answered XML with a forbidden construct "
                                  f"({type(e).__name__}); refusing to parse it") from None
    except (ParseError, ValueError):
        raise VendorResponseError(f"{vendor} answered a body that is not well-formed XML: "
                                  f"{snippet(content)!r}") from None


def reply_message(root: Element | None) -> str:
    """The text of the reply's `<msg>` (directly or under `<result>`; `<line>`s joined)."""
    if root is None:
        return ""
    for msg in root.iter("msg"):
        lines = ["".join(line.itertext()).strip() for line in msg.iter("line")]
        text = "; ".join(x for x in lines if x) or "".join(msg.itertext()).strip()
        if text:
            return snippet(text, 300)
    return ""


def members(node: Element | None, path: str) -> list[str]:
    """Texts of the `<member>`s under `path` of `node` (e.g. `static`, `list`, `destination`)."""
    if node is None:
        return []
    return [(m.text or "").strip() for m in node.findall(f"{path}/member")]


class PanosClient(VendorClient):
    """XML API client of one firewall asset; caches the API key for the life of the process."""

    vendor = "PAN-OS"

    def __init__(self, *, asset_name: str, config: PanosConfig) -> None:
        super().__init__(asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
                         verify=config.verify_ssl)
        self.config = config
        self._key: str | None = config.api_key.get_secret_value() if config.api_key else None
        self._key_lock = asyncio.Lock()

    def auth_hint(self) -> str:
        """What to check when the device rejects the credentials."""
        if self.config.can_keygen:
            return "check username/password of the asset and that the admin has XML API rights"
        return "check api_key of the asset (or configure username and password to generate one)"

    # --- the boundary -----------------------------------------------------------------------------
    def check(self, resp: httpx.Response, ok_codes: Iterable[str] = ()) -> Element:
        """Map one HTTP exchange to our errors; return the `<response>` element on success.

        Raises:
            _KeyRejected, AuthError, RateLimited, VendorUnavailable, VendorResponseError.
        """
        status = resp.status_code
        try:
            root: Element | None = parse_xml(resp.content, self.vendor) if resp.content else None
            bad_body: VendorResponseError | None = None
        except VendorResponseError as e:
            root, bad_body = None, e
        detail = reply_message(root) or snippet(resp.reason_phrase or "", 200)
        self.raise_if_transient(resp, detail)
        if status in (401, 403):
            raise _KeyRejected(f"HTTP {status}: {detail}")
        if root is None:
            raise bad_body or VendorResponseError(f"{self.vendor} answered HTTP {status} with an empty body")
        if root.tag != "response":
            raise VendorResponseError(f"{self.vendor} answered XML without a <response> envelope "
                                      f"(<{snippet(root.tag, 40)}>): {snippet(resp.content)!r}")
        code = (root.get("code") or "").strip()
        if root.get("status") == "success" or code in ok_codes:
            return root
        name = CODE_NAMES.get(code, "error")
        if code in AUTH_CODES or "invalid credential" in detail.lower():
            raise _KeyRejected(f"code {code or '?'} {name}: {detail}")
        if code == UNAUTHORIZED:
            raise AuthError(f"{self.vendor} refused the request of asset '{self.asset_name}' (code 16 "
                            f"Unauthorized: {detail}); give the admin's role XML API rights for it")
        kind = "refused the request as invalid" if code in BAD_REQUEST_CODES else "answered an error"
        raise VendorResponseError(
            f"{self.vendor} {kind} (code {code or '?'} {name}: {detail or 'no message'})")

    async def _post(self, data: dict[str, str], key: str | None, ok_codes: Iterable[str]) -> Element:
        headers = {"X-PAN-KEY": key} if key else {}
        resp = await self.send("POST", API_PATH, data=data, headers=headers)
        return self.check(resp, ok_codes)

    async def keygen(self) -> str:
        """Generate an API key from username/password (`type=keygen`) and cache it.

        Raises:
            AuthError: the device refused the credentials; plus the errors of `check`.
        """
        if not self.config.can_keygen or self.config.password is None:
            raise AuthError(f"{self.vendor} rejected the api_key of asset '{self.asset_name}'; "
                            f"{self.auth_hint()}")
        data = {"type": "keygen", "user": self.config.username or "",
                "password": self.config.password.get_secret_value()}
        try:
            root = await self._post(data, None, ())
        except _KeyRejected as e:
            raise AuthError(f"{self.vendor} rejected the username/password of asset '{self.asset_name}' "
                            f"({e.detail}); {self.auth_hint()}") from None
        key = (root.findtext("result/key") or "").strip()
        if not key:
            raise VendorResponseError(f"{self.vendor} keygen reply has no <result><key>")
        self._key = key
        return key

    async def _current_key(self) -> str:
        if self._key:
            return self._key
        async with self._key_lock:
            return self._key or await self.keygen()

    async def call(self, data: dict[str, str], ok_codes: Iterable[str] = ()) -> Element:
        """One XML API request with the cached key; a rejected key is regenerated once.

        Args:
            data: the form fields (`type`, `action`, `xpath`, `element`, `cmd`, ...), without the key.
            ok_codes: error codes that are an expected answer here (e.g. "7" for a missing object).

        Raises:
            AuthError, RateLimited, VendorUnavailable, VendorResponseError.
        """
        key = await self._current_key()
        try:
            return await self._post(data, key, ok_codes)
        except _KeyRejected as e:
            first = e.detail
        if not self.config.can_keygen:
            raise AuthError(f"{self.vendor} rejected the api_key of asset '{self.asset_name}' ({first}); "
                            f"{self.auth_hint()}")
        async with self._key_lock:
            if self._key == key:  # nobody refreshed it meanwhile
                self._key = None
                await self.keygen()
        try:
            return await self._post(data, await self._current_key(), ok_codes)
        except _KeyRejected as e:
            raise AuthError(f"{self.vendor} rejected a freshly generated key of asset '{self.asset_name}' "
                            f"({e.detail}); {self.auth_hint()}") from None

    # --- the calls the actions use ----------------------------------------------------------------
    async def show(self, xpath: str, *, candidate: bool = False) -> Element | None:
        """The node at `xpath` in the running config (`show`) or candidate config (`get`); None if absent."""
        root = await self.call({"type": "config", "action": "get" if candidate else "show", "xpath": xpath},
                               ok_codes=("7",))
        result = root.find("result")
        if root.get("code") == "7" or result is None or len(result) == 0:
            return None
        return result[0]

    async def set(self, xpath: str, element: str) -> None:
        """Merge `element` into the candidate config at `xpath` (`action=set`)."""
        await self.call({"type": "config", "action": "set", "xpath": xpath, "element": element})

    async def delete(self, xpath: str, ok_codes: Iterable[str] = ("7",)) -> str:
        """Delete the node at `xpath` from the candidate config; returns the reply code ("7": was absent)."""
        root = await self.call({"type": "config", "action": "delete", "xpath": xpath}, ok_codes=ok_codes)
        return root.get("code") or ""

    async def move_top(self, xpath: str) -> None:
        """Move a rule to the top of its rulebase (code 14, already at the top, is fine)."""
        await self.call({"type": "config", "action": "move", "xpath": xpath, "where": "top"},
                        ok_codes=("14",))

    async def op(self, cmd: str) -> Element:
        """Run an operational command (`type=op`); returns the `<response>`."""
        return await self.call({"type": "op", "cmd": cmd})

    async def commit(self, heartbeat: Callable[..., Any] = lambda *a: None) -> CommitOutcome:
        """Commit the candidate config (partial, this admin's changes) and wait for the job.

        Raises:
            VendorResponseError: the job finished with a result other than OK (quotes its details).
            VendorUnavailable: the job did not finish within `commit_timeout_s`.
        """
        user = self.config.username
        cmd = (f"<commit><partial><admin><member>{escape(user)}</member></admin></partial></commit>"
               if user else "<commit></commit>")
        root = await self.call({"type": "commit", "cmd": cmd})
        job_id = (root.findtext("result/job") or "").strip()
        if not job_id:
            return CommitOutcome(None, reply_message(root) or "There are no changes to commit.")
        if not job_id.isdigit():
            raise VendorResponseError(
                f"{self.vendor} commit reply has a malformed job id {snippet(job_id, 40)!r}")
        deadline = time.monotonic() + self.config.commit_timeout_s
        while True:
            reply = await self.op(f"<show><jobs><id>{job_id}</id></jobs></show>")
            job = reply.find("result/job")
            if job is None:
                raise VendorResponseError(f"{self.vendor} show jobs reply for job {job_id} has no <job>")
            state, result = job.findtext("status", ""), job.findtext("result", "")
            if state == "FIN":
                lines = "; ".join((x.text or "").strip() for x in job.iter("line") if (x.text or "").strip())
                if result != "OK":
                    raise VendorResponseError(
                        f"{self.vendor} commit job {job_id} on {self.config.device_name} finished with "
                        f"result {result or '?'}: {snippet(lines or 'no details', 400)}")
                return CommitOutcome(job_id, lines or "Configuration committed successfully")
            heartbeat(f"commit job {job_id}: {state} {job.findtext('progress', '')}%")
            if time.monotonic() >= deadline:
                raise VendorUnavailable(f"{self.vendor} commit job {job_id} did not finish within "
                                        f"{self.config.commit_timeout_s:.0f}s (last status {state})")
            await asyncio.sleep(self.config.commit_poll_s)
