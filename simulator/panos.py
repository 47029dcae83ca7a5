"""Simulated Palo Alto Networks firewall: the PAN-OS XML API at `/panos/api/`.

A faithful-enough subset: `type=keygen` (demo credentials -> demo key), `type=config` with
`action=set|delete|get|show|move` on the vsys objects a blocking connector touches (tags, addresses,
address groups, custom URL categories, security rules; any other xpath answers code 6 "Bad Xpath"),
`type=commit` (a job that is ACT on its first poll and FIN afterwards, validating references like the
device does; `POST /_sim/jobs {"panos": 330}` keeps it ACT for 330 s, a slow commit on a busy device)
and `type=op` (`show system info`, `show jobs id N`). Every call needs the key in the
`X-PAN-KEY` header or the `key` field, or it gets PAN-OS's HTTP 403 "Invalid Credential".

State (in GET /_sim/state, effects.panos): `candidate` / `running` config XML; `blocked_ips` and
`blocked_urls` as the RUNNING config actually enforces them (deny rules above the first allow-all
rule); `commits` (one entry per commit job); `keygens` (count).
"""

from __future__ import annotations

import copy
import hmac
import ipaddress
import re
import time
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring  # building only; parsing is defusedxml
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from fastapi import APIRouter, Request, Response

from simulator import credentials
from simulator.core import SimState, gate, sim_state

VENDOR = "panos"
PREFIX = "/panos"
router = APIRouter()

HOSTNAME, MODEL, SW_VERSION, SERIAL = "sim-fw-01", "PA-5260", "10.2.4", "013201000001"
BASE_CONFIG = (
    '<config version="10.2.0"><devices><entry name="localhost.localdomain"><vsys><entry name="vsys1">'
    "<tag/><address/><address-group/><profiles><custom-url-category/></profiles>"
    '<rulebase><security><rules><entry name="Allow Outbound"><from><member>trust</member></from>'
    "<to><member>untrust</member></to><source><member>any</member></source><destination><member>any"
    "</member></destination><source-user><member>any</member></source-user><category><member>any</member>"
    "</category><application><member>any</member></application><service><member>application-default"
    "</member></service><action>allow</action></entry></rules></security></rulebase></entry></vsys></entry>"
    "</devices></config>"
)
SECTIONS = {"tag": (), "address": (), "address-group": (), "profiles": ("custom-url-category",),
            "rulebase": ("security", "rules")}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
STEP_RE = re.compile(r"/([A-Za-z0-9_-]+)(?:\[(?:@name=(['\"])(.*?)\2|text\(\)=(['\"])(.*?)\4)\])?")
ZONES = {"any", "trust", "untrust"}
PREDEFINED_CATEGORIES = {"any", "malware", "phishing", "command-and-control", "grayware", "unknown"}
DENY_ACTIONS = {"deny", "drop", "reset-client", "reset-server", "reset-both"}
ADDRESS_KINDS = ("ip-netmask", "ip-range", "ip-wildcard", "fqdn")
Steps = list[tuple[str, str | None, str | None]]  # (tag, @name, text()) per xpath step


class ApiError(Exception):
    """A PAN-OS error reply (`<response status="error" code="N">`)."""

    def __init__(self, code: str, message: str, http: int = 200, status: str = "error") -> None:
        super().__init__(message)
        self.code, self.message, self.http, self.status = code, message, http, status

    def response(self) -> Response:
        """The XML reply."""
        code = f' code="{self.code}"' if self.code else ""
        return _xml(f'<response status="{self.status}"{code}><msg><line>{escape(self.message)}</line>'
                    "</msg></response>", self.http)


def _xml(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=body, status_code=status, media_type="application/xml", headers=headers)


def _invalid_credential() -> Response:
    # The device's own spelling, spaces around '=' and single quotes included.
    return _xml("<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result>"
                "</response>", 403)


def _fault(status: int, message: str, headers: dict[str, str]) -> Response:
    code = f' code="{status}"' if status in (400, 403) else ""
    return _xml(f'<response status="error"{code}><result><msg>{escape(message)}</msg></result></response>',
                status, headers)


def _parse(text: str) -> Element:
    return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)


def _dump(root: Element) -> str:
    return tostring(root, encoding="unicode")


def _members(node: Element | None, path: str) -> list[str]:
    return [] if node is None else [(m.text or "").strip() for m in node.findall(f"{path}/member")]


def _store(st: SimState) -> dict[str, Any]:
    eff = st.effects[VENDOR]
    eff.setdefault("candidate", BASE_CONFIG)
    eff.setdefault("running", BASE_CONFIG)
    for kind, default in (("blocked_ips", set()), ("blocked_urls", set()), ("commits", []), ("jobs", {})):
        st.effect(VENDOR, kind, default)
    eff.setdefault("keygens", 0)
    return eff


def _vsys(root: Element) -> Element:
    node = root.find("devices/entry/vsys/entry")
    assert node is not None
    return node


# --- xpaths ------------------------------------------------------------------------------------------
def _steps(xpath: str) -> Steps:
    """Parse an xpath into (tag, @name, text()) steps and check it is one of the supported subtrees."""
    steps, pos = [], 0
    while pos < len(xpath):
        m = STEP_RE.match(xpath, pos)
        if not m:
            raise ApiError("6", "Bad Xpath")
        steps.append((m.group(1), m.group(3), m.group(5)))
        pos = m.end()
    prefix = [s[0] for s in steps[:5]]
    if (prefix != ["config", "devices", "entry", "vsys", "entry"] or len(steps) < 6
            or steps[2][1] not in (None, "localhost.localdomain") or steps[4][1] not in (None, "vsys1")):
        raise ApiError("6", "Bad Xpath")
    section, rest = steps[5][0], [s[0] for s in steps[6:]]
    need = SECTIONS.get(section)
    if need is None or rest[: len(need)] != list(need):
        raise ApiError("6", "Bad Xpath")
    return steps


def _resolve(root: Element, steps: Steps, create: bool = False) -> list[Element]:
    nodes = [root]
    for tag, name, text in steps[1:]:
        found = []
        for n in nodes:
            hits = [c for c in n.findall(tag) if (name is None or c.get("name") == name)
                    and (text is None or (c.text or "") == text)]
            if not hits and create:
                c = SubElement(n, tag)
                if name is not None:
                    c.set("name", name)
                if text is not None:
                    c.text = text
                hits = [c]
            found += hits
        nodes = found
        if not nodes:
            return []
    return nodes


def _merge(target: Element, source: Element) -> None:
    """PAN-OS `set`: entries merge by name, member lists are unions, leaves are replaced."""
    for child in source:
        if child.tag == "member":
            if all((m.text or "") != (child.text or "") for m in target.findall("member")):
                target.append(copy.deepcopy(child))
            continue
        if child.tag == "entry":
            existing = next((e for e in target.findall("entry") if e.get("name") == child.get("name")), None)
            if existing is None:
                existing = SubElement(target, "entry", {"name": child.get("name") or ""})
        else:
            existing = target.find(child.tag)
            if existing is None:
                target.append(copy.deepcopy(child))
                continue
        if len(child) == 0 and child.tag != "entry":
            existing.text = child.text
        else:
            _merge(existing, child)


# --- validation (set time and commit time) -------------------------------------------------------------
def _sections(vsys: Element) -> dict[str, list[Element]]:
    return {"tag": vsys.findall("tag/entry"), "address": vsys.findall("address/entry"),
            "address-group": vsys.findall("address-group/entry"),
            "custom-url-category": vsys.findall("profiles/custom-url-category/entry"),
            "rules": vsys.findall("rulebase/security/rules/entry")}


def _check_objects(vsys: Element) -> None:
    """What `set` refuses outright (code 12 Invalid object): bad names, bad address values."""
    for section, entries in _sections(vsys).items():
        for e in entries:
            name = e.get("name") or ""
            tag_ok = section == "tag" and 0 < len(name) <= 127 and "'" not in name
            if not NAME_RE.match(name) and not tag_ok:
                raise ApiError("12", f"{section} -> {name[:80]!r} is not a valid name")
    for e in vsys.findall("address/entry"):
        kinds = [k for k in ADDRESS_KINDS if e.find(k) is not None]
        if len(kinds) != 1:
            raise ApiError("12", f"address -> {e.get('name')} needs one of {', '.join(ADDRESS_KINDS)}")
        if kinds[0] == "ip-netmask":
            try:
                ipaddress.ip_network(e.findtext("ip-netmask", ""), strict=False)
            except ValueError:
                raise ApiError("12", f"address -> {e.get('name')} -> ip-netmask is invalid") from None
    for r in vsys.findall("rulebase/security/rules/entry"):
        if r.findtext("action") not in (DENY_ACTIONS | {"allow", None}):
            raise ApiError("12", f"rules -> {r.get('name')} -> action is invalid")


def _commit_errors(vsys: Element) -> list[str]:
    """Reference checks a commit does; each problem is one `details` line."""
    s = _sections(vsys)
    tags = {e.get("name") for e in s["tag"]}
    addresses = {e.get("name") for e in s["address"]} | {e.get("name") for e in s["address-group"]}
    categories = {e.get("name") for e in s["custom-url-category"]} | PREDEFINED_CATEGORIES
    errors = []
    for e in s["address"]:
        errors += [f"address -> {e.get('name')} -> tag '{t}' is not a valid reference"
                   for t in _members(e, "tag") if t not in tags]
    for g in s["address-group"]:
        static = _members(g, "static")
        if not static and g.find("dynamic") is None:
            errors.append(f"address-group -> {g.get('name')} -> static is missing 'member'")
        errors += [f"address-group -> {g.get('name')} -> static '{m}' is not a valid reference"
                   for m in static if m not in addresses]
    for r in s["rules"]:
        for field in ("source", "destination"):
            errors += [f"rules -> {r.get('name')} -> {field} '{m}' is not a valid reference"
                       for m in _members(r, field) if m != "any" and m not in addresses and not _is_net(m)]
        for field in ("from", "to"):
            errors += [f"rules -> {r.get('name')} -> {field} '{m}' is not a valid reference"
                       for m in _members(r, field) if m not in ZONES]
        errors += [f"rules -> {r.get('name')} -> category '{m}' is not a valid reference"
                   for m in _members(r, "category") if m not in categories]
    return errors


def _is_net(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _referrers(vsys: Element, name: str) -> list[str]:
    s = _sections(vsys)
    out = [f"address-group -> {g.get('name')}" for g in s["address-group"] if name in _members(g, "static")]
    out += [f"rules -> {r.get('name')}" for r in s["rules"]
            if name in _members(r, "source") + _members(r, "destination") + _members(r, "category")]
    return out


def _refresh_effects(st: SimState, running: Element) -> None:
    """blocked_ips / blocked_urls as the running rulebase enforces them (first match wins)."""
    vsys = _vsys(running)
    addresses = {e.get("name"): e.findtext("ip-netmask") or e.findtext("fqdn") or e.findtext("ip-range")
                 for e in vsys.findall("address/entry")}
    groups = {g.get("name"): _members(g, "static") for g in vsys.findall("address-group/entry")}
    categories = {c.get("name"): _members(c, "list")
                  for c in vsys.findall("profiles/custom-url-category/entry")}

    def expand(name: str, depth: int = 0) -> set[str]:
        if name in addresses:
            return {addresses[name] or ""}
        if name in groups and depth < 10:
            return set().union(*(expand(m, depth + 1) for m in groups[name]))
        return {name} if _is_net(name) else set()

    ips: set[str] = set()
    urls: set[str] = set()
    for r in vsys.findall("rulebase/security/rules/entry"):
        dst, cat, act = _members(r, "destination"), _members(r, "category"), r.findtext("action")
        if r.findtext("disabled") == "yes":
            continue
        if act == "allow" and dst == ["any"] and cat == ["any"]:
            break  # everything below is shadowed
        if act not in DENY_ACTIONS:
            continue
        if cat == ["any"] and dst != ["any"]:
            ips.update(*(expand(m) for m in dst))
        if dst == ["any"] and cat != ["any"]:
            urls.update(*(categories.get(c, []) for c in cat))
    for kind, values in (("blocked_ips", ips), ("blocked_urls", urls)):
        current = st.effect(VENDOR, kind, set())
        current.clear()
        current.update(values)


# --- request types ------------------------------------------------------------------------------------
def _config(eff: dict[str, Any], f: dict[str, str]) -> Response:
    action, xpath = f.get("action", ""), f.get("xpath", "")
    if action not in ("set", "delete", "get", "show", "move"):
        raise ApiError("400", f"Invalid action {action[:40]!r}" if action else "Missing action")
    if not xpath:
        raise ApiError("400", "Missing xpath")
    steps = _steps(xpath)
    root = _parse(eff["running" if action == "show" else "candidate"])
    if action in ("get", "show"):
        nodes = _resolve(root, steps)
        if not nodes and action == "show":
            raise ApiError("7", "No such node")
        body = "".join(_dump(n) for n in nodes)
        if action == "get":
            code = "19" if nodes else "7"
            return _xml(f'<response status="success" code="{code}"><result total-count="{len(nodes)}" '
                        f'count="{len(nodes)}">{body}</result></response>')
        return _xml(f'<response status="success"><result>{body}</result></response>')
    if action == "set":
        try:
            element = _parse(f"<element>{f.get('element', '')}</element>")
        except (ParseError, DefusedXmlException):
            raise ApiError("18", "Malformed element") from None
        _merge(_resolve(root, steps, create=True)[0], element)
        _check_objects(_vsys(root))
    elif action == "delete":
        nodes = _resolve(root, steps)
        if not nodes:
            return _xml('<response status="success" code="7"><msg>Object doesn\'t exist</msg></response>')
        node, name = nodes[0], nodes[0].get("name")
        if node.tag == "entry" and steps[-2][0] in ("address", "address-group", "custom-url-category"):
            refs = _referrers(_vsys(root), name or "")
            if refs:
                raise ApiError("10", f"{name} cannot be deleted because of references from: "
                                     f"{'; '.join(refs)}")
        parent = _resolve(root, steps[:-1])[0]
        parent.remove(node)
    else:
        _move(root, steps, f)
    eff["candidate"] = _dump(root)
    return _xml('<response status="success" code="20"><msg>command succeeded</msg></response>')


def _move(root: Element, steps: Steps, f: dict[str, str]) -> None:
    if steps[5][0] != "rulebase" or steps[-1][0] != "entry" or steps[-1][1] is None:
        raise ApiError("6", "Bad Xpath")
    rules = _resolve(root, steps[:-1])
    rule = _resolve(root, steps)
    if not rules or not rule:
        raise ApiError("7", "Object not present")
    parent, node, where = rules[0], rule[0], f.get("where", "")
    entries = parent.findall("entry")
    if where == "top":
        if entries[0] is node:
            raise ApiError("14", f"Rule '{node.get('name')}' is already at the top")
        index = 0
    elif where == "bottom":
        index = len(entries) - 1
    elif where in ("before", "after"):
        dst = next((e for e in entries if e.get("name") == f.get("dst")), None)
        if dst is None or dst is node:
            raise ApiError("13", f"Destination rule {f.get('dst', '')[:60]!r} not found")
        others = [e for e in entries if e is not node]
        index = others.index(dst) + (1 if where == "after" else 0)
    else:
        raise ApiError("400", "Invalid where")
    parent.remove(node)
    parent.insert(index, node)


def _commit(st: SimState, eff: dict[str, Any], f: dict[str, str]) -> Response:
    try:
        cmd = _parse(f.get("cmd", ""))
    except (ParseError, DefusedXmlException):
        raise ApiError("18", "Malformed command") from None
    if cmd.tag != "commit":
        raise ApiError("17", "Invalid command")
    if eff["candidate"] == eff["running"]:
        return _xml('<response status="success" code="19"><msg>There are no changes to commit.</msg>'
                    "</response>")
    admins = _members(cmd.find("partial"), "admin")
    job_id = str(len(eff["jobs"]) + 1)
    errors = _commit_errors(_vsys(_parse(eff["candidate"])))
    eff["jobs"][job_id] = {"polls": 0, "done_at": time.monotonic() + st.job_seconds.get("panos", 0.0),
                           "user": admins[0] if admins else credentials.PAN_USERNAME,
                           "errors": errors, "config": eff["candidate"], "status": "ACT", "result": "PEND"}
    eff["commits"].append({"job": int(job_id), "admins": admins, "partial": bool(admins), "result": "PEND"})
    return _xml(f'<response status="success" code="19"><result><msg><line>Commit job enqueued with jobid '
                f"{job_id}</line></msg><job>{job_id}</job></result></response>")


def _show_job(st: SimState, eff: dict[str, Any], job_id: str) -> Response:
    job = eff["jobs"].get(job_id)
    if job is None:
        raise ApiError("", f"job {job_id[:20]} not found")
    job["polls"] += 1
    if job["status"] == "ACT" and job["polls"] >= 2 and time.monotonic() >= job["done_at"]:
        job["status"], job["result"] = "FIN", "FAIL" if job["errors"] else "OK"
        eff["commits"][int(job_id) - 1]["result"] = job["result"]
        if not job["errors"]:
            eff["running"] = job["config"]
            _refresh_effects(st, _parse(eff["running"]))
    if job["status"] == "ACT":
        progress, details = "55", ""
    elif job["result"] == "OK":
        progress, details = "100", "<line>Configuration committed successfully</line>"
    else:
        progress = "100"
        lines = ["Validation Error:", *job["errors"], "Commit failed"]
        details = "".join(f"<line>{escape(x)}</line>" for x in lines)
    return _xml(f'<response status="success"><result><job><id>{job_id}</id><user>{escape(job["user"])}</user>'
                f"<type>Commit</type><status>{job['status']}</status><queued>NO</queued><result>{job['result']}"
                f"</result><progress>{progress}</progress><details>{details}</details><warnings/></job>"
                "</result></response>")


def _op(st: SimState, eff: dict[str, Any], f: dict[str, str]) -> Response:
    try:
        cmd = _parse(f.get("cmd", ""))
    except (ParseError, DefusedXmlException):
        raise ApiError("18", "Malformed command") from None
    if cmd.tag == "show" and cmd.find("system/info") is not None:
        return _xml(f'<response status="success"><result><system><hostname>{HOSTNAME}</hostname>'
                    f"<ip-address>192.0.2.10</ip-address><model>{MODEL}</model><serial>{SERIAL}</serial>"
                    f"<sw-version>{SW_VERSION}</sw-version><family>5200</family><operational-mode>normal"
                    "</operational-mode></system></result></response>")
    job_id = (cmd.findtext("jobs/id") or "").strip() if cmd.tag == "show" else ""
    if job_id:
        return _show_job(st, eff, job_id)
    raise ApiError("17", "Invalid command")


async def _fields(request: Request) -> dict[str, str]:
    fields = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        fields.update({k: v for k, v in form.items() if isinstance(v, str)})
    return fields


def _dispatch(st: SimState, request: Request, f: dict[str, str]) -> Response:
    eff = _store(st)
    kind = f.get("type", "")
    if kind == "keygen":
        eff["keygens"] += 1
        ok = (hmac.compare_digest(f.get("user", "").encode(), credentials.PAN_USERNAME.encode())
              and hmac.compare_digest(f.get("password", "").encode(), credentials.PAN_PASSWORD.encode()))
        if not ok:
            return _invalid_credential()
        return _xml(f"<response status = 'success'><result><key>{credentials.PAN_API_KEY}</key></result>"
                    "</response>")
    key = request.headers.get("X-PAN-KEY") or f.get("key", "")
    if not hmac.compare_digest(key.encode(), credentials.PAN_API_KEY.encode()):
        return _invalid_credential()
    if kind == "config":
        return _config(eff, f)
    if kind == "commit":
        return _commit(st, eff, f)
    if kind == "op":
        return _op(st, eff, f)
    raise ApiError("400", f"Invalid type {kind[:40]!r}" if kind else "Missing type")


@router.api_route("/api/", methods=["GET", "POST"])
@router.api_route("/api", methods=["GET", "POST"], include_in_schema=False)
async def api(request: Request) -> Response:
    """The XML API endpoint (`type=keygen|config|commit|op`)."""
    await gate(request, VENDOR, _fault)
    st = sim_state(request)
    fields = await _fields(request)
    try:
        return _dispatch(st, request, fields)
    except ApiError as e:
        return e.response()
