"""Guardrails: what a response action must never touch, checked inside the activity before any vendor call.

An approval says an analyst wanted an action; a guardrail says the action is wrong whoever wants it: blocking
our own ranges or the whole internet, disabling krbtgt or the SOAR's own bind account, isolating a domain
controller. `core.connector.execute()` calls `Guardrails.check` for every action that is not read-only,
after parameter validation and before the approval check; actions that can only judge their target after a
read (the AD connector's group membership, a Falcon device named by id) call the `check_*` methods
themselves before they write. A refusal is `GuardrailRefused`: never retried, and its type name is what the
workflow side and the audit log recognise.

What each action (of any connector) refuses by default:

- `block ip`: RFC 1918, loopback, link-local, CGNAT, unique-local and "this network" space; `org_networks`;
  `0.0.0.0/0`, `::/0` and any prefix shorter than `min_prefix_v4` (/24) or `min_prefix_v6` (/48).
- `block url`: hosts in, under or above `org_domains`; top-level wildcards (`*.com`, `*.co.uk`) and bare
  TLDs; an IP host as for `block ip`.
- `disable user`: `protected_accounts` (`krbtgt`, `Administrator`); the AD connector adds its own bind
  account, the RID-500/502 accounts whatever their name, members (nested, or by primary group) of
  `protected_groups`, and a `DOMAIN\\` prefix that is not the asset's domain.
- `quarantine device`: `protected_hosts` (names, `fnmatch` patterns, IPs or CIDRs).

`unblock ip`, `unblock url`, `enable user` and `unquarantine device` undo, so nothing refuses them.

The rules come from `SOAR_GUARDRAILS_FILE` (default `config/guardrails.json`; built-in defaults when that
file is absent). A list given in the file replaces the built-in list; an asset's `configuration.guardrails`
can only add: its lists are added to the file's and its prefix limits count when stricter.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from core.errors import ConfigError, GuardrailRefused
from core.settings import ROOT

if TYPE_CHECKING:
    from core.connector import ActionSpec, AssetConfig

log = logging.getLogger(__name__)
DEFAULT_FILE = ROOT / "config" / "guardrails.json"
Net = ipaddress.IPv4Network | ipaddress.IPv6Network
# Second-level labels under which registries sell names (co.uk, com.au, ne.jp, ...): `*.co.uk` is as wide
# as `*.com`. Without a public-suffix list this heuristic catches the common ccTLD structures.
REGISTRY_LABELS = {"co", "com", "net", "org", "ac", "edu", "gov", "gob", "go", "or", "ne", "mil", "nic"}
_NAME_RE = re.compile(r"^(\*\.)?[a-z0-9_*?-]+(\.[a-z0-9_*?-]+)*$")


def _network(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return ipaddress.ip_network(v.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{v[:60]!r} is not an IPv4/IPv6 address or CIDR network") from None
    return v


def _domain(v: Any) -> Any:
    if isinstance(v, str):
        d = v.strip().lower().rstrip(".").removeprefix("*.")
        if not _NAME_RE.match(d) or "*" in d or "?" in d:
            raise ValueError(f"{v[:60]!r} is not a domain name (e.g. corp.example.com)")
        return d
    return v


def _host_pattern(v: Any) -> Any:
    if isinstance(v, str):
        h = v.strip().lower().rstrip(".")
        try:
            return str(ipaddress.ip_network(h, strict=False))
        except ValueError:
            if not _NAME_RE.match(h):
                raise ValueError(f"{v[:60]!r} is neither a host name, a pattern like dc*.corp.example.com, "
                                 "an IP address nor a CIDR network") from None
        return h
    return v


Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(_network)]
Domain = Annotated[str, BeforeValidator(_domain)]
HostPattern = Annotated[str, BeforeValidator(_host_pattern)]
Name = Annotated[str, Field(min_length=1, max_length=256)]

DEFAULT_NEVER_BLOCK = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "127.0.0.0/8", "::1/128",                          # loopback
    "169.254.0.0/16", "fe80::/10",                     # link-local (and cloud metadata at 169.254.169.254)
    "100.64.0.0/10",                                   # CGNAT: ISPs' and overlay VPNs' (Tailscale) internal hosts
    "fc00::/7",                                        # IPv6 unique-local: RFC 1918's IPv6 counterpart
    "0.0.0.0/8", "::/128",                             # "this network" / unspecified
)]


class Guardrails(BaseModel):
    """The rules (the file's, or one asset's additions: then only the fields it sets count)."""

    model_config = ConfigDict(extra="forbid")

    never_block_networks: list[Network] = Field(default_factory=lambda: list(DEFAULT_NEVER_BLOCK))
    org_networks: list[Network] = Field(default_factory=list, description="The organisation's own ranges")
    min_prefix_v4: int = Field(default=24, ge=1, le=32, description="No IPv4 block wider than this")
    min_prefix_v6: int = Field(default=48, ge=1, le=128, description="No IPv6 block wider than this")
    org_domains: list[Domain] = Field(default_factory=list, description="Our domains (and their subdomains)")
    protected_accounts: list[Name] = Field(default_factory=lambda: ["krbtgt", "Administrator"])
    protected_groups: list[Name] = Field(
        default_factory=lambda: ["Domain Admins", "Enterprise Admins", "Schema Admins"])
    protected_hosts: list[HostPattern] = Field(default_factory=list,
                                               description="Domain controllers, the SOAR's own hosts, ...")
    trusted_relays: list[HostPattern] = Field(
        default_factory=list, description="Our own mail relays (CIDRs, host names): their Received hops count")
    _source: str = PrivateAttr(default="the built-in defaults")

    @property
    def source(self) -> str:
        """Where the rules were read from (named in refusals)."""
        return self._source

    def merged(self, extra: Guardrails | None) -> Guardrails:
        """These rules plus an asset's additions (lists added, the stricter prefix limit kept)."""
        if extra is None or not extra.model_fields_set:
            return self
        update: dict[str, Any] = {}
        for name in extra.model_fields_set:
            mine, theirs = getattr(self, name), getattr(extra, name)
            update[name] = list(dict.fromkeys([*mine, *theirs])) if isinstance(mine, list) else max(mine, theirs)
        out = self.model_copy(update=update)
        out._source = f"{self._source} plus the asset's configuration.guardrails"
        return out

    def for_asset(self, asset: AssetConfig) -> Guardrails:
        """The rules that apply to actions of `asset`."""
        return self.merged(getattr(asset.settings, "guardrails", None))

    # --- the hook -------------------------------------------------------------------------------
    def check(self, spec: ActionSpec, asset: AssetConfig, params: BaseModel) -> None:
        """Refuse the action when its target is one the rules protect (only the actions in `RULES`).

        Raises:
            GuardrailRefused: naming the rule, the value and the fix.
        """
        from core.connector import snake, target_of  # core.connector imports this module

        rule = next((RULES[n] for n in (snake(x) for x in spec.names) if n in RULES), None)
        value = target_of(spec, params)
        if rule is not None and value:
            rule(self.for_asset(asset), value)

    # --- rules ----------------------------------------------------------------------------------
    def _refuse(self, rule: str, value: str, problem: str, fix: str) -> GuardrailRefused:
        return GuardrailRefused(rule, value, problem, f"{fix} (rules from {self.source})")

    def check_block_ip(self, value: str) -> None:
        """Refuse blocking `value` (an address or CIDR) when it is ours, private, or too wide.

        Raises:
            GuardrailRefused: one of never_block_networks, org_networks, min_prefix_v4/v6.
        """
        try:
            net = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise self._refuse("block_ip", value, f"{value[:80]!r} is not an address or network the "
                               "guardrails can check", "give an IPv4/IPv6 address or CIDR network") from None
        mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
        if mapped is not None and net.prefixlen >= 96:  # ::ffff:10.0.0.1 is 10.0.0.1
            net = ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}")
        shown = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        if net.prefixlen == 0:
            raise self._refuse("whole_address_space", value, f"{net} is the whole address space",
                               "block single addresses or narrow networks; this one is never allowed")
        limit, knob = (self.min_prefix_v4, "min_prefix_v4") if net.version == 4 else \
            (self.min_prefix_v6, "min_prefix_v6")
        if net.prefixlen < limit:
            raise self._refuse("min_prefix", value, f"{net} is wider than /{limit} ({knob}): a block that wide "
                               "cuts off whole providers", f"block the address itself or a /{limit} or "
                               f"narrower network; lower {knob} only if such blocks are intended")
        for field, nets, why in (("org_networks", self.org_networks, "the organisation's own range"),
                                 ("never_block_networks", self.never_block_networks, "a never-block range")):
            hit = next((n for n in nets if n.version == net.version and n.overlaps(net)), None)
            if hit is not None:
                raise self._refuse(field, value, f"{shown} is in {why} {hit} ({field}); blocking it would cut "
                                   "off our own hosts", f"if this block is really intended, remove {hit} "
                                   f"from {field}")

    def check_block_url(self, value: str) -> None:
        """Refuse blocking a URL of our own domains, a top-level wildcard, a bare TLD or a protected IP.

        Raises:
            GuardrailRefused: one of org_domains, top_level_wildcard, or the `block ip` rules for an IP host.
        """
        v = value.strip()
        try:
            host = (urlsplit(v if "://" in v else f"http://{v}").hostname or "").rstrip(".").lower()
        except ValueError:
            host = ""
        if not host:
            raise self._refuse("block_url", value, f"{v[:80]!r} has no host the guardrails can check",
                               "give a URL like https://evil.example.com/path")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            self.check_block_ip(host)
            return
        wildcard = host.startswith("*.")
        base = host.removeprefix("*.")
        labels = base.split(".")
        if "." not in base or (wildcard and len(labels) == 2 and len(labels[1]) == 2
                               and labels[0] in REGISTRY_LABELS):
            what = f"'{host}' is a top-level wildcard" if wildcard else f"'{host}' is a bare top-level domain"
            raise self._refuse("top_level_wildcard", value, f"{what}: it would block a whole registry",
                               "block the malicious host or its registered domain (evil.example.com)")
        for d in self.org_domains:
            if base == d or base.endswith(f".{d}") or d.endswith(f".{base}"):
                rel = "is" if base == d else "is under" if base.endswith(f".{d}") else "contains"
                raise self._refuse("org_domains", value, f"'{host}' {rel} the organisation's domain '{d}' "
                                   "(org_domains)", f"if this block is really intended, remove '{d}' from "
                                   "org_domains; block the malicious host instead")

    def protected_account(self, *names: str) -> str | None:
        """The `protected_accounts` entry any of `names` (sAMAccountName, UPN, DOMAIN\\user) is, or None."""
        wanted = {account_name(n) for n in names if n}
        return next((p for p in self.protected_accounts if account_name(p) in wanted), None)

    def check_account(self, value: str, *also: str) -> None:
        """Refuse disabling a protected account (`value` as given, `also` its other names).

        Raises:
            GuardrailRefused: protected_accounts.
        """
        hit = self.protected_account(value, *also)
        if hit is not None:
            raise self.account_refused("protected_accounts", value, f"{hit} is a protected account",
                                       f"if it really must be disabled, remove '{hit}' from protected_accounts")

    def account_refused(self, rule: str, value: str, why: str, fix: str) -> GuardrailRefused:
        """The refusal of disabling `value` because `why` (for the rules a connector checks itself)."""
        return self._refuse(rule, value, f"not allowed: {why}", f"{fix}; do it by hand after review")

    def protected_group(self, names: Iterable[str]) -> str | None:
        """The `protected_groups` entry one of `names` (a group's cn, sAMAccountName or DN) is, or None."""
        wanted = {" ".join(n.lower().split()) for n in names if n}
        return next((g for g in self.protected_groups if " ".join(g.lower().split()) in wanted), None)

    def check_host(self, value: str, addresses: Iterable[str] = ()) -> None:
        """Refuse isolating a protected host (by name, short name, pattern, or one of its `addresses`).

        Raises:
            GuardrailRefused: protected_hosts.
        """
        name = value.strip().lower().rstrip(".")
        ips = []
        for a in (name, *addresses):
            try:
                ips.append(ipaddress.ip_address(str(a).strip()))
            except ValueError:
                continue
        for entry in self.protected_hosts:
            if _host_matches(entry, name, ips):
                raise self._refuse("protected_hosts", value, f"'{value}' is a protected host (matches "
                                   f"'{entry}' in protected_hosts)", f"if it really must be isolated, remove "
                                   f"'{entry}' from protected_hosts; isolate it by hand after review")


def account_name(value: str) -> str:
    """The account part of a user name, lower-cased: `CORP\\JDoe` and `jdoe@corp.example.com` -> `jdoe`."""
    v = value.strip().lower()
    return v.rsplit("\\", 1)[-1].split("@", 1)[0]


def _host_matches(entry: str, name: str, ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        net = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        pass
    else:
        return any(ip.version == net.version and ip in net for ip in ips)
    short, entry_short = name.split(".", 1)[0], entry.split(".", 1)[0]
    if any(c in entry for c in "*?["):
        return fnmatch.fnmatchcase(name, entry) or fnmatch.fnmatchcase(short, entry_short)
    # Falcon reports short names: `DC01` is `dc01.corp.example.com` (over-matching is the safe side).
    return name == entry or short == entry_short


RULES = {
    "block_ip": Guardrails.check_block_ip,
    "block_url": Guardrails.check_block_url,
    "disable_user": Guardrails.check_account,
    "quarantine_device": Guardrails.check_host,
}


def load_guardrails(path: Path | None = None) -> Guardrails:
    """Read the guardrails file: `path`, else `config/guardrails.json` if present, else the built-in rules.

    The file is one JSON object with the fields of `Guardrails`; keys starting with `//` are comments.

    Raises:
            ConfigError: the file (named explicitly) is missing, or it is not valid, naming the field.
    """
    file = path or DEFAULT_FILE
    if not file.is_file():
        if path is not None:
            raise ConfigError(str(file), None, None, "guardrails file not found",
                              "create it (see config/guardrails.json in the repository) or unset "
                              "SOAR_GUARDRAILS_FILE to use the built-in rules")
        log.info("no %s: the built-in guardrails apply", file)
        return Guardrails()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(file), None, None, f"cannot read the file ({type(e).__name__})",
                          "check the path and that the process may read it (UTF-8 JSON)") from None
    except json.JSONDecodeError as e:
        raise ConfigError(str(file), None, None, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}",
                          "fix the JSON syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(str(file), None, None, f"top level is a JSON {type(data).__name__}, not an object",
                          'write it as {"org_networks": [...], "protected_hosts": [...], ...}')
    try:
        rails = Guardrails.model_validate({k: v for k, v in data.items() if not k.startswith("//")})
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        fix = "remove it or check its spelling (see README, Guardrails)" if err["type"] == "extra_forbidden" \
            else "give a valid value (see README, Guardrails)"
        raise ConfigError(str(file), None, field, err["msg"].removeprefix("Value error, "), fix) from None
    rails._source = str(file)
    return rails


_relays_cache: dict[tuple[str, int], tuple[str, ...]] = {}


def trusted_relays(path: Path | None = None) -> tuple[str, ...]:
    """The guardrails file's `trusted_relays`, re-read when the file changes (the API asks on every e-mail).

    An unusable file trusts nothing (logged): every Received hop then counts as one the sender may forge.
    """
    file = path or DEFAULT_FILE
    try:
        key = (str(file), file.stat().st_mtime_ns)
    except OSError:
        key = (str(file), -1)
    if key not in _relays_cache:
        try:
            relays = tuple(load_guardrails(path).trusted_relays)
        except ConfigError as e:
            log.error("trusting no mail relay: %s", e)
            relays = ()
        _relays_cache.clear()
        _relays_cache[key] = relays
    return _relays_cache[key]
