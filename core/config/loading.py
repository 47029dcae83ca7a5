"""Shared helpers for the config loaders: read a JSON list, resolve secret references, explain errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError
from core.settings import env_value

MAX_CONFIG_BYTES = 5 * 1024 * 1024
ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def read_json_list(path: Path, what: str) -> list[Any]:
    """Read `path` as a JSON list.

    Raises:
        ConfigError: the file is missing, too big, not JSON or not a list.
    """
    name = str(path)
    if not path.is_file():
        raise ConfigError(name, None, None, f"{what} file not found",
                          f"create it (see config/{path.name} in the repository) or point "
                          f"SOAR_{what.upper()}_FILE at an existing file")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(name, None, None, f"file is {size} bytes; the limit is {MAX_CONFIG_BYTES}",
                          "split or trim the file")
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(name, None, None, "file is not UTF-8 text", "save it as UTF-8 JSON") from None
    except json.JSONDecodeError as e:
        raise ConfigError(name, None, None, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}",
                          "fix the JSON syntax (a validator such as `python -m json.tool` shows where)") from None
    if not isinstance(data, list):
        raise ConfigError(name, None, None, f"top level is a JSON {type(data).__name__}, not a list",
                          f"wrap the {what} objects in [ ... ]")
    return data


def resolve_reference(value: str, *, file: str, entry: str, field: str) -> tuple[str, bool]:
    """Resolve `${ENV_VAR}` and `file:/path` references.

    Returns:
        The resolved value and whether it was a reference (False means a literal).

    Raises:
        ConfigError: the variable is unset or the file is unreadable.
    """
    m = ENV_REF.match(value)
    if m:
        resolved = env_value(m.group(1))
        if resolved is None or resolved == "":
            raise ConfigError(file, entry, field, f"environment variable {m.group(1)} is not set",
                              f"export {m.group(1)}=... before starting, or put it in .env")
        return resolved, True
    if value.startswith("file:"):
        p = Path(value[5:])
        try:
            return p.read_text(encoding="utf-8").strip(), True
        except OSError as e:
            raise ConfigError(file, entry, field, f"cannot read secret file {p}: {e.strerror}",
                              "check the path and that the process may read it") from None
    return value, False


def explain(e: ValidationError, *, file: str, entry: str, prefix: str = "") -> ConfigError:
    """Turn the first pydantic error into a ConfigError naming the field."""
    err = e.errors()[0]
    field = prefix + ".".join(str(p) for p in err["loc"]) if err["loc"] else (prefix.rstrip(".") or None)
    msg = err["msg"]
    fix = {
        "missing": "add the field",
        "extra_forbidden": "remove the field (it is not recognised) or check its spelling",
    }.get(err["type"], "give a value of the expected type")
    return ConfigError(file, entry, field or None, msg, fix)
