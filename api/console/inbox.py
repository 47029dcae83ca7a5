"""The inbox (the console's landing page), one prompt's page (the link in every notification), and answering.

An answer goes through `api.answers.answer`, the code path of `POST /api/v1/prompts/{id}/response`: the same
role check, the same signed approval, the same audit of a refusal. An option that authorises a high-impact
action (what the prompt's `authorizes` lists for it) first shows what it will do and asks to confirm.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from temporalio.client import Client

from api.answers import answer, answered, find_prompt
from api.console.render import page
from api.console.session import ConsoleSession, Session, check_csrf, flash
from api.deps import ClientDep
from api.routers.containers import container_filter, summary
from api.service import pending_prompt_page, visibility_page
from core.models import Prompt, PromptState
from workflows.ids import parse_prompt_id

router = APIRouter()
INBOX_MAX = 500
SHOWN_ERRORS = (403, 404, 409, 422)


@dataclass
class Card:
    """A prompt as the console shows it to one analyst."""

    p: Prompt
    container_name: str = ""
    why_not: str | None = None
    needs: list[str] = field(default_factory=list)

    @property
    def can_answer(self) -> bool:
        """Whether this analyst may answer now."""
        return self.why_not is None

    @property
    def role(self) -> str:
        """Who is asked now."""
        return self.p.policy.escalate_to if self.p.escalated and self.p.policy.escalate_to else self.p.role

    @property
    def high_impact(self) -> set[str]:
        """The options that authorise containment (they ask for a confirmation)."""
        return {o for o in self.p.options if self.p.approving(o)}

    @property
    def approvals(self) -> int:
        """Approvals so far (a quorum prompt)."""
        return len(self.p.approvals)


def card(p: Prompt, s: Session, names: dict[str, str]) -> Card:
    """The card of `p` for the session's analyst."""
    return Card(p=p, container_name=names.get(p.container_id, ""), why_not=p.refusal(s.user.name, s.user.roles),
                needs=sorted(p.roles_allowed() - {"admin"}))


async def container_names(client: Client) -> dict[str, str]:
    """Names of the containers waiting for an analyst (one visibility page, no query per container)."""
    found, _ = await visibility_page(client, container_filter(awaiting_prompt=True), INBOX_MAX, None)
    return {row.id: row.name or "" for row in map(summary, found)}


@router.get("/")
async def inbox(request: Request, session: ConsoleSession, client: ClientDep) -> Response:
    board = request.app.state.board  # fresh prompts first, as GET /api/v1/prompts
    (prompts, more), names = await asyncio.gather(pending_prompt_page(client, session.user, INBOX_MAX, None, board),
                                                  container_names(client))
    cards = [card(p, session, names) for p in sorted(prompts, key=lambda p: (p.deadline, p.id))]
    return page(request, "inbox.html", session, mine=[c for c in cards if c.can_answer],
                others=[c for c in cards if not c.can_answer], truncated=more is not None)


async def _prompt_page(request: Request, session: Session, client: Client, prompt_id: str,
                       error: HTTPException | None = None) -> Response:
    p = await find_prompt(client, prompt_id)
    if p is None or p.state != PromptState.PENDING:
        parsed = parse_prompt_id(prompt_id)
        cid = prompt_id.split(".", 1)[0] if parsed else None
        return page(request, "prompt_closed.html", session, status=error.status_code if error else 200,
                    prompt_id=prompt_id, container_id=cid, prompt=p, error=error.detail if error else None)
    names = {p.container_id: (await container_names(client)).get(p.container_id, "")}
    return page(request, "prompt.html", session, status=error.status_code if error else 200,
                card=card(p, session, names), error=error.detail if error else None)


@router.get("/prompts/{prompt_id}")
async def prompt_page(prompt_id: str, request: Request, session: ConsoleSession, client: ClientDep) -> Response:
    try:
        return await _prompt_page(request, session, client, prompt_id)
    except HTTPException as e:
        if e.status_code != 404:
            raise
        return page(request, "prompt_closed.html", session, status=404, prompt_id=prompt_id, container_id=None,
                    prompt=None, error=str(e.detail))


@router.post("/prompts/{prompt_id}/answer")
async def answer_prompt(prompt_id: str, request: Request, session: ConsoleSession, client: ClientDep,
                        option: str = Form(""), comment: str = Form(""), confirmed: str = Form(""),
                        csrf: str = Form("")) -> Response:
    check_csrf(session, csrf)
    p = await find_prompt(client, prompt_id)
    if p is not None and p.state == PromptState.PENDING and p.approving(option) and confirmed != "yes" \
            and p.refusal(session.user.name, session.user.roles) is None:
        return page(request, "confirm.html", session, card=card(p, session, {}), option=option,
                    comment=comment[:5000], actions=p.authorizes.get(option, []))
    source = f"console via {request.client.host}" if request.client else "console"
    try:
        if len(comment) > 5000:
            raise HTTPException(422, "The comment is longer than 5,000 characters; shorten it.")
        ack = await answer(client, request.app.state.settings, session.user, prompt_id, option, comment, source)
    except HTTPException as e:
        if e.status_code not in SHOWN_ERRORS:
            raise
        return await _prompt_page(request, session, client, prompt_id, error=e)
    answered(request, prompt_id, ack)
    cid = p.container_id if p else prompt_id.split(".", 1)[0]
    done = (f"Your answer \"{option}\" is recorded: {ack.next_step}." if ack.decided else
            f"Your approval of \"{option}\" is recorded ({ack.approvals} of {ack.quorum}); {ack.next_step}.")
    resp = RedirectResponse(f"/console/containers/{cid}/report", 303)
    flash(request, resp, done)
    return resp
