"""Palo Alto Networks firewall actions (PAN-OS XML API): block/unblock an IP or a URL, test connectivity.

Every change goes to the candidate configuration and is then committed (a partial commit of this
admin's changes) and the commit job is polled until it finishes. Actions are idempotent: what is
already in the running configuration is reported as such and nothing is committed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.panos import objects as obj
from activities.panos.client import CommitOutcome, PanosClient, members
from activities.panos.config import VSYS_RE, PanosConfig
from core.connector import ActionContext, action
from core.models import ActionResult
from core.params import NoParams

ACTION_TIMEOUT = timedelta(minutes=15)  # a commit on a busy firewall takes minutes
Ctx = ActionContext[PanosConfig, PanosClient]


class VsysParams(BaseModel):
    """`vsys` overrides the asset's virtual system for one action (Splunk's parameter)."""

    model_config = ConfigDict(extra="forbid")

    vsys: str | None = None

    @field_validator("vsys", mode="before")
    @classmethod
    def _vsys(cls, v: Any) -> str | None:
        if v in (None, ""):
            return None
        if not isinstance(v, str) or not VSYS_RE.match(v):
            raise ValueError("must be a virtual system name like vsys1")
        return v


class IpParams(VsysParams):
    """Parameters of `block ip` / `unblock ip` (Splunk's `is_source_address` must stay false)."""

    ip: str
    is_source_address: bool = Field(default=False, description="Not supported: the SOAR rule denies "
                                                               "traffic to the address")

    @field_validator("ip", mode="before")
    @classmethod
    def _ip(cls, v: Any) -> str:
        return obj.validate_block_ip(v)

    @field_validator("is_source_address")
    @classmethod
    def _destination_only(cls, v: bool) -> bool:
        if v:
            raise ValueError("blocking the address as a source is not supported; the SOAR rule denies traffic "
                             "to it (set is_source_address to false)")
        return v


class UrlParams(VsysParams):
    """Parameters of `block url` / `unblock url` (Splunk's `sec_policy` and `ph` are accepted, see data)."""

    url: str
    sec_policy: str | None = Field(default=None, description="Accepted; the SOAR URL rule is always used")
    ph: Any = Field(default=None, description="Splunk's layout placeholder; unused")

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> str:
        return obj.validate_block_url(v)


def _vsys(ctx: Ctx, p: VsysParams) -> str:
    return p.vsys or ctx.config.vsys


def _commit_note(outcome: CommitOutcome) -> dict[str, Any]:
    return {"commit_job": outcome.job_id, "commit_message": outcome.message}


async def _ensure_deny_rule(client: PanosClient, xp: obj.XPaths, rule: str, element: str,
                            *, path: str, want: str) -> bool:
    """Create the deny rule (or add `want` to its `path` members) and move it to the top.

    Returns whether the candidate config changed.
    """
    existing = await client.show(xp.rule(rule), candidate=True)
    if existing is not None and want in members(existing, path) and existing.findtext("action") == "deny":
        return False
    await client.set(xp.rule(rule), element)
    await client.move_top(xp.rule(rule))
    return True


async def _rule_blocks(client: PanosClient, xp: obj.XPaths, rule: str, *, path: str, want: str) -> bool:
    """Whether the running config has the deny rule with `want` among its `path` members."""
    running = await client.show(xp.rule(rule))
    return running is not None and want in members(running, path) and running.findtext("action") == "deny"


async def _remove_member(client: PanosClient, *, container: str, member: str, path: str, value: str,
                         rule: str) -> bool:
    """Remove `value` from a SOAR group/category in the candidate config. When it is the last member,
    remove the SOAR rule and the container instead: PAN-OS refuses an empty static group at commit.

    Returns whether the candidate config changed.
    """
    current = members(await client.show(container, candidate=True), path)
    if value not in current:
        return False
    if current == [value]:
        await client.delete(rule)
        if await client.delete(container, ok_codes=("7", "10")) != "10":
            return True
    await client.delete(member)
    return True


@action("block ip", params=IpParams, read_only=False, target="ip", timeout=ACTION_TIMEOUT)
async def block_ip(ctx: Ctx, p: IpParams) -> ActionResult:
    """Deny traffic to an IP/CIDR: address object in the SOAR address group, denied by the SOAR rule."""
    client, cfg = ctx.client, ctx.config
    vsys = _vsys(ctx, p)
    xp, name = obj.XPaths(vsys), obj.address_name(p.ip)
    data: dict[str, Any] = {"ip": p.ip, "address_name": name, "address_group": obj.IP_GROUP,
                            "rule": obj.IP_RULE, "vsys": vsys}
    group = await client.show(xp.group())
    if name in members(group, "static") and await _rule_blocks(client, xp, obj.IP_RULE,
                                                              path="destination", want=obj.IP_GROUP):
        return ActionResult(message=f"Already blocked on {cfg.device_name}",
                            summary={"blocked": True, "already_blocked": True, "device": cfg.device_name},
                            data=[{**data, "already_blocked": True}])
    tag = obj.tag_name(ctx.container_id)
    await client.set(xp.tags(), obj.tag_element(tag, ctx.container_id))
    await client.set(xp.address(name), obj.address_element(p.ip, tag))
    await client.set(xp.group(), obj.group_element(name))
    await _ensure_deny_rule(client, xp, obj.IP_RULE, obj.deny_rule_element(destination=obj.IP_GROUP),
                            path="destination", want=obj.IP_GROUP)
    outcome = await client.commit(ctx.heartbeat)
    return ActionResult(message=f"Blocked on {cfg.device_name}",
                        summary={"blocked": True, "already_blocked": False, "device": cfg.device_name},
                        data=[{**data, "already_blocked": False, "tag": tag, **_commit_note(outcome)}])


@action("unblock ip", params=IpParams, read_only=False, target="ip", timeout=ACTION_TIMEOUT)
async def unblock_ip(ctx: Ctx, p: IpParams) -> ActionResult:
    """Remove an IP/CIDR from the SOAR address group and delete its address object."""
    client, cfg = ctx.client, ctx.config
    vsys = _vsys(ctx, p)
    xp, name = obj.XPaths(vsys), obj.address_name(p.ip)
    was_blocked = name in members(await client.show(xp.group()), "static")
    changed = await _remove_member(client, container=xp.group(), member=xp.group_member(name),
                                   path="static", value=name, rule=xp.rule(obj.IP_RULE))
    # "10": the object is still used elsewhere (not ours to break), so it stays.
    code = await client.delete(xp.address(name), ok_codes=("7", "10"))
    changed = changed or code not in ("7", "10")
    data: dict[str, Any] = {"ip": p.ip, "address_name": name, "address_group": obj.IP_GROUP, "vsys": vsys,
                            "address_object_kept": code == "10"}
    if not (was_blocked or changed):
        return ActionResult(message=f"Not blocked on {cfg.device_name}; nothing to remove",
                            summary={"unblocked": False, "device": cfg.device_name},
                            data=[{**data, "was_blocked": False}])
    outcome = await client.commit(ctx.heartbeat)
    return ActionResult(message=f"Unblocked on {cfg.device_name}",
                        summary={"unblocked": True, "device": cfg.device_name},
                        data=[{**data, "was_blocked": was_blocked, **_commit_note(outcome)}])


@action("block url", params=UrlParams, read_only=False, target="url", timeout=ACTION_TIMEOUT)
async def block_url(ctx: Ctx, p: UrlParams) -> ActionResult:
    """Deny a URL: entry in the SOAR custom URL category, denied by the SOAR URL rule."""
    client, cfg = ctx.client, ctx.config
    vsys = _vsys(ctx, p)
    xp, entry = obj.XPaths(vsys), obj.url_entry(p.url)
    data: dict[str, Any] = {"url": p.url, "entry": entry, "url_category": obj.URL_CATEGORY,
                            "rule": obj.URL_RULE, "vsys": vsys}
    if p.sec_policy:
        data["sec_policy_ignored"] = f"{p.sec_policy[:100]}: the SOAR rule {obj.URL_RULE!r} denies the category"
    category = await client.show(xp.url_category())
    if entry in members(category, "list") and await _rule_blocks(client, xp, obj.URL_RULE,
                                                                path="category", want=obj.URL_CATEGORY):
        return ActionResult(message=f"Already blocked on {cfg.device_name}",
                            summary={"blocked": True, "already_blocked": True, "device": cfg.device_name},
                            data=[{**data, "already_blocked": True}])
    await client.set(xp.url_category(), obj.url_category_element(entry))
    await _ensure_deny_rule(client, xp, obj.URL_RULE, obj.deny_rule_element(category=obj.URL_CATEGORY),
                            path="category", want=obj.URL_CATEGORY)
    outcome = await client.commit(ctx.heartbeat)
    return ActionResult(message=f"Blocked on {cfg.device_name}",
                        summary={"blocked": True, "already_blocked": False, "device": cfg.device_name},
                        data=[{**data, "already_blocked": False, **_commit_note(outcome)}])


@action("unblock url", params=UrlParams, read_only=False, target="url", timeout=ACTION_TIMEOUT)
async def unblock_url(ctx: Ctx, p: UrlParams) -> ActionResult:
    """Remove a URL from the SOAR custom URL category."""
    client, cfg = ctx.client, ctx.config
    vsys = _vsys(ctx, p)
    xp, entry = obj.XPaths(vsys), obj.url_entry(p.url)
    was_blocked = entry in members(await client.show(xp.url_category()), "list")
    changed = await _remove_member(client, container=xp.url_category(), member=xp.url_member(entry),
                                   path="list", value=entry, rule=xp.rule(obj.URL_RULE))
    data: dict[str, Any] = {"url": p.url, "entry": entry, "url_category": obj.URL_CATEGORY, "vsys": vsys}
    if not (was_blocked or changed):
        return ActionResult(message=f"Not blocked on {cfg.device_name}; nothing to remove",
                            summary={"unblocked": False, "device": cfg.device_name},
                            data=[{**data, "was_blocked": False}])
    outcome = await client.commit(ctx.heartbeat)
    return ActionResult(message=f"Unblocked on {cfg.device_name}",
                        summary={"unblocked": True, "device": cfg.device_name},
                        data=[{**data, "was_blocked": was_blocked, **_commit_note(outcome)}])


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Get a key (if needed) and read `show system info`."""
    client, cfg = ctx.client, ctx.config
    root = await client.op("<show><system><info></info></system></show>")
    info = {k: (root.findtext(f"result/system/{k}") or "").strip()
            for k in ("hostname", "model", "sw-version", "serial", "ip-address")}
    return ActionResult(
        message=(f"Connected to {cfg.device_name}: hostname {info['hostname'] or '?'}, model "
                 f"{info['model'] or '?'}, PAN-OS {info['sw-version'] or '?'}"),
        summary={"hostname": info["hostname"], "model": info["model"], "sw_version": info["sw-version"]},
        data=[info],
    )
