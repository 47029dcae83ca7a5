"""CrowdStrike Falcon actions: get system info, quarantine / unquarantine device, test connectivity.

Containment is idempotent: the device's status is read first, so a retried activity (or a second
playbook) never sends a second `contain` for a host that is already contained or being contained.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from activities.crowdstrike.client import CrowdStrikeClient
from core.cef import validate_host
from core.connector import ActionContext, action
from core.errors import NotFound
from core.models import ActionResult
from core.params import NoParams

CONTAINED = {"contained", "containment_pending"}
RELEASED = {"normal", "lift_containment_pending"}
SUMMARY_FIELDS = ("hostname", "device_id", "status", "platform_name", "os_version", "local_ip",
                  "external_ip", "mac_address", "agent_version", "last_seen")


class HostParams(BaseModel):
    """A host name, validated so it cannot change the FQL filter it is put into."""

    model_config = ConfigDict(extra="forbid")

    hostname: str

    @field_validator("hostname", mode="before")
    @classmethod
    def _host(cls, v: Any) -> str:
        try:
            return validate_host("hostname", v)
        except ValueError as e:  # the shared validator speaks of CEF fields; this is an action parameter
            raise ValueError(str(e).removeprefix("cef.hostname ")) from None


def client_for(ctx: ActionContext) -> CrowdStrikeClient:
    """The asset's client (created once per asset and kept in `ctx.state`; it caches the token)."""
    client = ctx.state.get("client")
    if client is None:
        cfg = ctx.config
        client = CrowdStrikeClient(asset_name=ctx.asset.asset_name, base_url=cfg.base_url,
                                   client_id=cfg.client_id, client_secret=cfg.client_secret,
                                   member_cid=cfg.member_cid, timeout_s=cfg.timeout_s, verify=cfg.verify_ssl)
        ctx.state["client"] = client
    return client  # type: ignore[no-any-return]


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


def summarize(device: dict[str, Any], matches: int = 1) -> dict[str, Any]:
    """The fields a playbook reads from a device."""
    out = {k: device.get(k) for k in SUMMARY_FIELDS}
    if matches > 1:
        out["matching_devices"] = matches
    return out


@action("get system info", params=HostParams, read_only=True, target="hostname")
async def get_system_info(ctx: ActionContext, p: HostParams) -> ActionResult:
    """Look up a host's Falcon device record (platform, IPs, containment status, last seen)."""
    device, matches = await find_device(client_for(ctx), p.hostname)
    name = device.get("hostname") or p.hostname
    os_name = " ".join(str(x) for x in (device.get("platform_name"), device.get("os_version")) if x)
    status = device.get("status", "unknown")
    return ActionResult(message=f"{name}: {os_name or 'unknown OS'}, status {status}",
                        summary=summarize(device, matches), data=[device])


async def _set_containment(ctx: ActionContext, hostname: str, *, contain: bool) -> ActionResult:
    client = client_for(ctx)
    device, matches = await find_device(client, hostname)
    name = device.get("hostname") or hostname
    done, verb, action_name = (CONTAINED, "isolated", "contain") if contain else \
        (RELEASED, "released", "lift_containment")
    status = str(device.get("status") or "")
    if status in done:
        summary = summarize(device, matches) | {"already": True}
        return ActionResult(message=f"{name} already {verb}", summary=summary, data=[device])
    resources = await client.device_action(action_name, [device["device_id"]])
    summary = summarize(device, matches) | {
        "status": "contained" if contain else "normal", "previous_status": status, "already": False,
    }
    return ActionResult(message=f"{name} {verb}", summary=summary,
                        data=resources or [{"id": device["device_id"]}])


@action("quarantine device", params=HostParams, read_only=False, high_impact=True, target="hostname",
        timeout=timedelta(seconds=60))
async def quarantine_device(ctx: ActionContext, p: HostParams) -> ActionResult:
    """Network-contain a host (Falcon `contain`); a host already contained is left as it is."""
    return await _set_containment(ctx, p.hostname, contain=True)


@action("unquarantine device", params=HostParams, read_only=False, high_impact=True, target="hostname",
        timeout=timedelta(seconds=60))
async def unquarantine_device(ctx: ActionContext, p: HostParams) -> ActionResult:
    """Lift network containment of a host (Falcon `lift_containment`); a free host is left as it is."""
    return await _set_containment(ctx, p.hostname, contain=False)


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: ActionContext, p: NoParams) -> ActionResult:
    """Obtain a token and list one device: proves the credentials, the cloud URL and the Hosts: Read scope."""
    client = client_for(ctx)
    body = await client.api("GET", "/devices/queries/devices/v1", params={"limit": 1})
    total = ((body.get("meta") or {}).get("pagination") or {}).get("total")
    return ActionResult(message=f"Connected to CrowdStrike at {client.base_url}; token obtained, "
                                f"{total if total is not None else 'some'} devices visible",
                        summary={"base_url": client.base_url, "devices": total})
