"""Deterministic verdicts the simulator derives from an indicator (documented in simulator/README.md).

| indicator                                                     | verdict    |
| ------------------------------------------------------------- | ---------- |
| contains `malicious` or `evil`; hash starting `deadbeef`; IP in 198.51.100.0/24 | malicious |
| contains `suspicious`; hash starting `badc0de`; IP in 192.0.2.0/24             | suspicious |
| contains `unknown`; hash starting `0000`                      | not found  |
| anything else                                                 | clean      |
"""

from __future__ import annotations

import ipaddress
from typing import Literal

Verdict = Literal["malicious", "suspicious", "clean", "unknown"]

MALICIOUS_NET = ipaddress.ip_network("198.51.100.0/24")
SUSPICIOUS_NET = ipaddress.ip_network("192.0.2.0/24")


def verdict(indicator: str) -> Verdict:
    """The simulator's verdict for an indicator (URL, hash, IP, domain)."""
    v = indicator.lower()
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        ip = None
    if ip is not None:
        if ip in MALICIOUS_NET:
            return "malicious"
        if ip in SUSPICIOUS_NET:
            return "suspicious"
        return "clean"
    if "unknown" in v or v.startswith("0000"):
        return "unknown"
    if "malicious" in v or "evil" in v or v.startswith("deadbeef"):
        return "malicious"
    if "suspicious" in v or v.startswith("badc0de"):
        return "suspicious"
    return "clean"
