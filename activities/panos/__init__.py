"""Palo Alto Networks firewall connector (PAN-OS XML API): block/unblock IPs and URLs with a commit."""

from __future__ import annotations

from activities.panos import actions
from activities.panos.config import PanosConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="panos",
    app="Palo Alto Networks Firewall",
    title="Palo Alto",
    config_model=PanosConfig,
    module=actions,
)
