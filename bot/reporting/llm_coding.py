"""Optional theme coding by a language model behind any OpenAI-compatible endpoint (`LLM_BASE_URL`).

The model only proposes: it suggests themes for batches of comments, condenses the suggestions
into one list, and codes each comment to the themes it raises. consultbot then checks everything
before using any of it:

* only comment text is sent, numbered within its batch: never a name, organisation or user id;
* every count is computed from the coding itself; a reply that states counts the coding does not
  bear out is rejected;
* a quote is accepted only as a verbatim part of the comment it is given for; an invented or
  altered quote rejects the reply;
* a timeout, an HTTP error or a reply that is not the JSON asked for rejects the whole coding.

Any rejection raises `LlmCodingError`, and the caller codes offline instead (logging the reason).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.core.settings import Settings
from bot.reporting.theme_engine import STANCE_GROUPS, CodedTheme, Coding, CommentInput

BATCH = 80  # comments per request: short enough for small models' context windows
MAX_QUOTES = 5
_SYSTEM = (
    "You analyse free-text answers to a public policy consultation. Reply with JSON only, "
    "exactly in the shape the task asks for. Quotes must be copied word for word from the "
    "comment they illustrate."
)


class LlmCodingError(Exception):
    """Why the model's coding was not used (the caller falls back to the offline engine)."""


@dataclass(frozen=True)
class LlmEndpoint:
    base_url: str
    model: str = "default"
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmEndpoint | None:
        if not settings.llm_base_url:
            return None
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(settings.llm_base_url, settings.llm_model or "default", key)


async def _ask(
    session: aiohttp.ClientSession, endpoint: LlmEndpoint, task: Mapping[str, Any]
) -> dict[str, Any]:
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    body = {
        "model": endpoint.model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": json.dumps(task, ensure_ascii=False)},
        ],
    }
    try:
        async with session.post(url, json=body, headers=headers) as response:
            if response.status != 200:
                raise LlmCodingError(f"the endpoint answered HTTP {response.status}")
            reply = await response.json(content_type=None)
    except TimeoutError:
        raise LlmCodingError(f"no reply within {endpoint.timeout:g} s") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise LlmCodingError(f"the request failed ({type(exc).__name__})") from None
    try:
        content = reply["choices"][0]["message"]["content"]
        parsed = json.loads(content)
    except (KeyError, IndexError, TypeError, ValueError):
        raise LlmCodingError("the reply was not the JSON asked for") from None
    if not isinstance(parsed, dict):
        raise LlmCodingError("the reply was not a JSON object")
    return parsed


def _themes_of(reply: Mapping[str, Any], max_themes: int) -> list[tuple[str, str]]:
    themes = reply.get("themes")
    if not isinstance(themes, list):
        raise LlmCodingError("the reply has no list of themes")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in themes:
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            raise LlmCodingError("a theme in the reply has no label")
        label = _heading(item["label"])
        description = item.get("description")
        description = " ".join(description.split())[:300] if isinstance(description, str) else ""
        if label and label.lower() not in seen:
            seen.add(label.lower())
            out.append((label, description))
    if not out:
        raise LlmCodingError("the reply proposed no themes")
    return out[:max_themes]


def _heading(label: str) -> str:
    """Sentence case, one line, at most 120 characters."""
    text = " ".join(label.split()).strip(" .")[:120]
    return text[:1].upper() + text[1:]


def _key(label: str) -> str:
    """A theme's key from its label, so a rebuild that finds the same label keeps the theme."""
    return "l" + hashlib.sha1(label.lower().encode()).hexdigest()[:8]


async def code_with_llm(
    endpoint: LlmEndpoint, comments: Sequence[CommentInput], *, max_themes: int = 12
) -> Coding:
    """Themes and coding from the model, every figure and quote checked (see the module doc)."""
    texts = [c.text for c in comments]
    batches = [list(range(i, min(i + BATCH, len(texts)))) for i in range(0, len(texts), BATCH)]
    timeout = aiohttp.ClientTimeout(total=endpoint.timeout)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            proposed: list[tuple[str, str]] = []
            for batch in batches:
                reply = await _ask(
                    session,
                    endpoint,
                    {
                        "task": "propose_themes",
                        "max_themes": max_themes,
                        "answer_with": {"themes": [{"label": "...", "description": "..."}]},
                        "comments": [{"id": n, "text": texts[i]} for n, i in enumerate(batch)],
                    },
                )
                proposed += _themes_of(reply, max_themes)
            if len(batches) > 1:
                reply = await _ask(
                    session,
                    endpoint,
                    {
                        "task": "condense_themes",
                        "max_themes": max_themes,
                        "answer_with": {"themes": [{"label": "...", "description": "..."}]},
                        "themes": [{"label": lab, "description": d} for lab, d in proposed],
                    },
                )
                proposed = _themes_of(reply, max_themes)
            themes = proposed[:max_themes]
            ids = {f"T{n + 1}": n for n in range(len(themes))}
            coded: dict[int, set[int]] = {}
            quotes: dict[int, list[int | str]] = {}
            for batch in batches:
                reply = await _ask(
                    session,
                    endpoint,
                    {
                        "task": "code_comments",
                        "answer_with": {
                            "codings": [{"comment": 0, "themes": ["T1"], "quote": "..."}]
                        },
                        "themes": [
                            {"id": tid, "label": themes[n][0], "description": themes[n][1]}
                            for tid, n in ids.items()
                        ],
                        "comments": [{"id": n, "text": texts[i]} for n, i in enumerate(batch)],
                    },
                )
                _check_coding(reply, batch, texts, ids, coded, quotes)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        raise LlmCodingError(f"no reply within {endpoint.timeout:g} s") from None
    return _coding(comments, themes, coded, quotes)


def _check_coding(
    reply: Mapping[str, Any],
    batch: Sequence[int],
    texts: Sequence[str],
    ids: Mapping[str, int],
    coded: dict[int, set[int]],
    quotes: dict[int, list[int | str]],
) -> None:
    """Fold one batch's coding into `coded` (comment -> themes) and `quotes` (theme ->
    [comment, quote, ...]) after checking it; raise LlmCodingError on anything made up."""
    codings = reply.get("codings")
    if not isinstance(codings, list):
        raise LlmCodingError("the reply has no list of codings")
    counted: dict[str, int] = dict.fromkeys(ids, 0)
    for item in codings:
        if not isinstance(item, dict):
            raise LlmCodingError("a coding in the reply is not an object")
        number, themes = item.get("comment"), item.get("themes")
        if not isinstance(number, int) or not 0 <= number < len(batch):
            raise LlmCodingError("a coding names a comment that was not sent")
        if not isinstance(themes, list) or not all(t in ids for t in themes):
            raise LlmCodingError("a coding names a theme that does not exist")
        index = batch[number]
        for tid in dict.fromkeys(themes):
            counted[tid] += 1
            coded.setdefault(index, set()).add(ids[tid])
        quote = item.get("quote")
        if quote is None or quote == "":
            continue
        if not isinstance(quote, str) or " ".join(quote.split()) not in " ".join(
            texts[index].split()
        ):
            raise LlmCodingError("a quote is not the member's own words")
        for tid in themes:
            quotes.setdefault(ids[tid], []).extend([index, quote.strip()])
    stated = reply.get("counts")
    if stated is not None:
        if not isinstance(stated, dict) or any(
            stated.get(tid, 0) != n for tid, n in counted.items()
        ):
            raise LlmCodingError("the counts stated do not match the coding")


def _verbatim(text: str, quote: str) -> str:
    """The quote as it stands in the comment (the model may have collapsed line breaks)."""
    found = re.search(r"\s+".join(re.escape(word) for word in quote.split()), text)
    return found.group() if found else quote


def _coding(
    comments: Sequence[CommentInput],
    themes: Sequence[tuple[str, str]],
    coded: Mapping[int, set[int]],
    quotes: Mapping[int, list[int | str]],
) -> Coding:
    raised: list[set[str]] = [set() for _ in themes]
    for index, found in coded.items():
        for theme in found:
            raised[theme].add(comments[index].respondent_key)
    stance_of = {c.respondent_key: c.stance for c in comments if c.stance is not None}
    coded_themes = []
    for n, (label, description) in enumerate(themes):
        if not raised[n]:
            continue  # a theme no comment was coded to is not reported
        mix = {"supportive": 0, "undecided": 0, "opposed": 0}
        for key in raised[n]:
            if stance_of.get(key) is not None:
                mix[STANCE_GROUPS[str(stance_of[key])]] += 1
        picked: list[tuple[str, str]] = []
        pairs = quotes.get(n, [])
        for index, quote in zip(pairs[::2], pairs[1::2], strict=True):
            comment = comments[int(index)]
            if comment.quotable and all(k != comment.respondent_key for _, k in picked):
                picked.append((_verbatim(comment.text, str(quote)), comment.respondent_key))
        coded_themes.append(
            CodedTheme(
                key=_key(label),
                label=label,
                description=description
                or f"Points members made on {label[:1].lower()}{label[1:]}.",
                respondent_keys=tuple(sorted(raised[n])),
                stance=mix,
                quotes=tuple(q for q, _ in picked[:MAX_QUOTES]),
                quote_keys=tuple(k for _, k in picked[:MAX_QUOTES]),
            )
        )
    coded_themes.sort(key=lambda t: (-t.count, t.label))
    rank = {t.key: i for i, t in enumerate(coded_themes)}
    keys = [_key(label) for label, _ in themes]
    assignments: dict[str, list[str]] = {c.respondent_key: [] for c in comments}
    for index, found in coded.items():
        owner = assignments[comments[index].respondent_key]
        owner.extend(keys[t] for t in found if keys[t] in rank and keys[t] not in owner)
    return Coding(
        themes=tuple(coded_themes),
        assignments={k: tuple(sorted(v, key=rank.__getitem__)) for k, v in assignments.items()},
        other_keys=tuple(k for k, v in assignments.items() if not v),
    )
