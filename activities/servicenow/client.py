"""The ServiceNow Table API client: the one place ServiceNow answers become our errors.

Errors come as `{"error": {"message", "detail"}, "status": "failure"}`; a 429 carries `Retry-After`
(seconds). Records come as `{"result": {...}}` (one) or `{"result": [...]}` (a query), every field a
string except references, which are `{"link", "value"}` objects.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from activities._http import VendorClient
from activities.servicenow.config import ServiceNowConfig
from core.errors import InvalidParameter, VendorResponseError, snippet

TABLE_RE = re.compile(r"^[a-z0-9_]{1,80}$")
SYS_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class ServiceNowClient(VendorClient):
    """Table API client for one instance (Basic auth)."""

    vendor = "ServiceNow"

    def __init__(self, *, asset_name: str, config: ServiceNowConfig) -> None:
        super().__init__(asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
                         verify=config.verify_ssl,
                         headers={"Accept": "application/json", "User-Agent": "soar-servicenow/0.1"},
                         auth=(config.username, config.password.get_secret_value()))
        self.username = config.username

    # --- hooks -----------------------------------------------------------------------------------
    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """`error.message` and `error.detail` of ServiceNow's error envelope."""
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            return ""
        message, detail = err.get("message") or "", err.get("detail") or ""
        return f"{message}: {detail}" if message and detail else str(message or detail)

    def auth_hint(self) -> str:
        """What to check on a 401/403."""
        return ("check username/password of the asset and that the user has the itil role "
                "(and read/write ACLs on the table)")

    # --- Table API -------------------------------------------------------------------------------
    @staticmethod
    def _path(table: str, sys_id: str | None = None) -> str:
        if not TABLE_RE.match(table):  # params models validate too; this guards every caller
            raise InvalidParameter(f"table {table[:40]!r} must match ^[a-z0-9_]+$")
        if sys_id is not None and not SYS_ID_RE.match(sys_id):
            raise InvalidParameter(f"sys_id {sys_id[:40]!r} must be 32 lower-case hex characters")
        return f"/api/now/table/{table}" + (f"/{sys_id}" if sys_id else "")

    def _result(self, resp_body: Any, kind: type) -> Any:
        result = resp_body.get("result") if isinstance(resp_body, dict) else None
        if not isinstance(result, kind):
            raise VendorResponseError(f"ServiceNow answered without a 'result' {kind.__name__}: "
                                      f"{snippet(str(resp_body))!r}")
        return result

    async def query(self, table: str, query: str, *, limit: int = 1,
                    fields: list[str] | None = None) -> list[dict[str, Any]]:
        """Records of `table` matching an encoded query (`field=value^field2=value2`)."""
        params: dict[str, Any] = {"sysparm_query": query, "sysparm_limit": limit,
                                  "sysparm_exclude_reference_link": "true"}
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        _, body = await self.request_json("GET", self._path(table), params=params)
        return [r for r in self._result(body, list) if isinstance(r, dict)]

    async def get(self, table: str, sys_id: str) -> dict[str, Any] | None:
        """One record by sys_id, or None when the instance has no such record."""
        status, body = await self.request_json("GET", self._path(table, sys_id), not_found_ok=True,
                                               params={"sysparm_exclude_reference_link": "true"})
        return None if status == 404 else self._result(body, dict)

    async def create(self, table: str, fields: dict[str, str]) -> dict[str, Any]:
        """Insert a record; returns it as stored (with sys_id and number)."""
        _, body = await self.request_json("POST", self._path(table), expect=(201, 200), json=fields,
                                          params={"sysparm_exclude_reference_link": "true"})
        return self._result(body, dict)  # type: ignore[no-any-return]

    async def update(self, table: str, sys_id: str, fields: dict[str, str]) -> dict[str, Any]:
        """PATCH fields of a record; returns it as stored."""
        _, body = await self.request_json("PATCH", self._path(table, sys_id), json=fields,
                                          params={"sysparm_exclude_reference_link": "true"})
        return self._result(body, dict)  # type: ignore[no-any-return]
