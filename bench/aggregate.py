"""Benchmark of `bot.reporting.aggregation.aggregate` at 2,500 / 25,000 / 100,000 respondents.

    python bench/aggregate.py --sizes 2500,25000,100000
    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test python bench/aggregate.py

Each size gets a database of N respondents x 4 questions (3 stance + 1 single choice) with
comments, built once with bulk core INSERTs (executemany) and reused from `bench/out/` (SQLite
files; PostgreSQL databases named consultbot_bench_<N>). Comments come from
`bot.demo.simulation.generate_bulk` when it exists, otherwise from a small phrase generator.

Every measurement runs in a fresh Python process, so "peak RSS" is that process's
resource.getrusage(RUSAGE_SELF).ru_maxrss (the whole process: interpreter, SQLAlchemy,
scikit-learn and the aggregate), and "delta" is that peak minus the RSS after the imports.
The growth ratio is time(N) / time(N / 10), interpolated between the sizes measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.admin import ensure_database  # noqa: E402

OUT = ROOT / "bench" / "out"
CONSULTATION = """
id: bench
title: "Integrating care: next steps for ICSs"
deadline: 2030-01-08T17:00
networks: [ics-network, mental-health-network, community-network, pcn-network]
questions:
  - {id: q1, text: "Do you agree with a statutory footing from 2022?", kind: stance}
  - {id: q2, text: "Do you agree with the proposed duties?", kind: stance}
  - {id: q3, text: "Do you agree with the financial framework?", kind: stance}
  - id: approach
    text: "Which approach do you favour now?"
    kind: single_choice
    options: [Voluntary partnerships, Middle way, Statutory integrated authorities]
"""
DIRECTORY = """
regions:
  - {id: london, name: London}
  - {id: north-west, name: North West}
  - {id: south-west, name: South West}
  - {id: midlands, name: Midlands}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICS}
  - {id: mental-health-network, name: Mental Health Network, channel: C01MHN}
  - {id: community-network, name: Community Network, channel: C01COM}
  - {id: pcn-network, name: PCN Network, channel: C01PCN}
"""
REGIONS = ["london", "north-west", "south-west", "midlands", None]
NETWORKS = ["ics-network", "mental-health-network", "community-network", "pcn-network"]
STANCES = ["strongly_agree", "agree", "undecided", "disagree", "strongly_disagree"]
APPROACHES = ["voluntary-partnerships", "middle-way", "statutory-integrated-authorities"]
BATCH = 5000


def _fallback_answers(n: int, seed: int):  # type: ignore[no-untyped-def]
    """Varied answers and comments when bot.demo.simulation is not available."""
    rng = random.Random(seed)
    topics = [
        "workforce shortages in primary care",
        "pooled budgets and financial accountability",
        "data sharing between providers",
        "the role of local authorities",
        "clinical leadership on the board",
        "mental health parity of esteem",
    ]
    verbs = ["worries about", "welcomes progress on", "asks for clarity on", "stresses"]
    for _ in range(n):
        answers = {}
        for key in ("q1", "q2", "q3"):
            comment = None
            if rng.random() < 0.7:
                comment = f"Our organisation {rng.choice(verbs)} {rng.choice(topics)}."
            answers[key] = (rng.choice(STANCES), comment)
        answers["approach"] = (rng.choice(APPROACHES), None)
        yield answers, rng.choice(["named", "anonymous", "no"])


def _answers(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    try:
        from bot.demo.simulation import QuestionSpec, generate_bulk
    except ImportError:
        yield from _fallback_answers(n, seed)
        return
    questions = [
        QuestionSpec("q1", "Statutory footing?", "stance"),
        QuestionSpec("q2", "Duties?", "stance"),
        QuestionSpec("q3", "Finance?", "stance"),
        QuestionSpec("approach", "Approach?", "single_choice", APPROACHES),
    ]
    for response in generate_bulk(questions, n, seed=seed):
        yield (
            {k: (a.choice, a.comment) for k, a in response.answers.items()},
            response.quote_consent,
        )


# --- building --------------------------------------------------------------------------------


async def _respondents(db) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from storage.models import Response

    try:
        async with db.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count()).where(Response.consultation_id == "bench")
                    )
                ).scalar_one()
            )
    except Exception:
        return -1


async def build(url: str, n: int) -> str:
    """The database at `url` holding N respondents (built unless it already does)."""
    from sqlalchemy import insert, select

    from bot.app.runtime import prepare_database
    from bot.consultations.catalogue import add_consultation
    from bot.consultations.directory import load_directory
    from bot.consultations.files import parse_consultation, parse_directory
    from storage.db import Database
    from storage.models import Answer, Question, Response, ResponseNetwork, ResponseRevision

    db = Database(url)
    try:
        if await _respondents(db) == n:
            return "reused"
        await prepare_database(db)
        async with db.engine.begin() as conn:
            for table in ("answers", "response_revisions", "response_networks", "responses"):
                await conn.exec_driver_sql(f"DELETE FROM {table}")
            await conn.exec_driver_sql("DELETE FROM question_options")
            await conn.exec_driver_sql("DELETE FROM questions")
            await conn.exec_driver_sql("DELETE FROM consultations")
        await load_directory(db, parse_directory(DIRECTORY))
        await add_consultation(db, parse_consultation(CONSULTATION), default_timezone="UTC")
        async with db.engine.connect() as conn:
            question_ids = dict(
                (await conn.execute(select(Question.key, Question.id))).all()  # type: ignore[call-overload]
            )
        now = datetime.now(UTC)
        rng = random.Random(n)
        responses, revisions, answers, networks = [], [], [], []
        answer_id = 0

        async def flush(conn) -> None:  # type: ignore[no-untyped-def]
            for table, rows in (
                (Response, responses),
                (ResponseRevision, revisions),
                (ResponseNetwork, networks),
                (Answer, answers),
            ):
                if rows:
                    await conn.execute(insert(table.__table__), rows)  # type: ignore[attr-defined]
                    rows.clear()

        async with db.engine.begin() as conn:
            for i, (given, consent) in enumerate(_answers(n), start=1):
                responses.append(
                    {
                        "id": i,
                        "consultation_id": "bench",
                        "respondent_key": f"USIM{i:07d}",
                        "user_id": f"USIM{i:07d}",
                        "region_id": REGIONS[rng.randrange(len(REGIONS))],
                        "organisation": f"Organisation {i % 700}",
                        "display_name": f"Member {i}",
                        "quote_consent": consent,
                        "source": "slack",
                        "current_revision_id": i,
                        "revision_count": 1,
                        "submitted_at": now,
                        "updated_at": now,
                    }
                )
                revisions.append(
                    {"id": i, "response_id": i, "number": 1, "created_at": now, "source": "slack"}
                )
                for network in rng.sample(NETWORKS, rng.choice((1, 1, 1, 2))):
                    networks.append({"response_id": i, "network_id": network})
                for key, (choice, comment) in given.items():
                    answer_id += 1
                    answers.append(
                        {
                            "id": answer_id,
                            "revision_id": i,
                            "question_id": question_ids[key],
                            "choice": choice,
                            "comment": comment,
                        }
                    )
                if len(answers) >= BATCH:
                    await flush(conn)
            await flush(conn)
            if not db.is_sqlite:
                for table in ("responses", "response_revisions", "answers"):
                    await conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                await conn.exec_driver_sql("ANALYZE")
        return "built"
    finally:
        await db.dispose()


# --- measuring (in a fresh process) ----------------------------------------------------------


def _rss_mib() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform != "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024


async def _measure(url: str, mode: str) -> dict[str, float]:
    import tempfile

    from bot.reporting.aggregation import aggregate
    from bot.reporting.exports.data import export_json
    from bot.reporting.exports.draft import write_draft
    from storage.db import Database

    if mode != "plain":
        import bot.reporting.themes  # noqa: F401  (imports counted in the baseline, not the delta)
    baseline = _rss_mib()
    db = Database(url)
    try:
        start = time.perf_counter()
        if mode == "docx":
            with tempfile.TemporaryDirectory() as folder:
                await write_draft(db, "bench", "docx", Path(folder) / "draft.docx")
        else:
            result = await aggregate(db, "bench", with_themes=mode == "themes")
            export_json(result)
        seconds = time.perf_counter() - start
    finally:
        await db.dispose()
    peak = _rss_mib()
    return {"seconds": seconds, "peak_mib": peak, "delta_mib": peak - baseline}


def measure(url: str, mode: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", url, "--mode", mode]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2500,25000,100000", help="respondent counts")
    parser.add_argument("--no-themes", action="store_true", help="skip the JSON runs with themes")
    parser.add_argument("--no-docx", action="store_true", help="skip the DOCX draft runs")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="plain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(_measure(args.measure, args.mode))))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    OUT.mkdir(parents=True, exist_ok=True)
    targets = [("sqlite", lambda n: f"sqlite+aiosqlite:///{OUT / f'aggregate-{n}.db'}")]
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg and pg.startswith("postgresql"):
        targets.append(
            ("postgresql", lambda n: asyncio.run(ensure_database(pg, f"consultbot_bench_{n}")))
        )
    print(f"cpus: {os.cpu_count()}; memory: peak RSS of a fresh process (ru_maxrss), MiB")
    header = (
        f"{'db':<11}{'N':>8}{'build':>8}{'json s':>8}{'peak':>7}{'x/10x':>7}"
        f"{'+themes s':>10}{'peak':>7}{'docx s':>8}{'peak':>7}{'x/10x':>7}"
    )
    print(header)
    for name, url_for in targets:
        previous: dict[str, tuple[int, float]] = {}
        for n in sizes:
            url = url_for(n)
            started = time.perf_counter()
            how = asyncio.run(build(url, n))
            built = "reused" if how == "reused" else f"{time.perf_counter() - started:.0f}s"
            results = {"plain": measure(url, "plain")}
            if not args.no_themes:
                results["themes"] = measure(url, "themes")
            if not args.no_docx:
                results["docx"] = measure(url, "docx")

            def growth(
                mode: str, n: int = n, results: dict = results, previous: dict = previous
            ) -> str:
                # time(N) / time(N/10), from the power law through the previous size.
                if mode not in results or mode not in previous:
                    return ""
                n0, t0 = previous[mode]
                exponent = math.log(results[mode]["seconds"] / t0) / math.log(n / n0)
                return f"{10**exponent:.1f}"

            def cell(mode: str, results: dict = results) -> str:
                if mode not in results:
                    return f"{'-':>8}{'-':>7}"
                return f"{results[mode]['seconds']:>8.2f}{results[mode]['peak_mib']:>7.0f}"

            row = (
                f"{name:<11}{n:>8}{built:>8}{cell('plain')}{growth('plain'):>7}"
                f"{cell('themes'):>17}{cell('docx')}{growth('docx'):>7}"
            )
            for mode, measured in results.items():
                previous[mode] = (n, measured["seconds"])
            print(row, flush=True)
    print(
        "json s: the DESIGN §9 aggregate without themes; +themes: with themes; docx s: the whole "
        "Word draft (aggregate, comments, themes, charts, tables, checks, file). Targets at "
        "25,000: json < 2 s, docx < 20 s; peak < 1 GB at 100,000."
    )


if __name__ == "__main__":
    main()
