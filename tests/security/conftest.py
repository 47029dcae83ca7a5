"""Security tests: a fixed test encryption key, a client on the dev server that encrypts, a users file
with extra roles, a capture of every log record of the session, and the order that runs the secret
scan after everything else (so it scans the histories and logs of the whole run)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.codec import EncryptionCodec, encrypted_converter
from core.config.users import hash_token, write_demo_users
from core.settings import Settings
from tests.helpers.api import TOKENS

# Test-only keys (public, fixed so the secret scan can decode what the codec tests wrote).
KEY_ID = "test-current"
KEY_B64 = base64.b64encode(bytes(range(32))).decode()
OLD_KEY_ID = "test-old"
OLD_KEY_B64 = base64.b64encode(bytes(range(100, 132))).decode()

# Extra users for the auth tests, next to the demo ones.
EXTRA_TOKENS = {"norole": "test-norole-token-0123456789", "admin": "test-admin-token-0123456789"}

SECRET_SCAN_MODULE = "test_secret_scan.py"


def enc_settings(base: Settings | None = None, **update: object) -> Settings:
    """`base` (or defaults) with payload encryption on under the test key."""
    base = base or Settings()
    return base.model_copy(update={"encryption_key": SecretStr(KEY_B64), "encryption_key_id": KEY_ID,
                                   "encryption_old_keys": {OLD_KEY_ID: SecretStr(OLD_KEY_B64)}, **update})


def make_codec() -> EncryptionCodec:
    """The codec of `enc_settings()` (current and old test keys)."""
    return EncryptionCodec.from_settings(enc_settings())


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def enc_client(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """A client on the session dev server whose payloads are encrypted with the test key."""
    c = dev_env.client
    yield await Client.connect(c.service_client.config.target_host, namespace=c.namespace,
                               data_converter=encrypted_converter(enc_settings()))


def write_users(path: Path) -> Path:
    """Write the demo users plus `nobody` (no role at all, token EXTRA_TOKENS["norole"]) and `root` (admin)."""
    users = json.loads(write_demo_users(path).read_text())
    known = {hash_token(t) for t in TOKENS.values()}
    assert all(u["token_sha256"] in known for u in users), "the demo users no longer match tests/helpers/api.py"
    users += [{"name": "nobody", "roles": [], "token_sha256": hash_token(EXTRA_TOKENS["norole"])},
              {"name": "root", "roles": ["admin"], "token_sha256": hash_token(EXTRA_TOKENS["admin"])}]
    path.write_text(json.dumps(users))
    return path


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    """A users file: the demo users plus `nobody` and `root` (see `write_users`)."""
    return write_users(tmp_path / "users.json")


# ---- every log record of the session ---------------------------------------------------------------
class _Capture(logging.Handler):
    """Keeps the text of every record (message, arguments, extra fields, exception) that reaches the root."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = [record.getMessage(), repr(record.args)]
            parts += [f"{k}={v!r}" for k, v in record.__dict__.items() if k not in _STD_ATTRS]
            if record.exc_info and record.exc_info[1] is not None:
                parts.append(logging.Formatter().formatException(record.exc_info))
            if record.exc_text:
                parts.append(record.exc_text)
            self.texts.append("\n".join(parts))
        except Exception:  # a broken record must not break the run
            self.texts.append(repr(record.__dict__))


_STD_ATTRS = set(logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__) | {"message", "asctime"}
SESSION_LOGS = _Capture()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[None]:
    """Capture the root logger for the whole run (read by the secret scan)."""
    root = logging.getLogger()
    root.addHandler(SESSION_LOGS)
    try:
        return (yield)
    finally:
        root.removeHandler(SESSION_LOGS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the secret scan last: it inspects what every other test left in Temporal and in the logs."""
    last = [i for i in items if i.path.name == SECRET_SCAN_MODULE and i.path.parent == Path(__file__).parent]
    if last:
        ids = {id(i) for i in last}
        items[:] = [i for i in items if id(i) not in ids] + last
