"""CrowdStrike Falcon: host lookup and network containment over the OAuth2 API.

Splunk SOAR app "CrowdStrike OAuth API" (the brief calls it "CrowdStrike Falcon"; both names load).
"""

from __future__ import annotations

from activities.crowdstrike import actions
from activities.crowdstrike.client import CrowdStrikeClient
from activities.crowdstrike.config import CrowdStrikeConfig
from core.connector import Connector

_POLLING = "event and incident ingestion (on poll) is not offered by this connector"

CONNECTOR = Connector(
    name="crowdstrike", app="CrowdStrike OAuth API", title="CrowdStrike", config_model=CrowdStrikeConfig,
    client=CrowdStrikeClient, module=actions, app_aliases=("CrowdStrike Falcon", "CrowdStrike"),
    ignored_keys={k: _POLLING for k in (
        "app_id", "max_events", "max_events_poll_now", "max_incidents", "max_incidents_poll_now",
        "ingest_incidents", "collate", "merge_time_interval", "max_crlf", "preprocess_script")} | {
        "place_holder": "a layout placeholder of the Splunk app",
        "detonate_timeout": "sandbox detonation is not offered by this connector",
        "subtenants": "one asset acts on one CID: configure an asset per subtenant (member_cid)",
    },
)
