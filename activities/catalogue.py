"""The discovered connectors as a constant, for workflow code.

Workflows cannot be handed objects at construction, so they read the catalogue from here (imported
through the sandbox's pass-through, so this runs once in the host process). Entry points that build
assets and activities call `discover_connectors()` themselves and pass the result in.
"""

from __future__ import annotations

from activities import discover_connectors
from core.connector import Connector

CONNECTORS: dict[str, Connector] = discover_connectors()  # type: ignore[type-arg]
