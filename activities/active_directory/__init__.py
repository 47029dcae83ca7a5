"""Active Directory over LDAP (ldap3): read, disable and enable user accounts.

Answers to Splunk SOAR's "AD LDAP" and "LDAP" apps and the brief's "Active Directory" asset; tested
against a real Samba AD DC (scripts/samba-dc.sh).
"""

from __future__ import annotations

from activities.active_directory import actions
from activities.active_directory.client import ActiveDirectoryClient
from activities.active_directory.config import ActiveDirectoryConfig
from core.connector import Connector

CONNECTOR = Connector(
    name="active_directory", app="Active Directory", title="Active Directory",
    config_model=ActiveDirectoryConfig, client=ActiveDirectoryClient, module=actions,
    app_aliases=("AD LDAP", "LDAP", "Microsoft AD LDAP"),
)
