"""Palo Alto Networks firewall connector (PAN-OS XML API): block/unblock IPs and URLs with a commit.

Splunk SOAR app "Palo Alto Networks Firewall".
"""

from __future__ import annotations

from activities.panos import actions
from activities.panos.client import PanosClient
from activities.panos.config import PanosConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="panos", app="Palo Alto Networks Firewall", title="Palo Alto", config_model=PanosConfig,
    client=PanosClient, module=actions, app_aliases=("PAN-OS", "Palo Alto Networks"),
)
