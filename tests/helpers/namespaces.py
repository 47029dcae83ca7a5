"""A Temporal namespace of a test's own on the session dev server (with our search attributes), so what the
test counts or lists (metrics, fuzzing) is not mixed with other tests' workflows."""

from __future__ import annotations

import asyncio
import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.temporal import SEARCH_ATTRIBUTES


async def own_namespace(dev_env: WorkflowEnvironment) -> str:
    """Register a namespace with our search attributes and wait until it serves visibility queries."""
    ns = f"fuzz-{uuid.uuid4().hex[:8]}"
    c = dev_env.client
    await c.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=ns, workflow_execution_retention_period=Duration(seconds=86400)))
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            await c.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=ns, search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type)
                                                 for k in SEARCH_ATTRIBUTES}))
            nc = await Client.connect(c.service_client.config.target_host, namespace=ns)
            await nc.count_workflows("SoarKind='container'")
            return ns
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
