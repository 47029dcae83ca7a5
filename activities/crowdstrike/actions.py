"""CrowdStrike Falcon actions: get system info, quarantine / unquarantine device, test connectivity.

Containment is idempotent: the device's status is read first, so a retried activity (or a second
playbook) never sends a second `contain` for a host that is already contained or being contained.

As in Splunk's "CrowdStrike OAuth API" app, a device is named by `hostname` or `device_id` (one device
per action here), and the summary carries the app's `total_quarantined_device` next to our fields.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from activities.crowdstrike.client import CrowdStrikeClient
from activities.crowdstrike.config import CrowdStrikeConfig
from core.cef import validate_host
from core.connector import ActionContext, action
from core.errors import InvalidParameter, NotFound
from core.models import ActionResult
from core.params import NoParams

CONTAINED = {"contained", "containment_pending"}
RELEASED = {"normal", "lift_containment_pending"}
SUMMARY_FIELDS = ("hostname", "device_id", "status", "platform_name", "os_version", "local_ip",
                  "external_ip", "mac_address", "agent_version", "last_seen")
DEVICE_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")
Ctx = ActionContext[CrowdStrikeConfig, CrowdStrikeClient]


def _single(v: Any) -> Any:
    if isinstance(v, str) and "," in v:
        raise ValueError(f"one device per action: run the action once for each of {v[:80]!r}")
    return v


def _host(v: Any) -> str:
    try:
        return validate_host("hostname", _single(v))
    except ValueError as e:  # the shared validator speaks of CEF fields; this is an action parameter
        raise ValueError(str(e).removeprefix("cef.hostname ")) from None


class DeviceParams(BaseModel):
    """A device by `hostname` or Falcon `device_id` (Splunk's parameters); `cid`, if given, must be the asset's.

    The host name is validated so it cannot change the FQL filter it is put into.
    """

    model_config = ConfigDict(extra="forbid")

    hostname: str | None = None
    device_id: str | None = None
    cid: str | None = None

    @field_validator("hostname", mode="before")
    @classmethod
    def _hostname(cls, v: Any) -> str | None:
        return None if v in (None, "") else _host(v)

    @field_validator("device_id", mode="before")
    @classmethod
    def _device_id(cls, v: Any) -> str | None:
        if v in (None, ""):
            return None
        v = _single(v)
        if not isinstance(v, str) or not DEVICE_ID_RE.match(v.strip()):
            raise ValueError("must be a Falcon device id (32 hex characters)")
        return v.strip().lower()

    @model_validator(mode="after")
    def _either(self) -> DeviceParams:
        if self.hostname is None and self.device_id is None:
            raise ValueError("give hostname or device_id")
        return self


async def find_device(client: CrowdStrikeClient, hostname: str) -> tuple[dict[str, Any], int]:
    """The device called `hostname` (the most recently seen one if several share the name).

    Returns:
        The device and how many devices matched.

    Raises:
        NotFound: Falcon has no device with that host name.
    """
    ids = await client.find_device_ids(hostname)
    if not ids:
        raise NotFound(f"CrowdStrike has no device with hostname '{hostname}'; check the name "
                       "(Falcon matches the host name the sensor reports, without the domain)")
    devices = await client.get_devices(ids)
    devices.sort(key=lambda d: str(d.get("last_seen") or ""), reverse=True)
    return devices[0], len(devices)


async def resolve_device(ctx: Ctx, p: DeviceParams) -> tuple[dict[str, Any], int]:
    """The device named by `p`: by id when given, else by host name.

    Raises:
        InvalidParameter: `cid` is not the CID this asset acts on.
        NotFound: Falcon has no such device.
    """
    if p.cid is not None and p.cid.lower().split("-")[0] != (ctx.config.member_cid or "").split("-")[0]:
        raise InvalidParameter("cid: this asset acts on its own CID only (set member_cid on the asset to act "
                               f"on a child CID); got {p.cid[:40]!r}")
    if p.device_id is None:
        assert p.hostname is not None
        return await find_device(ctx.client, p.hostname)
    device = await ctx.client.get_device(p.device_id)
    if device is None:
        raise NotFound(f"CrowdStrike has no device with id {p.device_id}")
    return device, 1


def summarize(device: dict[str, Any], matches: int = 1) -> dict[str, Any]:
    """The fields a playbook reads from a device."""
    out = {k: device.get(k) for k in SUMMARY_FIELDS}
    if matches > 1:
        out["matching_devices"] = matches
    return out


@action("get system info", params=DeviceParams, read_only=True, target="hostname")
async def get_system_info(ctx: Ctx, p: DeviceParams) -> ActionResult:
    """Look up a host's Falcon device record (platform, IPs, containment status, last seen)."""
    device, matches = await resolve_device(ctx, p)
    name = device.get("hostname") or p.hostname or p.device_id
    os_name = " ".join(str(x) for x in (device.get("platform_name"), device.get("os_version")) if x)
    status = device.get("status", "unknown")
    return ActionResult(message=f"{name}: {os_name or 'unknown OS'}, status {status}",
                        summary=summarize(device, matches), data=[device])


async def _set_containment(ctx: Ctx, p: DeviceParams, *, contain: bool) -> ActionResult:
    device, matches = await resolve_device(ctx, p)
    name = device.get("hostname") or p.hostname or p.device_id
    if contain:  # the guard saw only the parameter: a device named by id is judged by what Falcon says it is
        ctx.guardrails.check_host(str(device.get("hostname") or p.hostname or ""),
                                  [str(device["local_ip"])] if device.get("local_ip") else [])
    done, verb, action_name = (CONTAINED, "isolated", "contain") if contain else \
        (RELEASED, "released", "lift_containment")
    splunk_key = "total_quarantined_device" if contain else "total_unquarantined_device"
    status = str(device.get("status") or "")
    if status in done:
        summary = summarize(device, matches) | {"already": True, splunk_key: 1}
        return ActionResult(message=f"{name} already {verb}", summary=summary, data=[device])
    resources = await ctx.client.device_action(action_name, [device["device_id"]])
    summary = summarize(device, matches) | {
        "status": "contained" if contain else "normal", "previous_status": status, "already": False,
        splunk_key: 1,
    }
    return ActionResult(message=f"{name} {verb}", summary=summary,
                        data=resources or [{"id": device["device_id"]}])


@action("quarantine device", params=DeviceParams, read_only=False, high_impact=True, target="hostname",
        timeout=timedelta(seconds=60))
async def quarantine_device(ctx: Ctx, p: DeviceParams) -> ActionResult:
    """Network-contain a host (Falcon `contain`); a host already contained is left as it is."""
    return await _set_containment(ctx, p, contain=True)


@action("unquarantine device", params=DeviceParams, read_only=False, high_impact=True, target="hostname",
        timeout=timedelta(seconds=60))
async def unquarantine_device(ctx: Ctx, p: DeviceParams) -> ActionResult:
    """Lift network containment of a host (Falcon `lift_containment`); a free host is left as it is."""
    return await _set_containment(ctx, p, contain=False)


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Obtain a token and list one device: proves the credentials, the cloud URL and the Hosts: Read scope."""
    client = ctx.client
    body = await client.api("GET", "/devices/queries/devices/v1", params={"limit": 1})
    total = ((body.get("meta") or {}).get("pagination") or {}).get("total")
    return ActionResult(message=f"Connected to CrowdStrike at {client.base_url}; token obtained, "
                                f"{total if total is not None else 'some'} devices visible",
                        summary={"base_url": client.base_url, "devices": total})
