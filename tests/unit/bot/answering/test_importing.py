from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from bot.answering.anonymity import pseudonym
from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.answering.importing import ImportFileError, import_answers
from bot.app.cli import app
from bot.reporting.aggregation import aggregate
from bot.reporting.exports.data import export_rows
from storage.db import Database
from storage.models import Response, ResponseRevision
from tests.unit.bot.reporting.test_aggregation import CONSULTATION, DIRECTORY, setup

FILE = (
    "respondent,name,organisation,networks,region,question id,answer value,answer,comment,quote consent\n"
    "alice@example.org,Alice Smith,Example ICS,ICS Network,north-west,q1,agree,,We need clarity,named\n"
    "alice@example.org,Alice Smith,Example ICS,ICS Network,north-west,approach,,Middle way,,named\n"
    "bob@example.org,Bob Jones,Some Trust,mh-network; pcn-network,London,q1,,Strongly disagree,,\n"
    "bob@example.org,,,,,nope,agree,,,\n"
    "bob@example.org,,,,,approach,maybe,,,\n"
    ',,,,,q1,agree,,"a comment\n'
    'over two lines",\n'
    "carol@example.org,,,,,helps,,Data; Time,,\n"
    "carol@example.org,,,,,q1,agree,,,perhaps\n"
    f"dave@example.org,,,,,q1,agree,,{'x' * 3001},\n"
    "erin@example.org,,,Dental Network,,q1,agree,,,\n"
    "frank@example.org,,,,Mars,q1,agree,,,\n"
    "alice@example.org,,,,,q1,disagree,,,\n"
)


async def test_bad_rows_are_reported_by_line_and_the_rest_imported(db: Database) -> None:
    await setup(db)
    report = await import_answers(db, "poll", FILE, anon_secret="k")

    assert [str(p) for p in report.problems] == [
        "line 5: unknown question 'nope' (the consultation has: q1, approach, helps, why)",
        "line 6: answer 'maybe' is not an option of question 'approach' "
        "(one of: voluntary-partnerships, middle-way, statutory-integrated-authorities)",
        "line 7: missing respondent",
        "line 10: quote consent 'perhaps' must be named, anonymous or no",
        "line 11: comment too long (3,001 characters; at most 3,000)",
        "line 12: unknown network 'Dental Network'",
        "line 13: unknown region 'Mars'",
        "line 14: respondent 'alice@example.org' already answered question 'q1' on line 2",
    ]
    assert (report.respondents, report.unchanged) == (3, 0)
    assert report.summary() == "Imported 3 respondents (0 unchanged); 8 rows skipped:"

    rows = {(r["respondent"], r["question id"]): r for r in await export_rows(db, "poll")}
    assert set(rows) == {
        ("alice@example.org", "q1"),
        ("alice@example.org", "approach"),
        ("bob@example.org", "q1"),
        ("carol@example.org", "helps"),
    }
    alice = rows[("alice@example.org", "q1")]
    assert (alice["answer value"], alice["comment"], alice["quote consent"]) == (
        "agree",
        "We need clarity",
        "named",
    )
    assert (alice["name"], alice["organisation"], alice["region"]) == (
        "Alice Smith",
        "Example ICS",
        "North West",
    )
    assert rows[("alice@example.org", "approach")]["answer value"] == "middle-way"
    bob = rows[("bob@example.org", "q1")]
    assert bob["answer value"] == "strongly_disagree"
    assert bob["networks"] == "Mental Health Network; PCN Network"
    assert bob["region"] == "London"
    assert bob["quote consent"] == "anonymous"
    assert rows[("carol@example.org", "helps")]["answer value"] == "data; time"
    assert {r["source"] for r in rows.values()} == {"import"}


async def test_reimporting_the_same_file_changes_nothing(db: Database) -> None:
    await setup(db)
    await import_answers(db, "poll", FILE, anon_secret="k")
    figures = (await aggregate(db, "poll")).to_export_json()

    again = await import_answers(db, "poll", FILE, anon_secret="k")
    assert (again.respondents, again.unchanged) == (3, 3)
    assert again.summary().startswith("Imported 3 respondents (3 unchanged)")
    async with db.session() as session:
        revisions = (await session.exec(select(func.count()).select_from(ResponseRevision))).one()
        keys = set((await session.exec(select(Response.respondent_key))).all())
    assert revisions == 3
    assert keys == {
        "import:alice@example.org",
        "import:bob@example.org",
        "import:carol@example.org",
    }
    assert (await aggregate(db, "poll")).to_export_json() == figures

    edited = FILE.replace("north-west,q1,agree,", "north-west,q1,disagree,")
    changed = await import_answers(db, "poll", edited, anon_secret="k")
    assert (changed.respondents, changed.unchanged) == (3, 2)
    q1 = (await aggregate(db, "poll")).question("q1")
    assert (q1.counts["agree"], q1.counts["disagree"]) == (0, 1)


async def test_imported_answers_are_marked_and_counted_with_slack_ones(db: Database) -> None:
    consultation = await setup(db)
    async with db.session() as session:
        await record_submission(
            session,
            Submission(
                consultation,
                {
                    "q1": AnswerInput(choice="agree"),
                    "approach": AnswerInput(choice="middle-way"),
                    "helps": AnswerInput(choices=("data",)),
                },
                user_id="U0SLACK",
                networks=["ics-network"],
            ),
            anon_secret="k",
        )
    text = (
        "respondent,question id,answer value,networks\n"
        "U0SLACK,q1,disagree,ics-network\n"
        "post@example.org,q1,agree,ics-network\n"
    )
    report = await import_answers(db, "poll", text, anon_secret="k")
    assert [str(p) for p in report.problems] == [
        "line 2: respondent 'U0SLACK' answered in Slack; their Slack answers are kept"
    ]
    result = await aggregate(db, "poll")
    assert (result.respondents, result.imported) == (2, 1)
    assert result.question("q1").counts["agree"] == 2
    sources = {r["respondent"]: r["source"] for r in await export_rows(db, "poll")}
    assert sources == {"U0SLACK": "slack", "post@example.org": "import"}


async def test_anonymous_import_stores_pseudonyms_and_no_identity(db: Database) -> None:
    await setup(db, anonymous=True)
    report = await import_answers(db, "poll", FILE, anon_secret="k")
    assert report.respondents == 3
    async with db.session() as session:
        responses = (await session.exec(select(Response))).all()
    assert {r.respondent_key for r in responses} == {
        pseudonym("k", "poll", f"import:{who}@example.org") for who in ("alice", "bob", "carol")
    }
    assert all(r.display_name is None and r.organisation is None for r in responses)
    # Named consent cannot survive anonymity.
    assert {r.quote_consent for r in responses} <= {"anonymous", "no"}
    again = await import_answers(db, "poll", FILE, anon_secret="k")
    assert again.unchanged == 3


async def test_semicolon_separated_excel_files_and_bom_are_read(db: Database) -> None:
    await setup(db)
    text = "\ufeffRespondent;Question ID;Answer\nann;q1;Agree\nann;approach;Middle way\n"
    report = await import_answers(db, "poll", text, anon_secret="k")
    assert (report.respondents, report.problems) == (1, [])
    assert (await aggregate(db, "poll")).question("approach").counts["middle-way"] == 1


async def test_unusable_files_are_refused_whole(db: Database) -> None:
    await setup(db)
    with pytest.raises(ImportFileError, match="the file is empty"):
        await import_answers(db, "poll", "", anon_secret="k")
    with pytest.raises(ImportFileError, match="no 'question id' column"):
        await import_answers(db, "poll", "respondent,answer\nann,agree\n", anon_secret="k")


# --- CLI -------------------------------------------------------------------------------------


def _prepared(tmp_path: Path) -> tuple[CliRunner, dict[str, str]]:
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    (tmp_path / "poll.yaml").write_text(CONSULTATION.format(anonymous="false"))
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["directory", "load", str(tmp_path / "directory.yaml")], env=env
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["consultation", "add", str(tmp_path / "poll.yaml")], env=env).exit_code
        == 0
    )
    return runner, env


def test_cli_import_prints_a_summary_with_numbered_problems(tmp_path: Path) -> None:
    runner, env = _prepared(tmp_path)
    path = tmp_path / "answers.csv"
    path.write_text(FILE)

    first = runner.invoke(app, ["answers", "import", "poll", str(path)], env=env)
    assert first.exit_code == 0, first.output
    lines = first.output.strip().splitlines()
    assert lines[0] == "Imported 3 respondents (0 unchanged); 8 rows skipped:"
    assert (
        lines[1]
        == "  line 5: unknown question 'nope' (the consultation has: q1, approach, helps, why)"
    )
    assert len(lines) == 9

    path.write_text("\n".join(FILE.splitlines()[:4]) + "\n")
    second = runner.invoke(app, ["answers", "import", "poll", str(path)], env=env)
    assert second.exit_code == 0
    assert second.output.strip() == "Imported 2 respondents (2 unchanged)."


def test_cli_import_errors(tmp_path: Path) -> None:
    runner, env = _prepared(tmp_path)
    missing = runner.invoke(app, ["answers", "import", "poll", str(tmp_path / "none.csv")], env=env)
    assert missing.exit_code == 1
    assert "cannot read" in missing.output and len(missing.output.strip().splitlines()) == 1

    path = tmp_path / "answers.csv"
    path.write_text(FILE)
    unknown = runner.invoke(app, ["answers", "import", "nope", str(path)], env=env)
    assert unknown.exit_code == 1
    assert "no consultation with id 'nope'" in unknown.output

    path.write_text("respondent,question id,answer value\nann,nope,agree\n")
    nothing = runner.invoke(app, ["answers", "import", "poll", str(path)], env=env)
    assert nothing.exit_code == 1
    assert "line 2: unknown question 'nope'" in nothing.output
    assert "nothing imported" in nothing.output
