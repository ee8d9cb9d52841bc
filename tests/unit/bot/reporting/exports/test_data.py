from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import delete
from typer.testing import CliRunner

from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.answering.importing import import_answers
from bot.answering.sheet import restore
from bot.app.cli import app
from bot.reporting.aggregation import Filters, aggregate
from bot.reporting.exports.data import (
    columns,
    export_csv,
    export_json,
    export_rows,
    export_xlsx,
    neutralise,
)
from storage.db import Database
from storage.models import Response
from tests.unit.bot.reporting.test_aggregation import CONSULTATION, DIRECTORY, poll, setup, user

HOSTILE = ['=HYPERLINK("http://evil","x")', "@SUM(A1)", "+1", "-1", "=1+2", "-2+3 vote"]


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "a byte order mark, so Excel reads UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_text(data: bytes) -> str:
    """Every XML part of the workbook, so a search covers all cells and shared strings."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())


async def hostile(db: Database) -> None:
    consultation = await setup(db)
    async with db.session() as session:
        for i, text in enumerate(HOSTILE):
            await record_submission(
                session,
                Submission(
                    consultation,
                    {
                        "q1": AnswerInput(choice="agree", comment=text),
                        "approach": AnswerInput(choice="middle-way"),
                        "helps": AnswerInput(choices=("data",)),
                    },
                    user_id=f"UHOST{i}",
                    display_name="=cmd|' /C calc'!A0" if i == 0 else "Ann",
                    organisation="@Org",
                    networks=["ics-network"],
                ),
                anon_secret="k",
            )


def test_neutralise_and_restore_are_inverse_and_cover_the_owasp_prefixes() -> None:
    for text in [*HOSTILE, "\tcmd", "\rx", "'=x", "''+x", "'plain", "plain", "", "=", "'"]:
        assert restore(neutralise(text)) == text
    for text in HOSTILE:
        assert neutralise(text).startswith("'")
    assert neutralise("Plain words") == "Plain words"
    assert neutralise("'quoted") == "'quoted"


async def test_csv_has_one_row_per_respondent_and_question(db: Database) -> None:
    await poll(db)
    rows = read_csv(await export_csv(db, "poll"))
    assert list(rows[0]) == columns(anonymous=False)
    assert len(rows) == 40 * 3 + 10  # three questions each, "why" answered by ten

    first = {r["question id"]: r for r in rows if r["respondent"] == user(1)}
    assert first["q1"]["answer"] == "Strongly agree"
    assert first["q1"]["answer value"] == "strongly_agree"
    assert first["approach"]["answer"] == "Voluntary partnerships"
    assert first["helps"]["answer"] == "Money; Time"
    assert first["helps"]["answer value"] == "money; time"
    assert first["q1"]["networks"] == "ICS Network; PCN Network"
    assert first["q1"]["region"] == "North West"
    assert first["q1"]["name"] == "Member Person1"
    assert first["q1"]["organisation"] == "Trust Number1"
    assert first["q1"]["quote consent"] == "anonymous"
    assert first["q1"]["source"] == "slack"
    assert first["q1"]["revisions"] == "1"
    assert first["q1"]["submitted"].endswith("+00:00")
    assert first["why"]["comment"] == "Point number 1 about workforce"


async def test_exports_follow_the_filters(db: Database) -> None:
    await poll(db)
    rows = await export_rows(db, "poll", Filters(region="north-west"))
    assert {r["respondent"] for r in rows} == {user(i) for i in range(12)}
    rows = await export_rows(db, "poll", Filters(network="mh-network"))
    assert {r["respondent"] for r in rows} == {user(i) for i in range(25, 40)}


async def test_formula_like_text_is_inert_in_csv_and_xlsx(db: Database) -> None:
    await hostile(db)
    rows = read_csv(await export_csv(db, "poll"))
    comments = [r["comment"] for r in rows if r["question id"] == "q1"]
    assert comments == ["'" + text for text in HOSTILE]
    assert rows[0]["name"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["organisation"] == "'@Org"

    workbook = load_workbook(io.BytesIO(await export_xlsx(db, "poll")))
    sheet = workbook["Responses"]
    header = [c.value for c in sheet[1]]
    comment_col = header.index("comment")
    cells = [row[comment_col] for row in sheet.iter_rows(min_row=2) if row[comment_col].value]
    q1_cells = [c for c in cells if c.value in HOSTILE]
    assert [c.value for c in q1_cells] == HOSTILE  # the member's text, unchanged
    for cell in q1_cells:
        assert cell.data_type == "s", f"{cell.value!r} must be text, not a formula"
    name_cell = sheet.cell(row=2, column=header.index("name") + 1)
    assert (name_cell.value, name_cell.data_type) == ("=cmd|' /C calc'!A0", "s")
    assert "<f>" not in xlsx_text(await export_xlsx(db, "poll"))


async def test_xlsx_has_a_frozen_bold_header_and_a_summary(db: Database) -> None:
    await poll(db)
    workbook = load_workbook(io.BytesIO(await export_xlsx(db, "poll")))
    assert workbook.sheetnames == ["Responses", "Summary"]
    sheet = workbook["Responses"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["K"].width >= 60  # the comment column is wide
    assert sheet.max_row == 1 + 130

    summary = workbook["Summary"]
    rows = [[c.value for c in row] for row in summary.iter_rows(min_row=2)]
    middle = next(r for r in rows if r[0] == "approach" and r[3] == "middle-way")
    assert middle[2:6] == ["Middle way", "middle-way", 20, 50.0]
    supportive = next(r for r in rows if r[0] == "q1" and r[3] == "supportive")
    assert supportive[4:7] == [25, 62.5, 40]


async def test_anonymous_exports_carry_no_identity(db: Database) -> None:
    await poll(db, anonymous=True)
    result = await aggregate(db, "poll")
    csv_bytes = await export_csv(db, "poll")
    xlsx_bytes = await export_xlsx(db, "poll")
    outputs = {
        "json": export_json(result).decode(),
        "csv": csv_bytes.decode("utf-8-sig"),
        "xlsx": xlsx_text(xlsx_bytes),
    }
    for name, text in outputs.items():
        for i in range(40):
            assert user(i) not in text, name
            assert f"Person{i}" not in text, name
            assert f"Trust Number{i}" not in text, name
        assert "anon-" not in text, f"{name} must not carry the pseudonyms either"

    rows = read_csv(csv_bytes)
    assert "name" not in rows[0] and "organisation" not in rows[0]
    assert sorted({r["respondent"] for r in rows})[:2] == ["R0001", "R0002"]
    assert len({r["respondent"] for r in rows}) == 40
    # The number is the same whatever the filter.
    london = await export_rows(db, "poll", Filters(region="london"))
    assert london[0]["respondent"] == "R0013"


async def test_csv_round_trips_through_the_import(db: Database) -> None:
    await hostile(db)
    await poll_extra(db)
    before = read_csv(await export_csv(db, "poll"))
    figures = (await aggregate(db, "poll")).to_export_json()

    async with db.session() as session:
        await session.exec(delete(Response))  # type: ignore[call-overload]
    text = (await export_csv(db, "poll")).decode("utf-8-sig")
    assert len(read_csv(text.encode("utf-8-sig"))) == 0

    report = await import_answers(db, "poll", _to_text(before), anon_secret="k")
    assert report.problems == []
    assert report.respondents == len({r["respondent"] for r in before})
    after = read_csv(await export_csv(db, "poll"))

    kept = [c for c in columns(False) if c not in ("source", "submitted", "last edited")]
    assert [{k: r[k] for k in kept} for r in after] == [{k: r[k] for k in kept} for r in before]
    assert {r["source"] for r in after} == {"import"}
    again = (await aggregate(db, "poll")).to_export_json()
    for q_before, q_after in zip(figures["questions"], again["questions"], strict=True):
        assert q_after["counts"] == q_before["counts"]
        assert q_after["by_network"] == q_before["by_network"]
    assert again["imported"] == again["respondents"]


async def poll_extra(db: Database) -> None:
    """A free-text answer and a multi-line comment, so the round trip covers them."""
    from bot.consultations.catalogue import get_consultation

    consultation = await get_consultation(db, "poll")
    async with db.session() as session:
        await record_submission(
            session,
            Submission(
                consultation,
                {
                    "q1": AnswerInput(choice="strongly_disagree", comment="Line one,\nline two"),
                    "approach": AnswerInput(choice="statutory-integrated-authorities"),
                    "helps": AnswerInput(choices=("time", "data")),
                    "why": AnswerInput(comment="«Café» — naïve résumé"),
                },
                user_id="UEXTRA",
                region_id="london",
                networks=["mh-network", "ics-network"],
                quote_consent="named",
                display_name="Zoë",
                organisation="Trust, Ltd",
            ),
            anon_secret="k",
        )


def _to_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# --- CLI -------------------------------------------------------------------------------------


def _cli_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    (tmp_path / "poll.yaml").write_text(CONSULTATION.format(anonymous="false"))
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


def _poll_csv() -> str:
    from tests.unit.bot.reporting.test_aggregation import APPROACH_OF, STANCE_OF

    lines = ["respondent,question id,answer value,comment,networks,region"]
    for i in range(40):
        network = "ICS Network" if i < 30 else "mh-network"
        region = "north-west" if i < 12 else "London"
        lines.append(f"P{i},q1,{STANCE_OF[i]},,{network},{region}")
        lines.append(f"P{i},approach,{APPROACH_OF[i]},,{network},{region}")
    return "\n".join(lines) + "\n"


def test_cli_export_json_csv_xlsx(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _cli_env(tmp_path)
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
    (tmp_path / "answers.csv").write_text(_poll_csv())
    result = runner.invoke(
        app, ["answers", "import", "poll", str(tmp_path / "answers.csv")], env=env
    )
    assert result.exit_code == 0, result.output

    out = tmp_path / "out" / "poll.json"
    result = runner.invoke(app, ["export", "poll", "--format", "json", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    approach = next(q for q in data["questions"] if q["id"] == "approach")
    assert list(approach["percentages"].values()) == [22.5, 50.0, 27.5]
    assert data["questions"][0]["grouped"]["percentages"]["supportive"] == 62.5
    assert data["imported"] == 40

    result = runner.invoke(
        app,
        ["export", "poll", "--format", "csv", "--out", str(tmp_path), "--region", "north-west"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    rows = read_csv((tmp_path / "poll.csv").read_bytes())
    assert {r["respondent"] for r in rows} == {f"P{i}" for i in range(12)}
    assert {r["source"] for r in rows} == {"import"}

    result = runner.invoke(
        app,
        [
            "export",
            "poll",
            "-f",
            "xlsx",
            "-o",
            str(tmp_path / "poll.xlsx"),
            "--network",
            "mh-network",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(tmp_path / "poll.xlsx")["Responses"]
    assert sheet.max_row == 1 + 10 * 2

    import importlib.util

    if importlib.util.find_spec("bot.reporting.drafting") is not None:
        drafts = tmp_path / "drafts"
        result = runner.invoke(
            app, ["export", "poll", "--format", "md", "--out", f"{drafts}/"], env=env
        )
        assert result.exit_code == 0, result.output
        draft = (drafts / "poll.md").read_text()
        assert "Integrating care: next steps" in draft
        assert "50 per cent" in draft  # the middle way, from the same figures as the JSON


def test_cli_export_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _cli_env(tmp_path)
    runner.invoke(app, ["directory", "load", str(tmp_path / "directory.yaml")], env=env)
    runner.invoke(app, ["consultation", "add", str(tmp_path / "poll.yaml")], env=env)
    out = str(tmp_path / "x")

    unknown = runner.invoke(app, ["export", "nope", "--format", "json", "--out", out], env=env)
    assert unknown.exit_code == 1
    assert "no consultation with id 'nope'" in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1

    bad_format = runner.invoke(app, ["export", "poll", "--format", "pdf", "--out", out], env=env)
    assert bad_format.exit_code == 2

    region = runner.invoke(
        app, ["export", "poll", "--format", "csv", "--out", out, "--region", "mars"], env=env
    )
    assert region.exit_code == 1 and "unknown region 'mars'" in region.output

    import importlib.util

    if importlib.util.find_spec("bot.reporting.drafting") is None:
        draft = runner.invoke(app, ["export", "poll", "--format", "docx", "--out", out], env=env)
        assert draft.exit_code == 1
        assert "not available in this build" in draft.output
    assert not Path(out).exists()
