"""`consultbot` command line (docs/contracts.md, Command line): exit codes 0 ok, 1 user error on stderr, 2 usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.cli import app

GOOD = """\
id: integrating-care
title: "Integrating care: next steps for ICSs"
deadline: 2021-01-08T17:00
timezone: Europe/London
questions:
  - {id: q1, text: "Do you agree?", kind: stance}
  - {id: approach, text: "Which approach?", kind: single_choice, options: [A way, Middle way]}
"""

BAD = """\
id: Integrating Care
deadline: 2021-01-08T17:00
questions:
  - {id: q1, text: "Which?", kind: single_choice, options: [Only one]}
"""

DIRECTORY = """\
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West, leads: [U01LEADNW]}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICSNET}
  - {id: mental-health-network, name: Mental Health Network, channel: C01MHNET}
members:
  U01ABC: {region: north-west, organisation: Example ICS}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with DATABASE_URL pointing at a SQLite file in it."""
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "CONSULTBOT_TIMEZONE",
        "CONSULTBOT_ORGANISATION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_db_upgrade(workdir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "revision" in result.stdout
    assert (workdir / "cli.db").exists()
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0, again.output


def test_bad_consultation_file_exits_1_naming_every_field(workdir: Path, runner: CliRunner) -> None:
    path = write(workdir, "bad.yaml", BAD)
    result = runner.invoke(app, ["consultation", "add", str(path)])
    assert result.exit_code == 1
    assert "bad.yaml" in result.stderr
    for field in ("id:", "title:", "questions[0]:"):
        assert field in result.stderr
    assert "Traceback" not in result.output
    listed = runner.invoke(app, ["consultation", "list"])
    assert listed.exit_code == 0
    assert "No consultations yet" in listed.stdout


def test_missing_file_exits_1(workdir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["consultation", "add", str(workdir / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read it" in result.stderr


def test_good_file_is_added_and_listed(workdir: Path, runner: CliRunner) -> None:
    path = write(workdir, "good.yaml", GOOD)
    result = runner.invoke(app, ["consultation", "add", str(path)])
    assert result.exit_code == 0, result.output
    assert "integrating-care" in result.stdout
    assert "Friday 8 January 2021, 5pm" in result.stdout
    listed = runner.invoke(app, ["consultation", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "integrating-care" in listed.stdout
    assert "draft" in listed.stdout


def test_a_scheduled_consultation_is_listed_with_its_launch_time(
    workdir: Path, runner: CliRunner
) -> None:
    path = write(workdir, "scheduled.yaml", GOOD + "launch_at: 2021-01-04T09:30\n")
    assert runner.invoke(app, ["consultation", "add", str(path)]).exit_code == 0
    listed = runner.invoke(app, ["consultation", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "scheduled for Monday 4 January 2021, 9:30am" in listed.stdout


def test_adding_the_same_id_twice_exits_1(workdir: Path, runner: CliRunner) -> None:
    path = write(workdir, "good.yaml", GOOD)
    assert runner.invoke(app, ["consultation", "add", str(path)]).exit_code == 0
    again = runner.invoke(app, ["consultation", "add", str(path)])
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_unknown_network_exits_1(workdir: Path, runner: CliRunner) -> None:
    path = write(workdir, "nets.yaml", GOOD + "networks: [pcn-network]\n")
    result = runner.invoke(app, ["consultation", "add", str(path)])
    assert result.exit_code == 1
    assert "pcn-network" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["frobnicate"], ["consultation", "frobnicate"], ["consultation", "add"], ["run", "--nope"]],
)
def test_usage_errors_exit_2(workdir: Path, runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_directory_load(workdir: Path, runner: CliRunner) -> None:
    path = write(workdir, "directory.yaml", DIRECTORY)
    result = runner.invoke(app, ["directory", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "Loaded 2 networks, 1 regions, 1 leads, 1 staff and 1 member profiles." in (
        " ".join(result.stdout.split())
    )
    # The networks are now known to consultations.
    added = runner.invoke(
        app,
        ["consultation", "add", str(write(workdir, "c.yaml", GOOD + "networks: [ics-network]\n"))],
    )
    assert added.exit_code == 0, added.output


def test_bad_directory_exits_1(workdir: Path, runner: CliRunner) -> None:
    path = write(workdir, "directory.yaml", DIRECTORY.replace("C01ICSNET", "general"))
    result = runner.invoke(app, ["directory", "load", str(path)])
    assert result.exit_code == 1
    assert "networks[0].channel" in result.stderr


def test_run_without_token_exits_1_naming_it(workdir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "--http"])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_the_draft_speaks_for_the_configured_organisation(
    workdir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write(workdir, "directory.yaml", DIRECTORY)
    assert runner.invoke(app, ["directory", "load", str(directory)]).exit_code == 0
    added = runner.invoke(app, ["consultation", "add", str(write(workdir, "c.yaml", GOOD))])
    assert added.exit_code == 0, added.output
    monkeypatch.setenv("CONSULTBOT_ORGANISATION", "the Example Federation")

    result = runner.invoke(
        app, ["export", "integrating-care", "--format", "md", "--out", str(workdir / "d.md")]
    )

    assert result.exit_code == 0, result.output
    draft = (workdir / "d.md").read_text(encoding="utf-8")
    assert "sets out the views of the Example Federation" in " ".join(draft.split())
