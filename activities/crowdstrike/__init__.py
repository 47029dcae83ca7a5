"""CrowdStrike Falcon: host lookup and network containment over the OAuth2 API."""

from __future__ import annotations

from activities.crowdstrike import actions
from activities.crowdstrike.config import CrowdStrikeConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="crowdstrike",
    app="CrowdStrike OAuth API",
    title="CrowdStrike",
    config_model=CrowdStrikeConfig,
    module=actions,
)
