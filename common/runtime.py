"""Process-level composition: settings and clients built once per process (Lambda container,
fan-out service, local gateway) and shared by every package's composition root."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from common.clients import Clients
from common.logs import configure
from common.settings import Settings

T = TypeVar("T")

_lock = threading.RLock()
_built: dict[str, Any] = {}


def once(name: str, build: Callable[[], T]) -> T:
    """Build ``name`` on first use and keep it for the life of the process."""
    with _lock:
        if name not in _built:
            _built[name] = build()
        return cast(T, _built[name])


def reset() -> None:
    """Forget everything built, so the next use reads the environment again (launcher, tests)."""
    with _lock:
        _built.clear()


def process_settings() -> Settings:
    def build() -> Settings:
        settings = Settings.from_env(os.environ)
        configure(settings.log_level)
        return settings

    return once("settings", build)


def process_clients() -> Clients:
    return once("clients", lambda: Clients(process_settings()))
