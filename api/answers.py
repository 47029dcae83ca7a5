"""Answering a prompt: the one code path behind the JSON route, the CLI and the console.

The API authenticates the analyst, reads the prompt from its run (what each option authorises), checks
role and option, signs the decision (`core.approvals`) and delivers it as the run's `respond` update. The
run's validator verifies the signature and the claims again: the API is the only holder of the signing
key, and the run trusts nothing in the update but what is signed.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException, Request
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import rpc_error, update_error
from core.approvals import Kind, Signer, claims_for, load_signer
from core.config.users import User, UserDirectory
from core.errors import ConfigError
from core.models import AuditEvent, AuditKind, PlaybookOutcome, Prompt, PromptAck, PromptResponse, PromptState
from core.prometheus import observe_prompt_response
from core.settings import Settings
from workflows.ids import container_workflow_id, parse_prompt_id


@lru_cache(maxsize=4)
def _signer(path: Path, kid: str, mtime: float) -> Signer:
    return load_signer(path, kid)


def signer(settings: Settings) -> Signer:
    """The API's approval signing key (re-read when the file changes).

    Raises:
        HTTPException: 503 when it is not configured, naming the fix.
    """
    path = settings.signing_key_path
    try:
        return _signer(path, settings.approval_key_id, path.stat().st_mtime)
    except (OSError, ConfigError) as e:
        raise HTTPException(503, f"cannot sign approvals: {e if isinstance(e, ConfigError) else e.strerror}. "
                                 "Run `soar keys init` or set SOAR_APPROVAL_PRIVATE_KEY_FILE") from None


async def find_prompt(client: Client, prompt_id: str) -> Prompt | None:
    """The prompt as its (open) run holds it; None when the run is closed or gone.

    Raises:
        HTTPException: 404 for an id that is not a prompt of an open run; 503 when Temporal is unavailable.
    """
    parsed = parse_prompt_id(prompt_id)
    if parsed is None:
        raise HTTPException(404, f"no prompt {prompt_id[:80]!r}")
    wid, pid = parsed
    try:
        prompts: list[Prompt] = await client.get_workflow_handle(wid).query("prompts", result_type=list[Prompt])
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return None
        raise rpc_error(e, f"prompt {pid}") from None
    except WorkflowFailureError:
        return None
    found = next((p for p in prompts if p.id == pid), None)
    if found is None:
        raise HTTPException(404, f"no prompt {pid}")
    return found


def answered(request: Request, prompt_id: str, ack: PromptAck) -> None:
    """After a delivered answer: the response-time metric, and a decided prompt off the fresh list at once
    (api/prompt_feed.py)."""
    observe_prompt_response(ack.waited_s)
    if ack.decided:
        request.app.state.board.closed(prompt_id)


async def answer(client: Client, settings: Settings, user: User, prompt_id: str, option: str, comment: str = "",
                 source: str | None = None) -> PromptAck:
    """Sign and deliver `user`'s answer. A refused answer is audited on the container.

    Raises:
        HTTPException: 404 unknown prompt, 403 wrong role or refused approval, 409 closed, 422 option not
            offered, 503 Temporal or the signing key unavailable.
    """
    p = await find_prompt(client, prompt_id)
    if p is None:
        return await _answer_of_finished_run(client, user, prompt_id, option)
    if p.state != PromptState.PENDING:
        return _already(p, user, option)
    try:
        if (why := p.refusal(user.name, user.roles)) is not None:
            raise HTTPException(403, why)
        if option not in p.options:
            raise HTTPException(422, f"option {option!r} is not offered; choose one of: {', '.join(p.options)}")
        return await _deliver(client, settings, user, p, option, comment, source)
    except HTTPException as e:
        if e.status_code in (403, 409, 422):
            await audit_refusal(client, p, user, option, str(e.detail), source)
        raise


async def delegate(client: Client, settings: Settings, directory: UserDirectory, user: User, prompt_id: str,
                   to: str, source: str | None = None) -> PromptAck:
    """Hand a prompt to a named colleague who holds its role (signed like an answer).

    Raises:
        HTTPException: 404 unknown prompt or colleague, 403 when either lacks the role, 409 closed.
    """
    p = await find_prompt(client, prompt_id)
    if p is None or p.state != PromptState.PENDING:
        raise HTTPException(409, f"prompt {prompt_id[:80]} is not waiting for an answer")
    colleague = directory.get(to)
    if colleague is None:
        raise HTTPException(404, f"no user {to[:60]!r}")
    if (why := p.refusal(user.name, user.roles)) is not None and "already approved" not in why:
        raise HTTPException(403, why)
    if not p.roles_allowed() & set(colleague.roles):
        raise HTTPException(403, f"{colleague.name} does not hold {p.role}; hand the prompt to someone who does")
    return await _deliver(client, settings, user, p, "delegate", "", source, kind="delegate", delegate_to=to)


async def withdraw(client: Client, settings: Settings, user: User, prompt_id: str,
                   source: str | None = None) -> PromptAck:
    """Take back `user`'s approval of a prompt whose quorum has not been reached.

    Raises:
        HTTPException: 404 unknown prompt, 409 when there is no approval of theirs to withdraw.
    """
    p = await find_prompt(client, prompt_id)
    if p is None or p.state != PromptState.PENDING:
        raise HTTPException(409, f"prompt {prompt_id[:80]} is decided; an approval it used cannot be withdrawn")
    return await _deliver(client, settings, user, p, "withdraw", "", source, kind="withdraw")


async def _deliver(client: Client, settings: Settings, user: User, p: Prompt, option: str, comment: str,
                   source: str | None, kind: Kind = "analyst", delegate_to: str | None = None) -> PromptAck:
    actions = p.authorizes.get(option, []) if kind == "analyst" else []
    claims = claims_for(prompt_id=p.id, workflow_id=p.workflow_id, container_id=p.container_id, option=option,
                        actions=actions, responder=user.name, roles=user.roles, now=datetime.now(UTC),
                        valid_for=timedelta(seconds=settings.approval_valid_s), source=source, kind=kind,
                        delegate_to=delegate_to)
    resp = PromptResponse(prompt_id=p.id, option=option, comment=comment, approval=signer(settings).sign(claims))
    try:
        # An answer retried is the same update (idempotent); a delegation or withdrawal is a new act each time.
        uid = f"response:{p.id}:{user.name}:{option}" if kind == "analyst" else f"{kind}:{p.id}:{uuid.uuid4().hex}"
        ack: PromptAck = await client.get_workflow_handle(p.workflow_id).execute_update(
            "respond", resp, id=uid[:250], result_type=PromptAck)
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return await _answer_of_finished_run(client, user, p.id, option)
        raise rpc_error(e, f"prompt {p.id}") from None
    return ack


async def audit_refusal(client: Client, p: Prompt, user: User, option: str, why: str, source: str | None) -> None:
    """Record a refused answer on the prompt's container (best effort: a closed container cannot take it)."""
    event = AuditEvent(time=datetime.now(UTC), kind=AuditKind.ANSWER_REFUSED, actor=user.name, roles=user.roles,
                       container_id=p.container_id, prompt_id=p.id, option=option, source=source, outcome="refused",
                       detail=why)
    with contextlib.suppress(RPCError):
        await client.get_workflow_handle(container_workflow_id(p.container_id)).signal("record_audit", event)


def _already(p: Prompt, user: User, option: str) -> PromptAck:
    r = p.response
    if r is not None and r.responder == user.name and r.option == option:
        return PromptAck(prompt_id=p.id, option=option, next_step="already recorded")
    raise HTTPException(409, f"prompt {p.id} is already {p.state.value}")


async def _answer_of_finished_run(client: Client, user: User, prompt_id: str, option: str) -> PromptAck:
    """The same request retried after the run finished: answer from its result."""
    parsed = parse_prompt_id(prompt_id)
    assert parsed is not None
    wid, pid = parsed
    try:
        out = await client.get_workflow_handle(wid, result_type=PlaybookOutcome).result()
    except (RPCError, WorkflowFailureError):
        raise HTTPException(404, f"no prompt {pid}") from None
    for rec in out.actions:
        if rec.kind == "prompt" and rec.summary.get("prompt_id") == pid:
            if rec.summary.get("responder") == user.name and rec.summary.get("option") == option:
                return PromptAck(prompt_id=pid, option=option, next_step="already recorded; the playbook has finished")
            raise HTTPException(409, f"prompt {pid} is already closed ({rec.message})")
    raise HTTPException(404, f"no prompt {pid}")
