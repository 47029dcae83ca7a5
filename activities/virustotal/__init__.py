"""VirusTotal v3: URL, file, IP and domain reputation (Splunk SOAR app "VirusTotal v3")."""

from __future__ import annotations

from activities.virustotal import actions
from activities.virustotal.client import VirusTotalClient
from activities.virustotal.config import VirusTotalConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="virustotal", app="VirusTotal v3", title="VirusTotal", config_model=VirusTotalConfig,
    client=VirusTotalClient, module=actions, app_aliases=("VirusTotal", "VirusTotalv3"),
    ignored_keys={
        "poll_interval": "detonation actions are not offered by this connector",
        "waiting_time": "detonation actions are not offered by this connector",
        "cache_size": "the result cache is bounded per worker process",
        "max_file_download_size_mib": "file download is not offered by this connector",
    },
)
