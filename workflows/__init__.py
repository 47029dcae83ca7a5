"""Workflows: the container entity workflow and the playbooks (one file each), discovered here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.runtime import AssetStore
    from core.settings import Settings


def all_workflows() -> list[type]:
    """Every workflow class the playbook worker runs."""
    from workflows.assets import AssetsWorkflow
    from workflows.board import PromptBoard
    from workflows.container import ContainerWorkflow
    from workflows.phantom.workflow import PhantomPlaybook
    from workflows.registry import PLAYBOOKS

    return list(dict.fromkeys([ContainerWorkflow, AssetsWorkflow, PromptBoard, PhantomPlaybook,
                               *(p.workflow for p in PLAYBOOKS.values())]))


def platform_activities(store: AssetStore, settings: Settings) -> list[Callable[..., Any]]:
    """The platform's own activities (trigger matching, asset routes, prompt notifications, the prompt feed).

    Raises:
        ConfigError: notifications.json is invalid or names a secret that cannot be resolved.
    """
    from activities.notify import NotifyActivities
    from activities.prompt_feed import PromptFeedSender
    from core.config.notifications import NotificationFile
    from workflows.platform import PlatformActivities
    from workflows.registry import PLAYBOOKS

    notifications = NotificationFile(settings.notifications_file, PLAYBOOKS.keys())
    notifications.get().check_secrets()  # a broken file or an unset variable stops the worker here
    feed = PromptFeedSender(settings.api_url if settings.prompt_feed else None)
    return (PlatformActivities(store, settings, notifications).all() + NotifyActivities(settings, notifications).all()
            + feed.all())
