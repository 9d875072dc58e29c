"""The acceptance-SLA settings and timed pauses of a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.stores import Store, StoreSettings

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def test_old_settings_json_loads_with_the_sla_defaults() -> None:
    settings = StoreSettings.from_json({"prep_minutes": 10})

    assert (settings.sla_reannounce_minutes, settings.sla_timeout_minutes) == (5, 15)
    assert (settings.sla_timeout_action, settings.sla_pause_after) == ("reject", 3)
    assert settings.busy_extra_minutes == 0
    assert StoreSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    "changes",
    [
        {"sla_timeout_action": "ignore"},
        {"sla_timeout_minutes": -1},
        {"sla_reannounce_minutes": 1441},
        {"sla_pause_after": True},
        {"busy_extra_minutes": 121},
        {"busy_extra_minutes": "5"},
    ],
)
def test_bad_sla_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StoreSettings.from_json(changes)


def test_a_pause_counts_until_it_runs_out() -> None:
    assert Store("c", "C", paused=True).is_paused(NOW)
    timed = Store("c", "C", paused=True, paused_until=NOW + timedelta(minutes=1))
    assert timed.is_paused(NOW)
    assert not timed.is_paused(NOW + timedelta(minutes=1))
    assert not Store("c", "C").is_paused(NOW)
