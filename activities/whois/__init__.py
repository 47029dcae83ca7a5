"""Whois: IP registration data over RDAP (RFC 9082/9083), following registry redirects.

Splunk SOAR app "Whois"; title "Whois RDAP".
"""

from __future__ import annotations

from activities.whois import actions
from activities.whois.config import WhoisConfig
from core.connector import Connector

CONNECTOR = Connector(name="whois", app="Whois", title="Whois RDAP",
                      config_model=WhoisConfig, module=actions)
