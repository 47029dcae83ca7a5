"""Answering prompts in tests exactly as the API does: claims from the prompt, signed with the API's key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client

from core.approvals import claims_for, load_signer
from core.models import Prompt, PromptAck, PromptResponse
from core.settings import get_settings


def signed_response(p: Prompt, option: str, responder: str = "bob", roles: tuple[str, ...] = ("soc_tier2",),
                    *, comment: str = "", now: datetime | None = None, valid_for: timedelta = timedelta(hours=1),
                    **claim_overrides: Any) -> PromptResponse:
    """The `respond` update the API sends for `responder` choosing `option` (overrides forge the claims).

    The time-skipping server's clock runs ahead of the wall clock after a skip: by default the claims are
    issued at the later of now and the prompt's creation, as the API's clock would be against a real server.
    """
    s = get_settings()
    now = now or max(datetime.now(UTC), p.created)
    fields: dict[str, Any] = dict(prompt_id=p.id, workflow_id=p.workflow_id, container_id=p.container_id, option=option,
                                  actions=p.authorizes.get(option, []), responder=responder, roles=list(roles),
                                  now=now, valid_for=valid_for)
    fields.update(claim_overrides)
    claims = claims_for(**fields)
    signed = load_signer(s.signing_key_path, s.approval_key_id).sign(claims)
    return PromptResponse(prompt_id=p.id, option=option, comment=comment, approval=signed)


async def answer(client: Client, p: Prompt, option: str, responder: str = "bob",
                 roles: tuple[str, ...] = ("soc_tier2",), **kw: Any) -> PromptAck:
    """Deliver a signed answer to `p` (the update the API sends)."""
    resp = signed_response(p, option, responder, roles, **kw)
    ack: PromptAck = await client.get_workflow_handle(p.workflow_id).execute_update("respond", resp,
                                                                                     result_type=PromptAck)
    return ack
