"""ServiceNow: incidents over the Table API (Splunk SOAR app "ServiceNow")."""

from __future__ import annotations

from activities.servicenow import actions
from activities.servicenow.client import ServiceNowClient
from activities.servicenow.config import ServiceNowConfig
from core.connector import Connector

_POLLING = "ticket ingestion (on poll) is not offered by this connector"

CONNECTOR = Connector(
    name="servicenow", app="ServiceNow", title="ServiceNow", config_model=ServiceNowConfig,
    client=ServiceNowClient, module=actions,
    ignored_keys={k: _POLLING for k in ("on_poll_table", "on_poll_filter", "first_run_container",
                                        "max_container", "severity")} | {
        "timezone": "ServiceNow answers times in UTC over the Table API; the report shows UTC",
        "client_id": "OAuth is not supported: the connector authenticates with username and password",
        "client_secret": "OAuth is not supported: the connector authenticates with username and password",
    },
)
