"""`o2o store add/edit/list`: stores with hours, fulfilment, delivery terms and tables."""

from __future__ import annotations

import json

import pytest

from bot.admin.stores import format_tables_spec, parse_tables_spec
from bot.cli import main
from tests.admin.conftest import CENTRAL, Cli, read_database

FULL_ADD = (
    "store", "add", "central", "--name", "Central Café", "--address", "1 Market Street",
    "--lat", "31.2304", "--lon", "121.4737", "--timezone", "Asia/Shanghai", "--currency", "CNY",
    "--hours", "mon-fri 08:00-20:00; sat 09:00-18:00; sun closed",
    "--fulfilment", "pickup,delivery,dine_in", "--delivery-radius-km", "2.5",
    "--delivery-fee", "5.00", "--min-order", "30", "--slot-capacity", "6", "--prep-minutes", "12",
    "--tables", "1-12:4,VIP:8", "--manager", "4242",
)  # fmt: skip


async def test_a_store_is_added_with_every_option_converted_and_validated(cli: Cli) -> None:
    result = await cli(*FULL_ADD)

    assert result.code == 0, result.err
    assert "store central added" in result.out
    db = await read_database(cli.url)
    central = db["stores"]["central"]
    assert central["name"] == "Central Café"
    assert central["address"] == "1 Market Street"
    assert (central["timezone"], central["currency"]) == ("Asia/Shanghai", "CNY")
    assert central["opening_hours"]["mon"] == [["08:00", "20:00"]]
    assert central["opening_hours"]["sat"] == [["09:00", "18:00"]]
    assert "sun" not in central["opening_hours"]
    settings = central["settings"]
    assert settings["fulfilment"] == ["pickup", "delivery", "dine_in"]
    assert settings["delivery_fee_minor"] == 500
    assert settings["delivery_min_order_minor"] == 3000
    assert settings["delivery_radius_km"] == 2.5
    assert (settings["slot_capacity"], settings["prep_minutes"]) == (6, 12)
    assert central["manager_telegram_id"] == 4242
    assert central["paused"] is False
    assert db["tables"][("central", "1")] == (4, True)
    assert db["tables"][("central", "12")] == (4, True)
    assert db["tables"][("central", "VIP")] == (8, True)
    assert len(db["tables"]) == 13


async def test_edit_changes_only_the_options_given(cli: Cli) -> None:
    await cli(*FULL_ADD)
    before = (await read_database(cli.url))["stores"]["central"]

    result = await cli("store", "edit", "central", "--name", "Central Coffee", "--min-order", "40")

    assert result.code == 0, result.err
    after = (await read_database(cli.url))["stores"]["central"]
    assert after["name"] == "Central Coffee"
    assert after["settings"]["delivery_min_order_minor"] == 4000
    assert after["settings"] == {**before["settings"], "delivery_min_order_minor": 4000}
    unchanged = ("address", "timezone", "currency", "opening_hours", "manager_telegram_id")
    assert {key: after[key] for key in unchanged} == {key: before[key] for key in unchanged}


async def test_any_other_setting_is_changed_with_set_key_value(cli: Cli) -> None:
    await cli(*FULL_ADD)

    result = await cli(
        "store",
        "edit",
        "central",
        "--set",
        "survey_delay_minutes=45",
        "--set",
        "survey_quiet_start=22:30",
        "--set",
        "sla_timeout_action=accept",
    )

    assert result.code == 0, result.err
    settings = (await read_database(cli.url))["stores"]["central"]["settings"]
    assert settings["survey_delay_minutes"] == 45
    assert settings["survey_quiet_start"] == "22:30"
    assert settings["sla_timeout_action"] == "accept"


async def test_a_new_tables_spec_deactivates_tables_left_out_instead_of_deleting_them(
    cli: Cli,
) -> None:
    await cli(*FULL_ADD)

    result = await cli("store", "edit", "central", "--tables", "1-4:2,5:6,T1:10")

    assert result.code == 0, result.err
    tables = (await read_database(cli.url))["tables"]
    assert tables[("central", "1")] == (2, True)
    assert tables[("central", "5")] == (6, True)
    assert tables[("central", "T1")] == (10, True)
    assert tables[("central", "6")] == (4, False), "kept for reservations, but inactive"
    assert tables[("central", "VIP")] == (8, False)
    assert sum(active for _, active in tables.values()) == 6


async def test_pause_resume_and_staff_chat_show_in_the_list(cli: Cli) -> None:
    await cli(*CENTRAL)

    paused = await cli("store", "edit", "central", "--pause", "--staff-chat-id", "-100777")
    listed = await cli("store", "list")
    resumed = await cli("store", "edit", "central", "--resume")
    as_json = await cli("store", "list", "--json")

    assert (paused.code, resumed.code) == (0, 0)
    header, row = listed.out.splitlines()
    assert header.split() == [
        "code", "name", "timezone", "hours", "fulfilment", "paused", "staff", "chat", "tables"
    ]  # fmt: skip
    assert row.split()[:2] == ["central", "Central"]
    assert "daily 07:30-21:00" in row
    assert row.split()[-3:] == ["yes", "-100777", "14"]
    [store] = json.loads(as_json.out)
    assert store["paused"] is False
    assert store["staff_chat_id"] == -100777
    assert store["hours"] == "daily 07:30-21:00"
    assert store["tables_count"] == 14
    assert store["tables"][-1] == {"label": "14", "capacity": 8}


async def test_listing_an_empty_database_says_how_to_add_a_store(cli: Cli) -> None:
    table = await cli("store", "list")
    as_json = await cli("store", "list", "--json")

    assert table.code == 0
    assert "o2o store add" in table.out
    assert json.loads(as_json.out) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (CENTRAL, "exists already"),
        (("store", "add", "Central!", "--name", "X"), "store code"),
        (("store", "add", "north", "--name", "X", "--timezone", "Mars/Olympus"), "--timezone"),
        (("store", "add", "north", "--name", "X", "--hours", "mon-fri 9-5"), "--hours"),
        (("store", "add", "north", "--name", "X", "--hours", "sometimes"), "--hours"),
        (("store", "add", "north", "--name", "X", "--delivery-fee", "5.001"), "--delivery-fee"),
        (("store", "add", "north", "--name", "X", "--min-order", "-3"), "--min-order"),
        (("store", "add", "north", "--name", "X", "--min-order", "abc"), "--min-order"),
        (("store", "add", "north", "--name", "X", "--currency", "yuan"), "--currency"),
        (("store", "add", "north", "--name", "X", "--fulfilment", "drone"), "--fulfilment"),
        (("store", "add", "north", "--name", "X", "--tables", "9-1:4"), "--tables"),
        (("store", "add", "north", "--name", "X", "--tables", "1-3:0"), "--tables"),
        (("store", "add", "north", "--name", "X", "--slot-capacity", "0"), "--slot-capacity"),
        (
            ("store", "add", "north", "--name", "X", "--delivery-radius-km", "0"),
            "--delivery-radius",
        ),
        (("store", "add", "north", "--name", "X", "--lat", "31.2"), "--lat and --lon"),
        (("store", "edit", "nowhere", "--name", "X"), "unknown store"),
        (("store", "edit", "central", "--staff-chat-id", "group"), "--staff-chat-id"),
        (("store", "edit", "central", "--set", "survey_delay=5"), "--set: 'survey_delay=5'"),
        (("store", "edit", "central", "--set", "nokey"), "--set"),
        (("store", "edit", "central", "--set", "survey_quiet_start=25:00"), "time of day"),
        (("store", "edit", "central", "--set", "sla_timeout_action=ignore"), "--set"),
    ],
)
async def test_bad_input_is_refused_in_one_line_with_exit_code_2_and_changes_nothing(
    cli: Cli, argv: tuple[str, ...], expected: str
) -> None:
    await cli(*CENTRAL)
    before = await read_database(cli.url)

    result = await cli(*argv)

    assert result.code == 2
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("o2o: error: ")
    assert expected in result.err_lines[0]
    assert await read_database(cli.url) == before


async def test_a_staff_chat_belongs_to_one_store_only(cli: Cli) -> None:
    await cli(*CENTRAL)
    await cli("store", "add", "north", "--name", "North")
    await cli("store", "edit", "central", "--staff-chat-id", "-1001")

    result = await cli("store", "edit", "north", "--staff-chat-id", "-1001")

    assert result.code == 2
    assert "central" in result.err


async def test_changing_the_currency_asks_for_the_amounts_again(cli: Cli) -> None:
    await cli(*CENTRAL, "--delivery-fee", "5.00")

    refused = await cli("store", "edit", "central", "--currency", "JPY")
    accepted = await cli("store", "edit", "central", "--currency", "JPY", "--delivery-fee", "500")

    assert refused.code == 2
    assert "--delivery-fee" in refused.err
    assert accepted.code == 0, accepted.err
    settings = (await read_database(cli.url))["stores"]["central"]["settings"]
    assert settings["delivery_fee_minor"] == 500


def test_a_tables_spec_expands_ranges_and_formats_back() -> None:
    tables = parse_tables_spec(" 1-3:4 , 04:2, VIP:8,Bar ")

    assert tables == [("1", 4), ("2", 4), ("3", 4), ("4", 2), ("VIP", 8), ("Bar", 4)]
    assert format_tables_spec(tables) == "1-3:4,4:2,VIP:8,Bar:4"
    assert parse_tables_spec("") == []


@pytest.mark.parametrize("spec", ["1-3,2", "1-3:x", "a b", "1-", "123456789", "1-1000"])
def test_a_bad_tables_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_tables_spec(spec)


@pytest.mark.parametrize(
    "command",
    [
        ["store"],
        ["store", "add"],
        ["store", "edit"],
        ["store", "list"],
        ["store", "qr"],
        ["catalog"],
        ["catalog", "import"],
        ["catalog", "export"],
    ],
)
def test_every_admin_command_has_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])

    assert caught.value.code == 0
    assert f"usage: o2o {' '.join(command)}" in capsys.readouterr().out
