"""`phantom.act(..., targets=...)` (the brief's form): fill the action's primary parameter from a target.

The target is an artifact, a callback result or the container. The action's target parameter says what
kind of value it needs; the value is searched in the target first (an artifact's CEF, a result's
parameters, the container's artifacts), then in the container's artifacts in order:

    url       <- requestURL                       hash      <- fileHash, fileHashSha256/Sha1/Md5
    ip        <- sourceAddress, destinationAddress
    hostname  <- sourceHostName, destinationHostName
    username  <- sourceUserName, destinationUserName
    domain    <- destinationDnsDomain, sourceDnsDomain
"""

from __future__ import annotations

from typing import Any

CEF_KEYS: dict[str, tuple[str, ...]] = {
    "url": ("requestURL",),
    "hash": ("fileHash", "fileHashSha256", "fileHashSha1", "fileHashMd5"),
    "ip": ("sourceAddress", "destinationAddress"),
    "hostname": ("sourceHostName", "destinationHostName"),
    "username": ("sourceUserName", "destinationUserName"),
    "domain": ("destinationDnsDomain", "sourceDnsDomain"),
}
PARAM_KIND = {"url": "url", "hash": "hash", "ip": "ip", "hostname": "hostname", "username": "username",
              "user": "username", "domain": "domain"}


def _first(values: Any) -> str | None:
    for v in values:
        if isinstance(v, str) and v:
            return v
    return None


def _in_artifact(a: Any, kind: str) -> str | None:
    cef = a.get("cef") if isinstance(a, dict) else None
    return _first(cef.get(k) for k in CEF_KEYS[kind]) if isinstance(cef, dict) else None


def _in_result(r: dict[str, Any], kind: str, names: tuple[str, ...]) -> str | None:
    params = [ar.get("parameter") or {} for ar in r.get("action_results") or [] if isinstance(ar, dict)]
    if isinstance(r.get("parameter"), dict):
        params.append(r["parameter"])
    keys = (*names, *CEF_KEYS[kind])
    return _first(p.get(k) for p in params for k in keys if isinstance(p, dict))


def find_value(target: Any, kind: str, names: tuple[str, ...], artifacts: list[dict[str, Any]]) -> str | None:
    """The `kind` value for a parameter called one of `names`: in `target`, else in `artifacts`."""
    found = None
    if isinstance(target, dict):
        if "cef" in target:
            found = _in_artifact(target, kind)
        elif "action_results" in target or "parameter" in target:
            found = _in_result(target, kind, names)
        elif "artifacts" in target:
            found = _first(_in_artifact(a, kind) for a in target.get("artifacts") or [])
    return found or _first(_in_artifact(a, kind) for a in artifacts)


def kind_of(param: str | None) -> str | None:
    """The kind of value a target parameter takes (url, hash, ip, hostname, username, domain), or None."""
    return PARAM_KIND.get(param or "")
