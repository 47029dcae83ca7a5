"""ServiceNow: incidents (and other task tables) through the Table API."""

from __future__ import annotations

from activities.servicenow import actions
from activities.servicenow.config import ServiceNowConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="servicenow",
    app="ServiceNow",
    title="ServiceNow",
    config_model=ServiceNowConfig,
    module=actions,
)
