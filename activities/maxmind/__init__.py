"""MaxMind: IP geolocation from the GeoIP2 web service or a local .mmdb (Splunk SOAR app "MaxMind")."""

from __future__ import annotations

from activities.maxmind import actions
from activities.maxmind.client import open_client
from activities.maxmind.config import MaxMindConfig
from core.connector import Connector

CONNECTOR = Connector(name="maxmind", app="MaxMind", title="MaxMind", config_model=MaxMindConfig,
                      client=open_client, module=actions, app_aliases=("MaxMind GeoIP2",))
