"""Whois: IP registration data over RDAP (RFC 9082/9083), following registry redirects.

Splunk SOAR apps "WHOIS" and "WHOIS RDAP"; title "Whois RDAP".
"""

from __future__ import annotations

from activities.whois import actions
from activities.whois.client import RdapClient
from activities.whois.config import WhoisConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="whois", app="Whois", title="Whois RDAP", config_model=WhoisConfig, client=RdapClient,
    module=actions, app_aliases=("WHOIS RDAP", "Whois RDAP"),
    ignored_keys={"update_days": "RDAP needs no local TLD list: the registries answer directly"},
)
