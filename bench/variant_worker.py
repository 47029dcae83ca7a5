"""Worker variants, for investigation only: `python -m bench.variant_worker VARIANT` runs worker.py unchanged
except for extra `Worker(...)` options (`--worker-variant` of bench.run starts it instead of worker.py)."""

from __future__ import annotations

import functools
import sys
from typing import Any

from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PLATFORM_MODULES = ("workflows.playbook", "workflows.container", "workflows.ids", "workflows.messages",
                    "workflows.registry", "core", "pydantic")


def variants() -> dict[str, dict[str, Any]]:
    """Variant name -> extra Worker keyword arguments."""
    return {
        "default": {},
        # Our own modules (and pydantic) imported once per process instead of once per workflow run.
        "passthrough": {"workflow_runner": SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows", "core", "pydantic"))},
        # Only the platform's workflow modules passed through; playbooks (workflows.playbooks.*) stay sandboxed.
        "platform": {"workflow_runner": SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PLATFORM_MODULES))},
        "unsandboxed": {"workflow_runner": UnsandboxedWorkflowRunner()},
    }


def main() -> None:
    """Patch the Worker class worker.py uses, then run worker.py's main()."""
    import worker

    name = sys.argv[1] if len(sys.argv) > 1 else "default"
    worker.Worker = functools.partial(Worker, **variants()[name])  # type: ignore[misc,assignment]
    worker.main()


if __name__ == "__main__":
    main()
