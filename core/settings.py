"""Process settings. The only module that reads the environment (house rule 4)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every tunable of the platform, read from `SOAR_*` environment variables (or `.env`)."""

    model_config = SettingsConfigDict(env_prefix="SOAR_", env_file=".env", extra="ignore")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    playbook_task_queue: str = "soar-playbooks"

    # Configuration files (Splunk SOAR formats)
    assets_file: Path = ROOT / "config" / "assets.json"
    triggers_file: Path = ROOT / "config" / "triggers.json"
    users_file: Path = ROOT / "config" / "users.json"
    roles_file: Path | None = Field(default=None, description="Roles per operation (default: built-in table)")
    dev_mode: bool = Field(default=False, description="Accept the public demo tokens (soar dev sets it)")
    phantom_playbooks_dir: Path = Field(default=ROOT / "playbooks" / "phantom",
                                        description="Phantom-format playbooks (<name>.py + optional <name>.json)")
    guardrails_file: Path | None = Field(default=None, description="Default: config/guardrails.json if present")

    # Local state (dev server SQLite, raw emails)
    data_dir: Path = ROOT / ".data"

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_max_body_bytes: int = 10 * 1024 * 1024
    api_max_artifacts: int = 1000
    container_budget_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=1536 * 1024,
                                        description="A new container's serialised size in history; the rest is "
                                                    "stored aside (GET /api/v1/blobs/<sha256>)")
    api_url: str = "http://127.0.0.1:8000"
    prompt_feed: bool = Field(default=True, description="Workers tell the API at `api_url` of each prompt the "
                                                        "moment it opens (the fresh prompt list, api/prompt_feed.py)")
    api_token: SecretStr | None = None  # used by the CLI's analyst commands
    public_url: str = Field(default="http://127.0.0.1:8000",
                            description="Where analysts reach the API and console (links in notifications)")

    # The analyst's console (/console/): signed session cookies on top of the users file
    console_session_s: float = Field(default=8 * 3600, gt=0, le=7 * 86_400, description="Session lifetime")
    console_session_key: SecretStr | None = Field(
        default=None, description="Session signing key (default: derived from the approval signing key)")

    # Notifications (prompt opened, reminders, escalation, timeout): channels per role or playbook
    notifications_file: Path = ROOT / "config" / "notifications.json"

    # Simulator
    simulator_host: str = "127.0.0.1"
    simulator_port: int = 8100
    simulator_ldap_port: int = 8636  # LDAPS of the simulated Active Directory (0: any free port)
    simulator_smtp_port: int = 8025  # the simulator's SMTP sink (STARTTLS; 0: any free port)

    # Dev server
    dev_server_port: int = 7233
    dev_server_ui_port: int = 8233

    # Payload encryption (optional): key material as base64 (32 bytes), key id names it
    encryption_key: SecretStr | None = None
    encryption_key_id: str = "default"
    encryption_old_keys: dict[str, SecretStr] = Field(default_factory=dict)
    codec_cors_origins: list[str] = Field(default_factory=list, description="Extra Web UI origins for /codec")

    # Approvals: the API signs analysts' decisions (private key); workers verify them (public keys)
    approval_private_key_file: Path | None = Field(default=None, description="Default <data_dir>/keys/...")
    approval_public_keys_file: Path | None = Field(default=None, description="Default <data_dir>/keys/...")
    approval_key_id: str = "k1"
    approval_valid_s: float = Field(default=3600.0, gt=0, le=86_400,
                                    description="How long a signed approval lets its actions start")

    # Prompts: reminders at these fractions of the wait; optionally, when the deadline passes, the prompt is put
    # to a second role for a while before the safe default is taken.
    prompt_reminders: list[float] = Field(default_factory=lambda: [0.5, 0.8])
    prompt_escalate_to: str | None = None
    prompt_escalate_for_s: float = Field(default=600.0, gt=0, le=86_400)

    # Worker
    worker_metrics_port: int | None = None
    # Workflows kept in memory (~200 KB each); an evicted one is rebuilt from history when it next wakes.
    worker_max_cached_workflows: int = 1200
    # Workflow task pollers per worker, and the share of them on the queue where new workflows' first tasks
    # arrive (the rest poll this worker's sticky queue); the SDK's defaults are 5 and 0.2.
    worker_workflow_task_polls: int = Field(default=5, ge=2, le=100)
    worker_nonsticky_poll_ratio: float = Field(default=0.2, gt=0, le=1)
    log_level: str = "INFO"
    log_json: bool = True


    @property
    def signing_key_path(self) -> Path:
        """The API's approval signing key (default `<data_dir>/keys/approval-signing.key`)."""
        return self.approval_private_key_file or self.data_dir / "keys" / "approval-signing.key"

    @property
    def trusted_keys_path(self) -> Path:
        """The approval public keys workers trust (default `<data_dir>/keys/approval-public-keys.json`)."""
        return self.approval_public_keys_file or self.data_dir / "keys" / "approval-public-keys.json"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings. Tests call `get_settings.cache_clear()` after changing the environment."""
    return Settings()


def env_value(name: str) -> str | None:
    """Read one environment variable (used to resolve `${VAR}` secret references in asset files)."""
    return os.environ.get(name)
