"""Configuration files in the formats SOC teams already have (Splunk SOAR asset/trigger JSON, users)."""

from core.config.assets import Assets, UnavailableAsset, load_assets
from core.config.triggers import Trigger, load_triggers, match_triggers
from core.config.users import User, load_users

__all__ = ["Assets", "Trigger", "UnavailableAsset", "User", "load_assets", "load_triggers", "load_users",
           "match_triggers"]
