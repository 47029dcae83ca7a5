"""The connector framework: a connector declares its config model and actions; this module validates
parameters, enforces approvals for high-impact actions and runs actions (inside or outside Temporal).

A connector lives in one folder `activities/<name>/` whose `__init__.py` defines `CONNECTOR`; actions
are plain async functions decorated with `@action(...)`. Nothing else has to be edited to add one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.config.assets import AssetConfig
from core.errors import ApprovalRequired, ConfigError, InvalidParameter
from core.models import ActionInput, ActionResult, Approval

log = logging.getLogger(__name__)


class ConnectorConfig(BaseModel):
    """Fields every asset configuration may carry."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(default=None, description="Overrides the vendor URL (on-prem, simulator)")
    verify_ssl: bool = True
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    rate_limit: bool = False
    max_requests_per_minute: int | None = Field(default=None, gt=0, le=1_000_000)
    high_impact_actions: list[str] = Field(default_factory=list, description="Extra actions needing approval")
    cache_ttl_s: float = Field(default=0.0, ge=0, le=86_400,
                               description="Cache read-only results this long (per worker process); 0 = off")


@dataclass
class ActionContext:
    """What an action function gets: the asset (typed config, secrets resolved) and per-asset state."""

    asset: AssetConfig
    state: dict[str, Any]
    container_id: str | None = None
    correlation_id: str | None = None
    approval: Approval | None = None
    heartbeat: Callable[..., None] = lambda *a: None

    @property
    def config(self) -> Any:
        """The connector's typed configuration model."""
        return self.asset.settings


ActionFn = Callable[[ActionContext, Any], Awaitable[ActionResult]]


@dataclass
class ActionSpec:
    """Declaration of one action."""

    name: str
    fn: ActionFn
    params: type[BaseModel]
    read_only: bool = True
    high_impact: bool = False
    target: str | None = None
    description: str = ""
    timeout: timedelta = timedelta(seconds=60)

    @property
    def snake(self) -> str:
        """`url reputation` -> `url_reputation`."""
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")


def action(
    name: str,
    *,
    params: type[BaseModel],
    read_only: bool = True,
    high_impact: bool = False,
    target: str | None = None,
    timeout: timedelta = timedelta(seconds=60),
) -> Callable[[ActionFn], ActionFn]:
    """Declare an async function as a connector action named like Splunk SOAR's (`"url reputation"`)."""

    def deco(fn: ActionFn) -> ActionFn:
        fn.__soar_action__ = ActionSpec(  # type: ignore[attr-defined]
            name=name, fn=fn, params=params, read_only=read_only, high_impact=high_impact,
            target=target, description=(fn.__doc__ or "").strip().split("\n")[0], timeout=timeout,
        )
        return fn

    return deco


@dataclass
class Connector:
    """A vendor app: its name (folder), Splunk SOAR app name, title, config model and actions."""

    name: str
    app: str
    title: str
    config_model: type[ConnectorConfig]
    module: ModuleType | None = None
    actions: dict[str, ActionSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.module is not None:
            for obj in vars(self.module).values():
                spec = getattr(obj, "__soar_action__", None)
                if isinstance(spec, ActionSpec):
                    self.actions[spec.name] = spec

    def activity_name(self, spec: ActionSpec) -> str:
        """Temporal activity type name: `<connector>.<action_snake>`."""
        return f"{self.name}.{spec.snake}"

    def find(self, action_name: str) -> ActionSpec:
        """The action called `action_name` (Splunk name or snake form).

        Raises:
            ConfigError: no such action.
        """
        for spec in self.actions.values():
            if action_name in (spec.name, spec.snake):
                return spec
        raise ConfigError(self.app, None, "action", f"unknown action {action_name!r}",
                          f"use one of: {', '.join(sorted(self.actions))}")


def secret_values(asset: AssetConfig) -> list[str]:
    """Every secret value of the asset's configuration (for scrubbing text)."""
    out = []
    for name in type(asset.settings).model_fields:
        v = getattr(asset.settings, name, None)
        if isinstance(v, SecretStr) and v.get_secret_value():
            out.append(v.get_secret_value())
    return out


def scrub(text: str, asset: AssetConfig | None) -> str:
    """Replace any secret value of the asset in `text` with `***`."""
    if asset is None:
        return text
    for s in secret_values(asset):
        if len(s) >= 4:
            text = text.replace(s, "***")
    return text


def is_high_impact(spec: ActionSpec, asset: AssetConfig) -> bool:
    """Whether the action needs an approval on this asset."""
    extra = getattr(asset.settings, "high_impact_actions", []) or []
    return spec.high_impact or spec.name in extra or spec.snake in extra


def parse_params(spec: ActionSpec, params: dict[str, Any]) -> BaseModel:
    """Validate action parameters.

    Raises:
        InvalidParameter: naming the parameter and what is wrong.
    """
    try:
        return spec.params.model_validate(params)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "params"
        msg = err["msg"].removeprefix("Value error, ")
        raise InvalidParameter(f"{spec.name}: parameter '{where}': {msg}") from None


async def execute(
    connector: Connector,
    spec: ActionSpec,
    inp: ActionInput,
    asset: AssetConfig,
    state: dict[str, Any],
    heartbeat: Callable[..., None] | None = None,
) -> ActionResult:
    """Run one action: validate, enforce approval, call the connector.

    Raises:
        InvalidParameter, ApprovalRequired, ConfigError, or a ConnectorError from the connector.
    """
    if asset.connector != connector.name:
        raise ConfigError("assets", f"asset '{asset.asset_name}'", "app",
                          f"asset is a {asset.app} asset, not {connector.app}",
                          f"run {connector.title} actions on a {connector.app} asset")
    params = parse_params(spec, inp.params)
    if is_high_impact(spec, asset) and inp.approval is None:
        raise ApprovalRequired(
            f"'{spec.name}' on asset '{asset.asset_name}' is high impact and needs an analyst's approval; "
            "run it from a playbook after a prompt (or with --approve-as on the command line)"
        )
    ctx = ActionContext(asset=asset, state=state, container_id=inp.container_id,
                        correlation_id=inp.correlation_id, approval=inp.approval,
                        heartbeat=heartbeat or (lambda *a: None))
    return await spec.fn(ctx, params)
