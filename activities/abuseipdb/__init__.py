"""AbuseIPDB: IP reputation from community abuse reports (Splunk SOAR app "AbuseIPDB")."""

from __future__ import annotations

from activities.abuseipdb import actions
from activities.abuseipdb.client import AbuseIPDBClient
from activities.abuseipdb.config import AbuseIPDBConfig
from core.connector import Connector

CONNECTOR = Connector(name="abuseipdb", app="AbuseIPDB", title="AbuseIPDB", config_model=AbuseIPDBConfig,
                      client=AbuseIPDBClient, module=actions)
