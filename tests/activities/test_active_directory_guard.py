"""The AD connector's guardrails against a REAL directory (the Samba AD DC of test_active_directory.py):
protected names, nested and primary-group membership of Domain Admins, the bind account and foreign domain
prefixes. Every refusal is checked to have written nothing (uSNChanged of every account).

The RID rule (a renamed built-in Administrator) cannot be staged on the shared DC without breaking the admin
bind of the other tests; `test_renamed_builtin_accounts_are_still_protected` checks it on directory data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import ldap3
import pytest

from activities.active_directory.config import ActiveDirectoryConfig
from activities.active_directory.guard import check_disable
from core.errors import GuardrailRefused, InvalidParameter
from core.guardrails import Guardrails
from tests.activities.test_active_directory import (  # noqa: F401 (fixtures)
    USER_PASSWORD,
    Run,
    admin,
    all_usn,
    new_user,
    read_user,
    run,
)
from tests.helpers.samba import SambaDC

pytestmark = pytest.mark.samba


@pytest.fixture
def nested_admin_group(admin: ldap3.Connection, samba_dc: SambaDC) -> Iterator[str]:  # noqa: F811
    """A group nested in Domain Admins (deleted afterwards); yields its DN."""
    dn = f"CN=g{uuid.uuid4().hex[:8]},CN=Users,{samba_dc.base_dn}"
    admins = f"CN=Domain Admins,CN=Users,{samba_dc.base_dn}"
    admin.add(dn, ["top", "group"], {"sAMAccountName": dn.split(",")[0][3:]})
    admin.modify(admins, {"member": [(ldap3.MODIFY_ADD, [dn])]})
    yield dn
    admin.modify(admins, {"member": [(ldap3.MODIFY_DELETE, [dn])]})
    admin.delete(dn)


def user_dn(dc: SambaDC, name: str) -> str:
    return f"CN={name},CN=Users,{dc.base_dn}"


async def refused(run: Run, target: str, **conf: Any) -> GuardrailRefused:  # noqa: F811
    with pytest.raises(GuardrailRefused) as e:
        await run("disable user", {"username": target}, approve=True, **conf)
    return e.value


async def test_krbtgt_and_administrator_are_refused_and_nothing_is_written(
        run: Run, admin: ldap3.Connection, samba_dc: SambaDC) -> None:  # noqa: F811
    before = all_usn(admin, samba_dc)
    for name in ("krbtgt", "TEST\\krbtgt", "Administrator", "administrator@test.local"):
        assert (await refused(run, name)).rule == "protected_accounts"
    assert all_usn(admin, samba_dc) == before


async def test_member_of_a_group_nested_in_domain_admins(run: Run, admin: ldap3.Connection, samba_dc: SambaDC,  # noqa: F811
                                                         new_user: Callable[..., str],  # noqa: F811
                                                         nested_admin_group: str) -> None:
    name = new_user()
    admin.modify(nested_admin_group, {"member": [(ldap3.MODIFY_ADD, [user_dn(samba_dc, name)])]})
    before = all_usn(admin, samba_dc)
    e = await refused(run, name)
    assert e.rule == "protected_groups" and "'Domain Admins' (through nested groups)" in str(e)
    assert all_usn(admin, samba_dc) == before and read_user(admin, samba_dc, name)["userAccountControl"] == 512


async def test_domain_admin_by_primary_group_only(run: Run, admin: ldap3.Connection, samba_dc: SambaDC,  # noqa: F811
                                                  new_user: Callable[..., str]) -> None:  # noqa: F811
    name = new_user()
    dn = user_dn(samba_dc, name)
    admin.modify(f"CN=Domain Admins,CN=Users,{samba_dc.base_dn}", {"member": [(ldap3.MODIFY_ADD, [dn])]})
    admin.modify(dn, {"primaryGroupID": [(ldap3.MODIFY_REPLACE, ["512"])]})
    admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["memberOf", "primaryGroupID"])
    attrs = admin.response[0]["attributes"]
    assert str(attrs["primaryGroupID"][0]) == "512"
    e = await refused(run, name)
    assert e.rule == "protected_groups" and "Domain Admins" in str(e)
    assert read_user(admin, samba_dc, name)["userAccountControl"] == 512


async def test_the_bind_account_cannot_disable_itself(run: Run, admin: ldap3.Connection, samba_dc: SambaDC,  # noqa: F811
                                                      new_user: Callable[..., str],  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    operator = new_user()
    monkeypatch.setenv("AD_TEST_PASSWORD", USER_PASSWORD)
    for bind in (f"{operator}@test.local", f"TEST\\{operator}", user_dn(samba_dc, operator)):
        e = await refused(run, operator, username=bind)
        assert e.rule == "bind_account" and "lock itself out" in str(e)
    assert read_user(admin, samba_dc, operator)["userAccountControl"] == 512


async def test_foreign_domain_prefix_is_refused_not_mapped(run: Run, admin: ldap3.Connection,  # noqa: F811
                                                           samba_dc: SambaDC) -> None:
    before = all_usn(admin, samba_dc)
    e = await refused(run, "OTHERFOREST\\jdoe")
    assert e.rule == "foreign_domain" and "set netbios_domain" in str(e)
    with pytest.raises(InvalidParameter, match="names the domain OTHERFOREST"):
        await run("get user attributes", {"username": "OTHERFOREST\\jdoe"})
    for ours in ("TEST\\jdoe", "test.local\\jdoe"):
        assert (await run("get user attributes", {"username": ours})).summary["sAMAccountName"] == "jdoe"
    assert all_usn(admin, samba_dc) == before


class _Directory:
    """The one client call `check_disable` makes after the read: the groups (none here)."""

    async def group_closure(self, dns: list[str]) -> list[dict[str, Any]]:
        return [{"dn": dn, "attributes": {}} for dn in dns]


@pytest.mark.parametrize(("sid", "account"), [("S-1-5-21-1-2-3-500", "Administrator"),
                                              ("S-1-5-21-1-2-3-502", "krbtgt")])
async def test_renamed_builtin_accounts_are_still_protected(sid: str, account: str) -> None:
    config = ActiveDirectoryConfig(server="dc1", username="svc@test.local", password="x" * 8)
    ctx = SimpleNamespace(guardrails=Guardrails(), config=config, client=_Directory(),
                          asset=SimpleNamespace(asset_name="ad"))
    raw = {"sAMAccountName": ["renamed-admin"], "objectSid": [sid], "memberOf": [], "primaryGroupID": ["513"]}
    with pytest.raises(GuardrailRefused, match=f"built-in {account}"):
        await check_disable(ctx, "renamed-admin", "CN=renamed-admin,CN=Users,DC=test,DC=local", raw)  # type: ignore[arg-type]
    raw["objectSid"] = ["S-1-5-21-1-2-3-1105"]
    await check_disable(ctx, "renamed-admin", "CN=renamed-admin,CN=Users,DC=test,DC=local", raw)  # type: ignore[arg-type]
