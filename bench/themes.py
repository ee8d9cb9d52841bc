"""Benchmark of theme coding: quality on hand-labelled responses, then speed and memory.

    python bench/themes.py                 # main labelled set and holdout, both engines, timings
    python bench/themes.py --no-timing     # quality only

Quality, per question and overall, for the new engine (`bot.reporting.theme_engine`) and the old
one (`bot.themes.extract_themes`, one theme per comment) as the "before" baseline:

* each found theme is mapped to the true theme most of its respondents were hand-coded to;
* purity: share of (response, found theme) codings whose mapped theme is one of the response's
  true themes;
* F1: per response, between its true themes and the mapped themes of what it was coded to (0 for
  a response coded to nothing), averaged over responses;
* theme recall: share of a question's true themes that some found theme maps to.

Speed and memory: 2,500 and 25,000 comments made by joining one to three sentences drawn from the
labelled responses of one question, each size coded in a fresh process so "peak RSS" is that
process's resource.getrusage maximum and "delta" is the peak minus the RSS after imports.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/themes.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench import baseline_theme_engine as old_engine  # noqa: E402
from bot.reporting import theme_engine  # noqa: E402

DATA = ROOT / "bench" / "data"
SETS = {"main": DATA / "themes_labelled.jsonl", "holdout": DATA / "themes_holdout.jsonl"}
SIZES = (2_500, 25_000)


@dataclass(frozen=True, slots=True)
class Response:
    question: str
    id: str
    text: str
    stance: str | None
    themes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Found:
    """What an engine produced for one question: labels and respondent sets per found theme."""

    labels: list[str]
    members: list[list[str]]


@dataclass(frozen=True, slots=True)
class Scores:
    purity_hits: int
    purity_total: int
    f1_values: list[float]
    recall: float
    n_themes: int


def load(path: Path) -> dict[str, list[Response]]:
    by_question: dict[str, list[Response]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            by_question[raw["question"]].append(
                Response(
                    raw["question"], raw["id"], raw["text"], raw["stance"], frozenset(raw["themes"])
                )
            )
    return dict(by_question)


def run_new(responses: Sequence[Response]) -> Found:
    coding = theme_engine.code_comments(
        [theme_engine.CommentInput(r.id, r.text, r.stance) for r in responses]
    )
    return Found([t.label for t in coding.themes], [list(t.respondent_keys) for t in coding.themes])


def run_old(responses: Sequence[Response]) -> Found:
    themes = old_engine.extract_themes([old_engine.CommentInput(r.id, r.text) for r in responses])
    return Found([t.label for t in themes], [list(t.respondent_keys) for t in themes])


def score(responses: Sequence[Response], found: Found) -> Scores:
    truth = {r.id: r.themes for r in responses}
    mapped: list[str] = []
    for members in found.members:
        votes = Counter(t for key in members for t in truth[key])
        mapped.append(min(votes, key=lambda t: (-votes[t], t)) if votes else "")
    coded_to: dict[str, set[str]] = defaultdict(set)
    hits = total = 0
    for theme, members in zip(mapped, found.members, strict=True):
        for key in members:
            coded_to[key].add(theme)
            total += 1
            hits += theme in truth[key]
    f1_values = []
    for r in responses:
        predicted = coded_to.get(r.id, set())
        overlap = len(predicted & r.themes)
        f1_values.append(2 * overlap / (len(predicted) + len(r.themes)) if predicted else 0.0)
    all_true = set().union(*truth.values())
    recall = len(set(mapped) & all_true) / len(all_true)
    return Scores(hits, total, f1_values, recall, len(found.members))


def report_quality(name: str, path: Path) -> None:
    print(f"\n=== {name} set: {path.relative_to(ROOT)} ===")
    by_question = load(path)
    engines: dict[str, Callable[[Sequence[Response]], Found]] = {
        "before (bot.themes)": run_old,
        "after (theme_engine)": run_new,
    }
    for engine_name, engine in engines.items():
        print(f"\n-- {engine_name}")
        hits = total = 0
        f1_all: list[float] = []
        recalls: list[float] = []
        for question, responses in by_question.items():
            found = engine(responses)
            s = score(responses, found)
            hits, total = hits + s.purity_hits, total + s.purity_total
            f1_all += s.f1_values
            recalls.append(s.recall)
            purity = s.purity_hits / s.purity_total if s.purity_total else 0.0
            n_true = len(set().union(*(r.themes for r in responses)))
            print(
                f"{question}: {len(responses)} responses, {s.n_themes} themes (true {n_true}); "
                f"purity {purity:.2f}  F1 {sum(s.f1_values) / len(s.f1_values):.2f}  "
                f"recall {s.recall:.2f}"
            )
            for label, members in zip(found.labels, found.members, strict=True):
                print(f"    {len(members):4d}  {label}")
        purity = hits / total if total else 0.0
        print(
            f"OVERALL {engine_name}: purity {purity:.2f}  "
            f"F1 {sum(f1_all) / len(f1_all):.2f}  recall {sum(recalls) / len(recalls):.2f}"
        )


# --- speed and memory -----------------------------------------------------------------------


def synthetic_comments(n: int, seed: int = 0) -> list[tuple[str, str, str | None]]:
    """n comments of one to three sentences drawn from one question's labelled responses."""
    responses = next(iter(load(SETS["main"]).values()))
    sentences = [s for r in responses for s in re.split(r"(?<=[.!?])\s+", r.text) if s]
    stances = [r.stance for r in responses]
    rng = random.Random(seed)
    return [
        (f"R{i:06d}", " ".join(rng.sample(sentences, rng.randint(1, 3))), rng.choice(stances))
        for i in range(n)
    ]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_this_process(engine: str, n: int) -> dict[str, float]:
    rows = synthetic_comments(n)
    before = _rss_mb()
    started = time.perf_counter()
    if engine == "new":
        coding = theme_engine.code_comments(
            [theme_engine.CommentInput(k, t, s) for k, t, s in rows]
        )
        n_themes = len(coding.themes)
    else:
        n_themes = len(
            old_engine.extract_themes([old_engine.CommentInput(k, t) for k, t, _ in rows])
        )
    seconds = time.perf_counter() - started
    peak = _rss_mb()
    return {"seconds": seconds, "peak_mb": peak, "delta_mb": peak - before, "themes": n_themes}


def report_timing() -> None:
    print("\n=== speed and memory (fresh process per run) ===")
    for engine in ("old", "new"):
        for n in SIZES:
            out = subprocess.run(
                [sys.executable, __file__, "--measure", engine, str(n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            m = json.loads(out.strip().splitlines()[-1])
            name = "before (bot.themes)" if engine == "old" else "after (theme_engine)"
            print(
                f"{name:22s} {n:6d} comments: {m['seconds']:.2f} s, peak RSS {m['peak_mb']:.0f} MB "
                f"(delta {m['delta_mb']:.0f} MB), {m['themes']} themes"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-timing", action="store_true", help="quality figures only")
    parser.add_argument("--measure", nargs=2, metavar=("ENGINE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_in_this_process(args.measure[0], int(args.measure[1]))))
        return
    for name, path in SETS.items():
        report_quality(name, path)
    if not args.no_timing:
        report_timing()


if __name__ == "__main__":
    main()
