"""Settings as deployments give them: text in environment variables."""

from __future__ import annotations

import pytest

from cellmon.core.settings import Settings


@pytest.mark.parametrize("version", [1, 2])
def test_influxdb_api_version_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    monkeypatch.setenv("INFLUXDB_API_VERSION", str(version))
    chosen = Settings(_env_file=None).INFLUXDB_API_VERSION
    assert chosen == version


def test_influxdb_api_version_refuses_other_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFLUXDB_API_VERSION", "3")
    with pytest.raises(ValueError, match="INFLUXDB_API_VERSION"):
        Settings(_env_file=None)
