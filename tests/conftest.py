"""Fixtures shared by every tier."""

from __future__ import annotations

import os
import uuid

import pytest

from common.settings import Settings

REAL_REDIS_URL = os.environ.get("REDIS_URL", "")
# No EMF lines in the tests' output; tests/unit/test_observability.py turns metrics on.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def test_settings(**overrides: str) -> Settings:
    """Settings for one test: its own stage and Redis namespace, so tests never collide."""
    env = {
        "AWS_REGION": "us-east-1",
        "SOTTO_STAGE": "test",
        "SOTTO_REDIS_NAMESPACE": f"sotto-test-{uuid.uuid4().hex[:12]}",
        "SOTTO_COGNITO_USER_POOL_ID": "us-east-1_testpool",
        "SOTTO_COGNITO_CLIENT_ID": "test-client",
        **overrides,
    }
    return Settings.from_env(env)


@pytest.fixture
def settings() -> Settings:
    return test_settings()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, and no endpoint override, so moto's in-process mock is used."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
