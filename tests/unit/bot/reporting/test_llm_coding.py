"""LLM theme coding end to end against the sandbox's fake OpenAI-compatible server: a good reply
is used with every count computed by consultbot; invented quotes, wrong counts, timeouts, HTTP
errors and junk are each rejected and the offline coding used instead, with the reason logged."""

from __future__ import annotations

import logging

import pytest

from bot.demo.sandbox.fake_llm import Behaviour, FakeLLM
from bot.reporting.codebook import ensure_codebook
from bot.reporting.llm_coding import LlmEndpoint
from storage.db import Database
from tests.unit.bot.reporting.test_codebook import comment_of, consultation

RULES = {
    "Pooled budgets for health and social care": ("pooled budget",),
    "Workforce shortages and planning": ("workforce",),
    "Data sharing between partners": ("data sharing",),
}


async def test_a_good_reply_is_used_and_counted_by_consultbot(db: Database) -> None:
    view = await consultation(db)
    async with FakeLLM(RULES) as fake:
        codebook = await ensure_codebook(
            db, view, "q1", llm=LlmEndpoint(fake.base_url, "sandbox", "sk-test", timeout=10)
        )
        sent = fake.sent_text()
    assert codebook.engine == "llm"
    by_label = {t.label: t for t in codebook.themes}
    assert set(by_label) == set(RULES)
    for label, words in RULES.items():
        expected = {
            f"UBOOK{i:03d}" for i in range(46) if any(w in comment_of(i).lower() for w in words)
        }
        assert by_label[label].respondent_keys == expected  # counted from the coding itself
        for quote in by_label[label].quotes:
            assert quote.text in comment_of(int(quote.respondent_key[-3:]))
            assert int(quote.respondent_key[-3:]) % 5 != 0  # never someone who said "don't quote"
    two_points = {f"UBOOK{i:03d}" for i in range(40, 46)}
    pooled = by_label["Pooled budgets for health and social care"]
    workforce = by_label["Workforce shortages and planning"]
    assert two_points <= pooled.respondent_keys & workforce.respondent_keys
    # Comment text only: no names, organisations or Slack ids reached the model.
    assert "Person 1" not in sent and "Trust 1" not in sent and "UBOOK" not in sent


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("invented_quote", "not the member's own words"),
        ("wrong_counts", "counts stated do not match"),
        ("slow", "no reply within"),
        ("junk", "not the JSON asked for"),
        ("error", "HTTP 503"),
    ],
)
async def test_a_bad_reply_falls_back_to_the_offline_engine(
    db: Database, behaviour: Behaviour, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    view = await consultation(db)
    caplog.set_level(logging.WARNING, logger="bot.reporting.codebook")
    async with FakeLLM(RULES, behaviour=behaviour, slow_seconds=3) as fake:
        codebook = await ensure_codebook(
            db, view, "q1", llm=LlmEndpoint(fake.base_url, "sandbox", timeout=0.5)
        )
    assert codebook.engine == "offline"
    # The offline engine's themes, not the model's (it may word one heading the same way).
    assert codebook.themes and {t.label for t in codebook.themes} != set(RULES)
    assert any(reason in record.getMessage() for record in caplog.records), caplog.text
