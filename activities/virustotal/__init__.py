"""VirusTotal v3: URL, file, IP and domain reputation (Splunk SOAR app "VirusTotal v3")."""

from __future__ import annotations

from activities.virustotal import actions
from activities.virustotal.config import VirusTotalConfig
from core.connector import Connector

CONNECTOR = Connector(name="virustotal", app="VirusTotal v3", title="VirusTotal",
                      config_model=VirusTotalConfig, module=actions)
