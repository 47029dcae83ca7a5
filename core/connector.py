"""The connector framework: the one catalogue of what every connector is and can do.

A connector lives in one folder `activities/<name>/` whose `__init__.py` defines `CONNECTOR`; actions are
plain async functions decorated with `@action(...)`. Everything the rest of the platform knows about a
connector comes from these declarations: its Splunk SOAR app names, the configuration keys it accepts
(and the Splunk keys it maps or ignores), how its client is built, and per action the Splunk action names,
the target parameter, read-only / high-impact, the per-attempt timeout and the retry budget. `act()` in
playbooks, the Phantom engine, the assets loader, the API and the README tables read them from here.

Nothing here imports a connector: the entry points (worker, CLI, API) discover them
(`activities.discover_connectors()`) and pass them in.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ApprovalRequired, ConfigError, InvalidParameter
from core.guardrails import Guardrails
from core.models import ActionInput, ActionResult

DEFAULT_ACTION_TIMEOUT = timedelta(seconds=60)
DEFAULT_ACTION_BUDGET = timedelta(minutes=10)


class ConnectorConfig(BaseModel):
    """Fields every asset configuration may carry (each connector's config model extends it).

    Splunk SOAR apps spell some of these differently; the aliases below accept their spelling too. A
    connector whose Splunk app has keys that map onto several of ours (or need converting) lists them in
    `splunk_keys` (key -> what it becomes) and converts them in a `mode="before"` model validator.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    splunk_keys: ClassVar[dict[str, str]] = {}

    base_url: str | None = Field(default=None, description="Overrides the vendor URL (on-prem, simulator)")
    verify_ssl: bool = Field(default=True, description="Verify the vendor's TLS certificate",
                             validation_alias=AliasChoices("verify_ssl", "verify_server_cert",
                                                           "validate_ssl_cert"))
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="Per-request timeout (seconds)",
                             validation_alias=AliasChoices("timeout_s", "timeout"))
    rate_limit: bool = Field(default=False, description="Give the asset its own rate-limited task queue")
    max_requests_per_minute: int | None = Field(default=None, gt=0, le=1_000_000,
                                                description="The queue's rate when rate_limit is true")
    high_impact_actions: list[str] = Field(default_factory=list, description="Extra actions needing approval")
    approval_quorum: dict[str, int] = Field(default_factory=dict,
                                            description="Distinct approvers an action needs: {action: n}")
    approver_role: str = Field(default="soc_tier2", min_length=1, max_length=128,
                               description="Who approves this asset's high-impact actions a playbook did not ask about")
    cache_ttl_s: float = Field(default=0.0, ge=0, le=86_400,
                               description="Cache read-only results this long (per worker process); 0 = off")
    guardrails: Guardrails | None = Field(default=None, description="Guardrails added for this asset's actions "
                                                                    "(lists add to the file's; see README)")

    @field_validator("guardrails")
    @classmethod
    def _asset_guardrails(cls, v: Guardrails | None) -> Guardrails | None:
        if v is not None and "trusted_relays" in v.model_fields_set:
            raise ValueError("trusted_relays are read by the e-mail ingestion, from the guardrails file only; "
                             "move them to config/guardrails.json")
        return v


def accepted_keys(model: type[BaseModel]) -> set[str]:
    """Every configuration key the model accepts: field names, their aliases and its `splunk_keys`."""
    out: set[str] = set(getattr(model, "splunk_keys", {}))
    for name, f in model.model_fields.items():
        out.add(name)
        alias = f.validation_alias
        if isinstance(alias, str):
            out.add(alias)
        elif isinstance(alias, AliasChoices):
            out.update(c for c in alias.choices if isinstance(c, str))
    return out


class AssetConfig(BaseModel):
    """One configured asset: its Splunk SOAR identity plus the connector's typed, resolved settings."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    app: str
    asset_name: str
    product_vendor: str = ""
    product_name: str = ""
    description: str = ""
    connector: str = Field(description="Name of the connector package, e.g. 'virustotal'")
    settings: ConnectorConfig = Field(exclude=True, repr=False)
    configuration_redacted: dict[str, Any] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list, exclude=True, repr=False,
                               description="Every value that came from a secret field or a reference")

    @property
    def rate_limited(self) -> bool:
        """Whether this asset gets its own rate-limited task queue."""
        return self.settings.rate_limit and self.per_second is not None

    @property
    def per_second(self) -> float | None:
        """The server-enforced activity rate of the asset's queue."""
        n = self.settings.max_requests_per_minute
        return n / 60.0 if n else None


class Closeable(Protocol):
    """What a connector's client must offer: the framework closes it on shutdown."""

    async def aclose(self) -> None: ...  # noqa: D102


ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)
ClientT = TypeVar("ClientT", bound=Closeable)


def _no_heartbeat(*_: Any) -> None:
    return None


@dataclass
class ActionContext(Generic[ConfigT, ClientT]):
    """What an action function gets: the asset, its typed configuration and its (shared) client."""

    asset: AssetConfig
    config: ConfigT
    client: ClientT
    container_id: str | None = None
    correlation_id: str | None = None
    heartbeat: Callable[..., None] = _no_heartbeat
    guardrails: Guardrails = field(default_factory=Guardrails)  # the asset's rules, for checks after a read


ActionFn = Callable[[ActionContext[Any, Any], Any], Awaitable[ActionResult]]


def snake(name: str) -> str:
    """`url reputation` -> `url_reputation`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class ActionSpec:
    """Declaration of one action (see `action`)."""

    name: str
    fn: ActionFn
    params: type[BaseModel]
    read_only: bool
    high_impact: bool
    target: str | None
    description: str
    timeout: timedelta
    budget: timedelta
    aliases: tuple[str, ...] = ()

    @property
    def snake(self) -> str:
        """The action's name in snake form (the activity type suffix)."""
        return snake(self.name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the action answers to: ours, Splunk apps' aliases, and their snake forms."""
        out = [self.name, *self.aliases]
        return tuple(dict.fromkeys([*out, *(snake(n) for n in out)]))

    def param_names(self) -> set[str]:
        """Every parameter name the action accepts (field names and aliases)."""
        return accepted_keys(self.params)


def action(
    name: str,
    *,
    params: type[BaseModel],
    read_only: bool,
    high_impact: bool = False,
    target: str | None = None,
    timeout: timedelta = DEFAULT_ACTION_TIMEOUT,
    budget: timedelta | None = None,
    aliases: tuple[str, ...] = (),
) -> Callable[[ActionFn], ActionFn]:
    """Declare an async function as a connector action named like Splunk SOAR's (`"url reputation"`).

    Args:
        name: the action's name, as Splunk SOAR apps call it.
        params: the pydantic model of its parameters (validated before any request).
        read_only: required: True only for lookups that change nothing (their results may be cached).
        high_impact: needs a verified analyst approval to run (isolation, account disabling).
        target: the parameter that names what the action acts on (shown in reports and prompts).
        timeout: the start-to-close timeout of one attempt.
        budget: how long all attempts together may take (schedule-to-close); at least `timeout`.
        aliases: other Splunk app names of the same action (`disable account` for `disable user`).

    Raises:
        TypeError: at import, when the declaration is inconsistent (a missing docstring, a target that is
            not a parameter, a high-impact read-only action).
    """

    def deco(fn: ActionFn) -> ActionFn:
        doc = inspect.getdoc(fn) or ""
        where = f"action {name!r} ({fn.__module__}.{fn.__qualname__})"
        if not doc:
            raise TypeError(f"{where}: add a docstring; its first line is the action's description")
        if high_impact and read_only:
            raise TypeError(f"{where}: a high-impact action cannot be read-only")
        if target is not None and target not in params.model_fields:
            raise TypeError(f"{where}: target {target!r} is not a parameter of {params.__name__}")
        spend = budget or max(DEFAULT_ACTION_BUDGET, timeout)
        if spend < timeout:
            raise TypeError(f"{where}: budget {spend} is shorter than one attempt's timeout {timeout}")
        fn.__soar_action__ = ActionSpec(  # type: ignore[attr-defined]
            name=name, fn=fn, params=params, read_only=read_only, high_impact=high_impact, target=target,
            description=doc.split("\n")[0], timeout=timeout, budget=spend, aliases=tuple(aliases),
        )
        return fn

    return deco


@dataclass
class Connector(Generic[ConfigT, ClientT]):
    """A vendor app: its folder name, Splunk SOAR app names, config model, client factory and actions.

    Args:
        name: the folder (and activity type prefix), e.g. `virustotal`.
        app: the Splunk SOAR app name shown to users.
        title: the vendor name in reports ("VirusTotal").
        config_model: the asset `configuration` model.
        client: builds the asset's client, called as `client(asset_name=..., config=<typed config>)` (the
            client class itself, usually); the framework creates one per asset and process and closes it
            (`aclose`) on shutdown.
        module: the module holding the `@action` functions.
        app_aliases: other app names an asset's `"app"` may give (Splunk's older or newer apps).
        ignored_keys: Splunk configuration keys accepted but unused, with the reason (logged at load).
    """

    name: str
    app: str
    title: str
    config_model: type[ConfigT]
    client: Callable[..., ClientT]
    module: ModuleType
    app_aliases: tuple[str, ...] = ()
    ignored_keys: Mapping[str, str] = field(default_factory=dict)
    actions: dict[str, ActionSpec] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for obj in vars(self.module).values():
            spec = getattr(obj, "__soar_action__", None)
            if isinstance(spec, ActionSpec):
                self.actions[spec.name] = spec
        if "test connectivity" not in self.actions:
            raise TypeError(f"connector {self.name!r}: every connector needs a 'test connectivity' action")

    @property
    def app_names(self) -> tuple[str, ...]:
        """Every app name an asset may use for this connector."""
        return (self.app, *self.app_aliases)

    def activity_name(self, spec: ActionSpec) -> str:
        """Temporal activity type name: `<connector>.<action_snake>`."""
        return f"{self.name}.{spec.snake}"

    def lookup(self, action_name: str) -> ActionSpec | None:
        """The action called `action_name` (our name, a Splunk alias, or a snake form), or None."""
        wanted = action_name.strip().lower()
        for spec in self.actions.values():
            if wanted in spec.names:
                return spec
        return None

    def find(self, action_name: str) -> ActionSpec:
        """The action called `action_name`.

        Raises:
            ConfigError: no such action (the message lists the ones there are).
        """
        spec = self.lookup(action_name)
        if spec is None:
            raise ConfigError(self.app, None, "action", f"unknown action {action_name!r}",
                              f"use one of: {', '.join(sorted(self.actions))}")
        return spec


def is_high_impact(spec: ActionSpec, asset: AssetConfig) -> bool:
    """Whether the action needs an approval on this asset (declared, or marked by the asset)."""
    extra = {snake(a) for a in asset.settings.high_impact_actions}
    return spec.high_impact or bool(extra & {snake(n) for n in spec.names})


def quorum_of(spec: ActionSpec, asset: AssetConfig) -> int:
    """How many distinct analysts must approve the action on this asset (1 unless the asset says more)."""
    names = {snake(n) for n in spec.names}
    return max([1, *(n for a, n in asset.settings.approval_quorum.items() if snake(a) in names)])


def parse_params(spec: ActionSpec, params: Mapping[str, Any]) -> BaseModel:
    """Validate action parameters.

    Raises:
        InvalidParameter: naming the parameter and what is wrong.
    """
    try:
        return spec.params.model_validate(dict(params))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "params"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"not a parameter of '{spec.name}'; use: {', '.join(sorted(spec.params.model_fields)) or 'none'}"
        raise InvalidParameter(f"{spec.name}: parameter '{where}': {msg}") from None


def target_of(spec: ActionSpec, params: BaseModel) -> str:
    """The validated value of the action's target parameter ('' when it has none)."""
    v = getattr(params, spec.target, None) if spec.target else None
    return "" if v is None else str(v)


def raw_target(spec: ActionSpec, params: Mapping[str, Any]) -> str:
    """The target parameter's value as given (under its name or a Splunk alias); '' when absent."""
    if spec.target is None:
        return ""
    alias = spec.params.model_fields[spec.target].validation_alias
    names = [spec.target, *(c for c in getattr(alias, "choices", ()) if isinstance(c, str))]
    v = next((params[n] for n in names if params.get(n) not in (None, "")), None)
    return "" if v is None else str(v)


Authorize = Callable[[ActionSpec, BaseModel], None]


def no_authority(spec: ActionSpec, params: BaseModel) -> None:
    """The default for high-impact actions: nobody approved them."""
    raise ApprovalRequired(
        f"'{spec.name}' is high impact and needs an analyst's approval; run it from a playbook after a "
        "prompt (or from the command line with an audited operator approval)")


async def execute(connector: Connector[Any, Any], spec: ActionSpec, inp: ActionInput, asset: AssetConfig,
                  client: Closeable, heartbeat: Callable[..., None] | None = None,
                  authorize: Authorize = no_authority, guard: Guardrails | None = None) -> ActionResult:
    """Run one action: check the asset, validate parameters, apply guardrails, enforce approval, call it.

    Every action that is not read-only passes `guard.check(spec, asset, params)` first (None: the built-in
    rules, so no caller runs without guardrails); the action itself gets the asset's rules as
    `ctx.guardrails` for the checks that need a read. For a high-impact action `authorize(spec, params)` must
    then pass: it verifies the signed approval against this action, target and container
    (`core.approvals.check_action`) and raises otherwise.

    Raises:
        InvalidParameter, GuardrailRefused, ApprovalRequired, ApprovalInvalid, ConfigError, or a ConnectorError.
    """
    if asset.connector != connector.name:
        raise ConfigError("assets", f"asset '{asset.asset_name}'", "app",
                          f"asset is a {asset.app} asset, not {connector.app}",
                          f"run {connector.title} actions on a {connector.app} asset")
    params = parse_params(spec, inp.params)
    rails = guard or Guardrails()
    if not spec.read_only:
        rails.check(spec, asset, params)
    if is_high_impact(spec, asset) or inp.require_approval:
        authorize(spec, params)
    ctx: ActionContext[Any, Any] = ActionContext(
        asset=asset, config=asset.settings, client=client, container_id=inp.container_id,
        correlation_id=inp.correlation_id, heartbeat=heartbeat or _no_heartbeat, guardrails=rails.for_asset(asset))
    return await spec.fn(ctx, params)
