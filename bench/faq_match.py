"""How well members' questions are matched to the FAQ: precision and recall per threshold.

    python bench/faq_match.py [--fixture PATH] [--consultation examples/integrating-care.yaml]

The fixture holds the example FAQ's questions reworded by hand (each with the entry that
answers it) and questions the FAQ does not answer. At each threshold:
- answered: questions the bot would answer from the FAQ (best score >= threshold);
- precision: of those answered, the share answered with the right entry (an unanswerable
  question answered, or a reworded one answered with the wrong entry, counts against it);
- recall: of the reworded questions, the share answered with the right entry.
A wrong answer misleads a member while a question passed to staff only costs a short wait, so
the threshold is chosen for precision 1.0 first, then for the best recall.

Measured (10 entries, 31 rewordings, 20 unrelated questions; word 1-2-grams + char 3-5-grams
over content words, answers at half weight):
    0.300 -> precision 0.88, recall 0.71 (two unrelated questions answered)
    0.350 -> precision 0.96, recall 0.71 (one question answered with the wrong entry)
    0.375 -> precision 1.00, recall 0.65 (the value in bot/engagement/faq_match.py)
    0.450 -> precision 1.00, recall 0.45
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/faq_match.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bot.consultations.files import load_consultation_file  # noqa: E402
from bot.engagement.faq_match import MATCH_THRESHOLD, FaqItem, score_all  # noqa: E402

FIXTURE = ROOT / "tests" / "unit" / "bot" / "engagement" / "faq_rewordings.yaml"
CONSULTATION = ROOT / "examples" / "integrating-care.yaml"
THRESHOLDS = [round(0.025 * i, 3) for i in range(4, 21)]


def measure(
    items: list[FaqItem], reworded: list[tuple[int, str]], unanswered: list[str], threshold: float
) -> tuple[float, float, int]:
    """(precision, recall, answered) at `threshold`."""
    right = wrong = 0
    for expected, text in reworded:
        scores = score_all(text, items)
        best = max(range(len(items)), key=scores.__getitem__)
        if scores[best] >= threshold:
            if best == expected:
                right += 1
            else:
                wrong += 1
    for text in unanswered:
        if max(score_all(text, items)) >= threshold:
            wrong += 1
    answered = right + wrong
    precision = right / answered if answered else 1.0
    return precision, right / len(reworded), answered


def load(
    fixture: Path, consultation: Path
) -> tuple[list[FaqItem], list[tuple[int, str]], list[str]]:
    spec = load_consultation_file(consultation)
    items = [FaqItem(i, entry.q, entry.a) for i, entry in enumerate(spec.faq)]
    data = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    reworded = [(int(r["entry"]), str(r["text"])) for r in data["reworded"]]
    return items, reworded, [str(q) for q in data["unanswered"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--consultation", type=Path, default=CONSULTATION)
    args = parser.parse_args()
    items, reworded, unanswered = load(args.fixture, args.consultation)
    print(
        f"{len(items)} FAQ entries, {len(reworded)} reworded questions, "
        f"{len(unanswered)} questions the FAQ does not answer"
    )
    print("threshold  precision  recall  answered")
    for threshold in sorted({*THRESHOLDS, MATCH_THRESHOLD}):
        precision, recall, answered = measure(items, reworded, unanswered, threshold)
        mark = "  <- used" if threshold == MATCH_THRESHOLD else ""
        print(f"{threshold:9.3f}  {precision:9.2f}  {recall:6.2f}  {answered:8d}{mark}")


if __name__ == "__main__":
    main()
