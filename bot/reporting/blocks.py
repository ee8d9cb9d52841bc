"""A summary of a consultation's answers so far, for a regional lead or staff, in Block Kit."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock

from bot.core.vocabulary import GROUP_KEYS, GROUP_LABELS
from bot.reporting.aggregation import Aggregate, QuestionAggregate
from bot.reporting.phrasing import choice_headline, format_pct, no_answers_sentence, stance_headline
from bot.slack.blocks import as_dicts, context, header, section
from bot.slack.text import escape, truncate

SHARE_ACTION = "share_summary"
BAR_WIDTH = 20


def bar(pct: float) -> str:
    filled = round(pct / 100 * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def headline(question: QuestionAggregate) -> str:
    """The house-style sentence for one question (figures computed from the counts)."""
    if question.answered == 0:
        return no_answers_sentence()
    if question.kind == "stance" and question.grouped is not None:
        shares = question.grouped.percentages
        return stance_headline(
            shares.get("supportive", 0.0), shares.get("disagree", 0.0), shares.get("undecided", 0.0)
        )
    if question.kind == "single_choice":
        return choice_headline(
            subject="respondents",
            verb="favoured",
            options=[(o.label, question.percentages.get(o.value, 0.0)) for o in question.options],
        )
    if question.kind == "matrix" and question.rows is not None:
        rows = len(question.rows)
        return (
            f"{question.answered} respondent{'s' if question.answered != 1 else ''} chose an "
            f"option for each of {rows} row{'s' if rows != 1 else ''}; the most chosen for each:"
        )
    if question.kind == "multi_choice":
        ranked = sorted(question.options, key=lambda o: -question.counts.get(o.value, 0))
        top = ranked[0]
        return (
            f"The most commonly chosen option was “{top.label}” "
            f"({format_pct(question.percentages.get(top.value, 0.0))} of respondents)."
        )
    return f"{question.comments} respondents answered in their own words."


def _bars(question: QuestionAggregate) -> list[str]:
    if question.kind == "stance" and question.grouped is not None:
        rows = [(GROUP_LABELS[g], question.grouped.percentages.get(g, 0.0)) for g in GROUP_KEYS]
    elif question.kind in ("single_choice", "multi_choice"):
        rows = [(o.label, question.percentages.get(o.value, 0.0)) for o in question.options]
    elif question.kind == "matrix" and question.rows is not None:
        rows = []
        for row in list(question.rows.values())[:10]:
            top = max(question.options, key=lambda o: row.counts.get(o.value, 0), default=None)
            if top is not None and row.answered:
                label = f"{truncate(row.text, 40)}: {top.label}"
                rows.append((label, row.percentages.get(top.value, 0.0)))
    else:
        return []
    return [f"`{bar(pct)}` {format_pct(pct)} {escape(truncate(label, 60))}" for label, pct in rows]


def summary_blocks(
    result: Aggregate,
    *,
    scope_label: str,
    network_names: dict[str, str],
    share_value: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    c = result.consultation
    blocks: list[Block] = [
        header(f"Summary: {c.title}"),
        context(
            f"{escape(scope_label)} · {result.respondents} respondent"
            f"{'s' if result.respondents != 1 else ''} so far · "
            + ("closed" if c.status == "closed" else "open")
        ),
    ]
    if result.withheld:
        # An anonymous consultation with fewer answers in scope than the minimum group size:
        # the count only, since the answers of so few could be told apart.
        blocks.append(
            section(
                f":lock: Fewer than {result.min_group} responses so far"
                + (f" from {escape(scope_label)}" if scope_label else "")
                + ". This consultation is anonymous: the answers are summarised once there are "
                "enough that no one's can be told apart."
            )
        )
        return as_dicts(blocks)
    rates = []
    scoped = result.filters.by_region
    for network_id, network in result.networks.items():
        name = escape(network_names.get(network_id, network.name))
        if scoped:
            # Channel membership is not split by region, so a rate would mislead here.
            rates.append(f"• {name}: {network.respondents} from {escape(scope_label)}")
            continue
        rate = f"{network.respondents}"
        if network.members:
            rate += f" of {network.members}"
            if network.response_rate is not None:
                rate += f" ({format_pct(network.response_rate)})"
        rates.append(f"• {name}: {rate}")
    if rates:
        blocks.append(section("*Response rates*\n" + "\n".join(rates[:20])))
    for number, question in enumerate(result.questions[:20], start=1):
        blocks.append(DividerBlock())
        lines = [
            f"*{number}. {escape(truncate(question.text, 400))}*",
            escape(headline(question)),
            *_bars(question),
        ]
        if question.themes:
            theme = question.themes[0]
            lines.append(
                f"_Top theme:_ {escape(theme.label)} — raised by {theme.count} "
                f"respondent{'s' if theme.count != 1 else ''}"
            )
            if theme.quotes:
                lines.append("> " + escape(truncate(theme.quotes[0], 280)).replace("\n", " "))
        blocks.append(section("\n".join(lines)))
    if share_value is not None:
        blocks.append(
            ActionsBlock(
                block_id="summary_actions",
                elements=[
                    ButtonElement(
                        text="Share in channel",
                        action_id=SHARE_ACTION,
                        value=json.dumps(share_value)[:2000],
                    )
                ],
            )
        )
    return as_dicts(blocks[:50])
