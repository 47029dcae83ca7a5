"""A Splunk ES notable delivered by the webhook alert action -> a `notable` container.

The payload (vendor-apis.md §9): `{"result": {<first result row, string values, multivalue as lists>},
"sid", "search_name" (may be null), "app", "owner", "results_link"}`. Entity fields are mapped to CEF
keys in one "Notable fields" artifact (as Splunk SOAR's export does), with the row's other fields kept
under their own names; each value of a multivalue field gets an artifact of its own. A value that is
not what its CEF key needs (src "999.1.1.1") is skipped with a note, never failing the whole alert.

Deduplication key (`source_data_identifier`): `<event_id>#<hash>` when the notable has an event_id, else
`<sid>#<hash>` (`<sid>/<orig_rid>#<hash>` with a result id), where `<hash>` is the SHA-256 of the result row
as canonical JSON (sorted keys). Splunk resending the same alert gives the same key, so one container; a
different result under a reused sid (or event_id) gets its own container instead of being hidden as a
duplicate. The Splunk id comes first so Splunk users can search by it; it is cut to fit 512 characters.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from api.ingest.common import Artifacts, IngestError, Notes, ParsedAlert, clean, fit_budget, reading
from api.ingest.limits import (
    MAX_ARTIFACTS,
    MAX_CEF_KEYS,
    MAX_EXTRA_LIST_ITEMS,
    MAX_EXTRA_TOTAL_CHARS,
    MAX_EXTRA_VALUE_CHARS,
)
from core.cef import (
    CEF_VALIDATORS,
    validate_domain,
    validate_hash,
    validate_host,
    validate_ip,
    validate_url,
    validate_user,
)
from core.models.container import NAME_MAX, Container, Severity

LABEL = "notable"
DEFAULT_NAME = "Splunk notable"
SEVERITIES = {"informational": Severity.LOW, "info": Severity.LOW, "low": Severity.LOW,
              "medium": Severity.MEDIUM, "high": Severity.HIGH, "critical": Severity.HIGH}
_HASH_KEYS = {32: "fileHashMd5", 40: "fileHashSha1", 64: "fileHashSha256"}
# Only digits and dots, or a colon: meant as an IP address, so never accepted as a host name.
_IP_LIKE_RE = re.compile(r"^[0-9.]+$|:")
# Row fields copied into the artifact under their own names (Splunk field names; `_time` but no `_raw`).
_EXTRA_NAME_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}|_time)$")

Converter = Callable[[str], dict[str, str]]


def _ip_or_host(ip_key: str, host_key: str) -> Converter:
    def convert(value: str) -> dict[str, str]:
        if _IP_LIKE_RE.search(value):
            return {ip_key: validate_ip(ip_key, value)}
        return {host_key: validate_host(host_key, value)}

    return convert


def _one(key: str, validator: Callable[[str, Any], str]) -> Converter:
    return lambda value: {key: validator(key, value)}


def _file_hash(value: str) -> dict[str, str]:
    digest = validate_hash("fileHash", value)
    return {"fileHash": digest, _HASH_KEYS[len(digest)]: digest}


def _file_name(value: str) -> dict[str, str]:
    name = clean(value, 255)
    if not name:
        raise ValueError("cef.fileName must be a non-empty file name")
    return {"fileName": name}


# Splunk CIM/ES field -> CEF key(s). CEF keys sent as such are validated and kept too.
FIELD_MAP: dict[str, Converter] = {
    "src": _ip_or_host("sourceAddress", "sourceHostName"),
    "src_ip": _one("sourceAddress", validate_ip),
    "dest": _ip_or_host("destinationAddress", "destinationHostName"),
    "dest_ip": _one("destinationAddress", validate_ip),
    "src_host": _one("sourceHostName", validate_host),
    "dest_host": _one("destinationHostName", validate_host),
    "user": _one("sourceUserName", validate_user),
    "src_user": _one("sourceUserName", validate_user),
    "dest_user": _one("destinationUserName", validate_user),
    "url": _one("requestURL", validate_url),
    "file_hash": _file_hash,
    "file_name": _file_name,
    "domain": _one("destinationDnsDomain", validate_domain),
    "dest_dns": _one("destinationDnsDomain", validate_domain),
    **{key: _one(key, validator) for key, validator in CEF_VALIDATORS.items()},
}


def parse_splunk_body(body: bytes, *, max_artifacts: int = MAX_ARTIFACTS) -> ParsedAlert:
    """Decode a Splunk ES webhook body (JSON bytes) and parse it, as the API does.

    Args:
        body: the raw body of the webhook POST.
        max_artifacts: artifacts in the container at most (the API's limit).

    Returns:
        As `parse_splunk`.

    Raises:
        IngestError: ("body", ...) when the body is not JSON, not UTF-8, or nested deeper than the decoder
            can follow (the C decoder recurses once per level: 50,000 `[` exhaust the stack); otherwise as
            `parse_splunk`.
    """
    try:
        payload = json.loads(body)
    except RecursionError:
        raise IngestError("body", "JSON nested too deeply to decode; a Splunk webhook payload is an object "
                                  "of result fields, a few levels deep") from None
    except MemoryError:
        raise IngestError("body", "JSON too large to decode within the parser's memory limit") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, and ints over the digit limit
        raise IngestError("body", f"not valid JSON ({str(e)[:200]}); send the webhook's JSON payload") from None
    with reading("body", decoders=False):
        return parse_splunk(payload, max_artifacts=max_artifacts)


def parse_splunk(payload: object, *, max_artifacts: int = MAX_ARTIFACTS) -> ParsedAlert:
    """Parse a Splunk ES webhook payload into a `notable` container.

    Args:
        payload: the decoded JSON body of the webhook POST.
        max_artifacts: artifacts in the container at most (the API's limit).

    Returns:
        The container and notes on the values that were skipped; the serialised container and notes fit
        `CONTAINER_BUDGET_BYTES`.

    Raises:
        IngestError: when the payload is not an object, `result` is missing or not an object (or nested too
            deeply to hash), or `sid` is missing or not a string.
    """
    if not isinstance(payload, dict):
        raise IngestError("body", f"expected a JSON object (the Splunk webhook payload), "
                                  f"got {_kind(payload)}")
    if "result" not in payload:
        raise IngestError("result", "missing: the webhook payload carries the alert's first result row "
                                    "as an object under \"result\"")
    result = payload["result"]
    if not isinstance(result, dict):
        raise IngestError("result", f"must be an object (the first result row), got {_kind(result)}")
    sid = payload.get("sid")
    if not isinstance(sid, str) or not clean(sid, 512):
        what = "missing" if sid is None else f"must be a non-empty string, got {_kind(sid)}"
        raise IngestError("sid", f"{what}: the Splunk search id (sid) identifies the alert")

    with reading("result"):
        digest = _result_hash(result)
    notes = Notes()
    severity = _severity(result, notes)
    arts = Artifacts(LABEL, severity, notes, max_artifacts)
    _artifacts(result, arts, notes)
    name = next((n for n in (_first(result.get("rule_title")), _first(result.get("rule_name")),
                             _first(payload.get("search_name")), _first(result.get("search_name"))) if n),
                DEFAULT_NAME)
    container = Container(
        name=name[:NAME_MAX],
        label=LABEL,
        severity=severity,
        source_data_identifier=_identifier(sid, result, digest),
        description=_description(payload, result, sid),
        artifacts=arts.finish(),
    )
    return fit_budget(container, notes.as_list(), aside=arts.aside)


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _first(value: object, limit: int = NAME_MAX) -> str:
    """The first string of a (possibly multivalue) field, cleaned; '' when there is none."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | int | float) and not isinstance(v, bool)), None)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return clean(value, limit)
    return ""


def _values(value: object) -> list[str] | None:
    """The string values of a field (one for a scalar, each for a list); None when it is an object."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict | list):
            if not isinstance(value, list):
                return None
            continue
        if item is None:
            continue
        text = clean(str(item).lower() if isinstance(item, bool) else item, MAX_EXTRA_VALUE_CHARS * 4)
        if text:
            out.append(text)
    return out


def _result_hash(result: dict[str, Any]) -> str:
    """SHA-256 of the result row as canonical JSON (sorted keys; lone surrogates escaped, so it always encodes)."""
    try:
        text = json.dumps(result, sort_keys=True, separators=(",", ":"), default=repr)
    except TypeError:  # keys of mixed types (a caller's dict, not decoded JSON) cannot be sorted
        text = json.dumps(result, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _identifier(sid: str, result: dict[str, Any], digest: str) -> str:
    """`<event_id>#<hash>`, else `<sid>[/<orig_rid>]#<hash>`: the same alert twice -> the same id."""
    ident = _first(result.get("event_id"), 1024)
    if not ident:
        ident = clean(sid, 1024)
        rid = _first(result.get("orig_rid"), 1024)
        if rid:
            ident = f"{ident}/{rid}"
    return f"{ident[: 512 - len(digest) - 1]}#{digest}"


def _severity(result: dict[str, Any], notes: Notes) -> Severity:
    for field in ("urgency", "severity"):
        value = _first(result.get(field), 64).lower()
        if not value:
            continue
        if value in SEVERITIES:
            return SEVERITIES[value]
        notes.add(f"result.{field} {value!r} is not one of informational, low, medium, high, critical")
    return Severity.MEDIUM


def _description(payload: dict[str, Any], result: dict[str, Any], sid: str) -> str:
    lines = [
        _first(result.get("rule_description"), 4000),
        f"Search: {s}" if (s := _first(payload.get("search_name"))) else "",
        f"Splunk results: {link}" if (link := _first(payload.get("results_link"), 4000)) else "",
        f"App: {a}" if (a := _first(payload.get("app"), 256)) else "",
        f"Search owner: {o}" if (o := _first(payload.get("owner"), 256)) else "",
        f"Search id: {clean(sid, 1024)}",
    ]
    return clean("\n".join(line for line in lines if line), 20_000, single_line=False)


def _artifacts(result: dict[str, Any], arts: Artifacts, notes: Notes) -> None:
    main: dict[str, Any] = {}
    separate: list[tuple[str, dict[str, str]]] = []
    extras: dict[str, Any] = {}
    overflow = False
    for key, value in result.items():
        if not isinstance(key, str):
            continue
        convert = FIELD_MAP.get(key)
        if convert is None:
            overflow = not _extra(key, value, extras) or overflow
            continue
        values = _values(value)
        if values is None:
            notes.add(f"result.{key} is an object, not a string or a list of strings; skipped")
            continue
        converted = []
        if len(values) > arts.limit:
            notes.add(f"result.{key} has {len(values)} values; the first {arts.limit} were read")
        for v in values[: arts.limit]:
            try:
                converted.append(convert(v))
            except ValueError as e:
                notes.add(f"result.{key} skipped: {e}")
        multivalue = isinstance(value, list) and len(values) > 1
        for cef in converted:
            if not multivalue and all(main.get(k, v) == v for k, v in cef.items()):
                main.update(cef)
            else:
                separate.append((f"Notable field: {key}", cef))
    if overflow:
        notes.add(f"the result row's other fields exceed {MAX_EXTRA_TOTAL_CHARS} characters; the rest were "
                  "not copied")
    room = MAX_CEF_KEYS - len(main)
    kept = [k for k in extras if k not in main][: max(0, room)]
    if len(extras) > len(kept):
        notes.add(f"the result row has more than {MAX_CEF_KEYS} fields; the rest were not copied")
    arts.add("Notable fields", "notable", {**main, **{k: extras[k] for k in kept}})
    for name, cef in separate:
        arts.add(name, "notable", cef)


def _extra(key: str, value: Any, extras: dict[str, Any]) -> bool:
    """Copy an unmapped row field into the artifact under its own name (strings, or lists of strings).

    False when the field was left out because the copied fields already hold `MAX_EXTRA_TOTAL_CHARS`.
    """
    if not _EXTRA_NAME_RE.match(key) or value is None or isinstance(value, dict):
        return True
    if len(extras) > MAX_CEF_KEYS:
        return True
    copied: str | list[str]
    if isinstance(value, list):
        copied = [clean(v, MAX_EXTRA_VALUE_CHARS, single_line=False)
                  for v in value[:MAX_EXTRA_LIST_ITEMS] if isinstance(v, str | int | float)]
        size = sum(map(len, copied))
    else:
        copied = clean(value, MAX_EXTRA_VALUE_CHARS, single_line=False)
        size = len(copied)
    used = sum(len(v) if isinstance(v, str) else sum(map(len, v)) for v in extras.values())
    if used + size > MAX_EXTRA_TOTAL_CHARS:
        return False
    extras[key] = copied
    return True
