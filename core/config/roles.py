"""Roles per operation: who may comment, add artifacts, change severity or disposition, close, reopen, and
run which playbook by hand. `SOAR_ROLES_FILE` (a JSON object, every key optional) overrides the defaults:

    {"close": ["soc_tier2", "soc_manager"], "run_playbook": {"*": ["soc_tier1", "soc_tier2"],
     "containment_decision": ["soc_tier2", "soc_manager"]}}

On top of the table, two rules always hold: closing a container while a prompt waits needs that prompt's
role (or `soc_manager`), and `admin` may do everything.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config.loading import explain
from core.errors import ConfigError

ANALYSTS = ["analyst", "soc_tier1", "soc_tier2", "soc_tier3", "soc_manager"]
SENIOR = ["soc_tier2", "soc_tier3", "soc_manager"]
# Playbooks that can contain (their prompts authorise isolation or account disabling) need tier 2 to start.
CONTAINING = {"containment_decision": SENIOR, "phishing_triage_automation": SENIOR}


class Operation(StrEnum):
    """An analyst operation on a container."""

    COMMENT = "comment"
    ADD_ARTIFACTS = "add_artifacts"
    SET_SEVERITY = "set_severity"
    SET_DISPOSITION = "set_disposition"
    SET_OWNER = "set_owner"
    SET_STATUS = "set_status"
    CLOSE = "close"
    REOPEN = "reopen"
    RUN_PLAYBOOK = "run_playbook"


class Permissions(BaseModel):
    """The role table."""

    model_config = ConfigDict(extra="forbid")

    comment: list[str] = Field(default_factory=lambda: list(ANALYSTS))
    add_artifacts: list[str] = Field(default_factory=lambda: list(ANALYSTS))
    set_severity: list[str] = Field(default_factory=lambda: list(SENIOR))
    set_disposition: list[str] = Field(default_factory=lambda: list(SENIOR))
    set_owner: list[str] = Field(default_factory=lambda: list(ANALYSTS))
    set_status: list[str] = Field(default_factory=lambda: list(ANALYSTS))
    close: list[str] = Field(default_factory=lambda: list(ANALYSTS))
    reopen: list[str] = Field(default_factory=lambda: list(SENIOR))
    run_playbook: dict[str, list[str]] = Field(default_factory=lambda: {"*": list(ANALYSTS), **CONTAINING})

    def roles_for(self, op: Operation, playbook: str | None = None) -> list[str]:
        """The roles allowed to do `op` (on `playbook`, for a manual run)."""
        if op == Operation.RUN_PLAYBOOK:
            return self.run_playbook.get(playbook or "", self.run_playbook.get("*", []))
        return list(getattr(self, op.value))

    def allows(self, roles: list[str], op: Operation, playbook: str | None = None) -> bool:
        """Whether someone holding `roles` may do `op`."""
        return "admin" in roles or bool(set(roles) & set(self.roles_for(op, playbook)))


def load_permissions(path: Path | None) -> Permissions:
    """The role table from `path`, or the defaults when it is None or absent.

    Raises:
        ConfigError: the file is not a JSON object of the known operations.
    """
    if path is None or not path.exists():
        return Permissions()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Permissions.model_validate(data)
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), None, None, f"invalid JSON at line {e.lineno}: {e.msg}",
                          "fix the JSON syntax") from None
    except ValidationError as e:
        raise explain(e, file=str(path), entry="roles") from None
