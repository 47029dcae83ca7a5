"""The approval rule for Phantom code: a high-impact act runs only with an analyst's decision.

The playbook file is never trusted to ask. An act descends from an analyst's approval when it is issued
in the callback chain of a prompt an analyst answered (the prompt's callback, the blocks it calls, the
callbacks of the acts they issue, ...) and its target is one that prompt showed. Every Phantom prompt shows
the host, user, IP and URL values of the container's artifacts (with where each came from) and each of its
options authorises the high-impact actions the configured assets offer on those values: the signed
approval of the answer carries exactly that list, and the connector activity verifies it.

Any other high-impact act (outside an answered chain, after a timeout, or on a target the prompt did not
show) first becomes an Approve/Deny prompt for exactly that action and target, addressed to the asset's
approver role (`approver_role`, default `soc_tier2`), 15 minutes, Deny on timeout. An act with
`reviewer=` always asks its reviewer that way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catalogue import CONNECTORS
    from core.approvals import AuthorizedAction, SignedApproval
    from core.models import AssetRoute, Container, Target
    from workflows.actions import ResolvedAction

if TYPE_CHECKING:
    from workflows.playbook import Decision

APPROVE, DENY = "Approve", "Deny"
# The CEF keys a prompt shows, per kind of target, and the kind each target parameter takes.
SHOWN = {"host": ("sourceHostName", "destinationHostName"), "user": ("sourceUserName", "destinationUserName"),
         "ip": ("sourceAddress", "destinationAddress"), "url": ("requestURL",)}
PARAM_KIND = {"hostname": "host", "username": "user", "ip": "ip", "url": "url"}


@dataclass(frozen=True)
class Chain:
    """The analyst approval a callback chain descends from: the answered prompt and what it authorises."""

    prompt_id: str
    approval: SignedApproval
    authorizes: tuple[AuthorizedAction, ...] = field(default_factory=tuple)

    def covers(self, ra: ResolvedAction) -> bool:
        """Whether this approval lets `ra` run (its action, on its target, with its connector)."""
        if ra.spec is None:
            return False
        return any(a.covers(ra.spec.names, (ra.target,), ra.route.connector) for a in self.authorizes)


def prompt_targets(c: Container) -> list[Target]:
    """What a Phantom prompt shows: the host, user, IP and URL values of the artifacts, with provenance."""
    out: list[Target] = []
    for kind, keys in SHOWN.items():
        out += [Target(kind=kind, value=v, source=c.provenance(v)) for v in c.values(*keys)]
    return out


def authorizations(routes: dict[str, AssetRoute], targets: list[Target]) -> list[AuthorizedAction]:
    """The high-impact actions the configured assets offer on `targets` (what every option authorises)."""
    out: list[AuthorizedAction] = []
    for route in routes.values():
        connector = CONNECTORS.get(route.connector)
        if route.unavailable is not None or connector is None:
            continue
        for name in route.high_impact_actions:
            spec = connector.actions.get(name)
            kind = PARAM_KIND.get(spec.target or "") if spec is not None else None
            for t in targets:
                a = AuthorizedAction(action=name, target=t.value, connector=route.connector)
                if t.kind == kind and a not in out:
                    out.append(a)
    return out


def shown(message: str, targets: list[Target]) -> str:
    """The prompt's message with what it acts on."""
    if not targets:
        return message
    lines = "\n".join(f"- {t.kind} {t.value} ({t.source})" for t in targets)
    return f"{message}\n\nActs on:\n{lines}"


def refusal(d: Decision, role: str) -> str:
    """Why a gated act did not run."""
    if d.timed_out:
        return f"not approved: no answer from {role} in time (default Deny)"
    return f"not approved: {d.responder} chose {d.option} on prompt {d.prompt.id}"
