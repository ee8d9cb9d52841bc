"""Simulated consultation respondents for the demo and the benchmarks.

Pure Python: no database, no Slack, no other project module. Everything is deterministic for a
given seed.

* Each respondent gets a :class:`Persona` (a system enthusiast, a provider sceptic, a primary care
  voice ...). The persona sets how they lean on stance questions, which choices they prefer and
  which themes they write about, so a respondent's answers hang together. Over the persona mix,
  stance answers come out about 60% supportive, 20% undecided and 20% against.
* Comments are put together from sentence fragments: a stance-coloured opening, one or two
  sentences on the respondent's main theme (for, mixed or against, matching the stance), now and
  then a sentence on a second theme, and an optional closing. Each theme has its own vocabulary,
  so TF-IDF + KMeans finds the themes again; the many combinations keep thousands of comments
  varied.
* About 30% of answers to questions with an optional comment carry none. :func:`simulate_responses`
  also plants a few awkward comments, each once: one containing ``<!channel>``, one starting with
  ``=SUM(``, one with emoji, one with apostrophes and one of about 1,200 characters.

Entry points: :func:`simulate_answer`, :func:`simulate_responses` (the demo: a list of member ids,
a response rate) and :func:`generate_bulk` (benchmarks: a generator that yields tens of thousands
of respondents a second).
"""

from __future__ import annotations

import random
import re
from bisect import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import Any, Literal

from bot.core.vocabulary import STANCE_GROUPS, STANCE_VALUES

QuestionKind = Literal["stance", "single_choice", "multi_choice", "free_text", "matrix"]
CommentRule = Literal["optional", "required", "none"]
QuoteConsent = Literal["named", "anonymous", "no"]

STANCES: tuple[str, ...] = STANCE_VALUES
SUPPORTIVE = frozenset(STANCE_GROUPS["supportive"])
AGAINST = frozenset(STANCE_GROUPS["disagree"])

#: share of answers to a question with an optional comment that do carry one
COMMENT_RATE = 0.70
#: how often a respondent repeats their overall leaning on another stance question
ANCHOR_STICKINESS = 0.65
QUOTE_CONSENTS: tuple[QuoteConsent, ...] = ("named", "anonymous", "no")
_QUOTE_CONSENT_CUM = tuple(accumulate((0.45, 0.40, 0.15)))


# --------------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionSpec:
    """One question of a consultation (docs/contracts.md, Consultation file); ``options`` holds option *values*."""

    id: str
    text: str
    kind: QuestionKind = "stance"
    options: list[str] = field(default_factory=list)
    comment: CommentRule = "optional"
    rows: list[str] = field(default_factory=list)  # matrix: row values

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuestionSpec:
        """Build from a question mapping of a consultation file (options as text or value/label)."""
        options = []
        for option in data.get("options") or []:
            if isinstance(option, Mapping):
                options.append(str(option["value"]))
            else:
                options.append(slugify(str(option)))
        return cls(
            id=str(data["id"]),
            text=str(data["text"]),
            kind=data.get("kind", "stance"),
            options=options,
            comment=data.get("comment", "optional"),
        )


@dataclass(slots=True)
class SimulatedAnswer:
    """``choice`` for stance/single choice, ``choices`` for multi choice, ``rows`` (row value
    -> option value) for a matrix, ``comment`` text."""

    choice: str | None
    choices: list[str]
    comment: str | None
    rows: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SimulatedResponse:
    member_id: str
    answers: dict[str, SimulatedAnswer]
    quote_consent: QuoteConsent


@dataclass(frozen=True, slots=True)
class Persona:
    """A kind of respondent: how they lean and what they write about."""

    name: str
    description: str
    #: weights for STANCES, in order
    stance_weights: tuple[float, float, float, float, float]
    #: theme -> weight; the respondent's main theme is drawn from these
    themes: Mapping[str, float]
    #: share of all respondents with this persona
    share: float

    @property
    def support_rate(self) -> float:
        return (self.stance_weights[0] + self.stance_weights[1]) / sum(self.stance_weights)


def slugify(text: str) -> str:
    """The value of a choice option given as text (docs/contracts.md, Consultation file): ``Middle way`` -> ``middle-way``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def questions_from_consultation(data: Mapping[str, Any]) -> list[QuestionSpec]:
    """The questions of a loaded consultation file."""
    return [QuestionSpec.from_dict(q) for q in data.get("questions") or []]


# --------------------------------------------------------------------------------------------
# Personas
# --------------------------------------------------------------------------------------------

PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="system_enthusiast",
        description="ICS leader who has run a voluntary system and wants it on a statutory footing",
        stance_weights=(0.35, 0.45, 0.12, 0.06, 0.02),
        themes={
            "place": 2,
            "data_sharing": 2,
            "finance": 2,
            "clinical_leadership": 1,
            "accountability": 2,
            "workforce": 1,
        },
        share=0.30,
    ),
    Persona(
        name="provider_sceptic",
        description="trust chief executive wary of a top-down reorganisation",
        stance_weights=(0.05, 0.25, 0.25, 0.30, 0.15),
        themes={"reorganisation": 3, "accountability": 2, "workforce": 2, "finance": 2},
        share=0.15,
    ),
    Persona(
        name="primary_care_voice",
        description="PCN clinical director or GP commissioner",
        stance_weights=(0.10, 0.40, 0.25, 0.18, 0.07),
        themes={"primary_care": 4, "clinical_leadership": 2, "workforce": 2, "reorganisation": 1},
        share=0.20,
    ),
    Persona(
        name="mental_health_advocate",
        description="mental health trust leader focused on parity of esteem",
        stance_weights=(0.15, 0.45, 0.22, 0.13, 0.05),
        themes={"mental_health": 4, "workforce": 1, "finance": 1, "data_sharing": 1},
        share=0.15,
    ),
    Persona(
        name="local_government_partner",
        description="director of adult social care or public health working with the NHS",
        stance_weights=(0.15, 0.45, 0.22, 0.13, 0.05),
        themes={"local_government": 4, "place": 2, "accountability": 2, "finance": 2},
        share=0.20,
    ),
)
PERSONAS_BY_NAME: dict[str, Persona] = {p.name: p for p in PERSONAS}
_PERSONA_CUM = tuple(accumulate(p.share for p in PERSONAS))


def pick_persona(rng: random.Random) -> Persona:
    return PERSONAS[bisect(_PERSONA_CUM, rng.random() * _PERSONA_CUM[-1])]


# --------------------------------------------------------------------------------------------
# Comment fragments
# --------------------------------------------------------------------------------------------
# Each theme: fillers for "{x}" / "{X}" and sentences for ("pro", "mixed", "con").

_THEMES: dict[str, dict[str, list[str]]] = {
    "workforce": {
        "x": [
            "district nurses",
            "mental health nurses",
            "GPs",
            "occupational therapists",
            "allied health professionals",
            "paramedics",
            "clinical pharmacists",
        ],
        "pro": [
            "A statutory ICS gives us one place to plan the workforce across organisations "
            "instead of competing for the same {x}.",
            "System-wide workforce planning is the prize: shared rotations, joint recruitment "
            "and one approach to retaining {x}.",
            "Working as one system lets us move staff to where they are needed, as we did with "
            "{x} during the first wave of COVID-19.",
            "A single workforce strategy would finally stop organisations poaching {x} from each "
            "other and from social care.",
        ],
        "con": [
            "None of this fixes the workforce shortages; we cannot recruit enough {x} and new "
            "structures will not change that.",
            "Staff are exhausted after the pandemic, and another reorganisation will push "
            "experienced {x} towards early retirement.",
            "The proposals say almost nothing about workforce, and without a funded people plan "
            "the shortage of {x} will undermine everything else.",
            "Changing employers and structures creates uncertainty for staff, and we risk losing "
            "{x} we can least afford to lose.",
        ],
        "mixed": [
            "Much depends on whether the ICS gets real levers over workforce supply, including "
            "{x}.",
            "The workforce implications are unclear, particularly for {x} working across health "
            "and social care.",
            "We would want to see how workforce planning for {x} is split between the ICS, place "
            "and the regional teams.",
        ],
    },
    "finance": {
        "x": [
            "pooled budgets",
            "a single system allocation",
            "Section 75 agreements",
            "capital allocations",
            "the system financial envelope",
            "the Better Care Fund",
        ],
        "pro": [
            "A single system budget, and the freedom to use {x} with the local authority, is "
            "what will let us shift money into prevention.",
            "Financial incentives should reward collaboration, and moving to {x} ends the "
            "payment-by-results tug of war between providers.",
            "Pooled budgets with local government are essential, and a statutory body makes {x} "
            "far easier to agree and govern.",
            "Holding the money at system level means a deficit becomes a shared problem rather "
            "than one trust's problem.",
        ],
        "con": [
            "A statutory body does nothing about the underlying financial pressures; the deficit "
            "simply moves to system level.",
            "We are worried that {x} will be used to push savings targets onto providers with no "
            "say over how money is allocated.",
            "Without new money, {x} just redistributes scarcity, and the organisations with the "
            "biggest deficits will drag everyone down.",
            "Financial duties stay with trust boards, so control of {x} at system level blurs "
            "who answers for an overspend.",
        ],
        "mixed": [
            "The financial framework matters more than the structure, and we have not yet seen "
            "how {x} would work in practice.",
            "Pooled budgets are welcome in principle, but the rules on VAT, capital and {x} need "
            "settling first.",
            "We need clarity on how {x} would sit alongside each provider's statutory financial "
            "duties.",
        ],
    },
    "accountability": {
        "x": [
            "parliament",
            "patients and the public",
            "NHS England",
            "the Secretary of State",
        ],
        "pro": [
            "Option 2 gives clear lines of accountability: one body and one accountable officer, "
            "answerable to {x}.",
            "A statutory ICS body ends the confusion of informal partnerships where nobody is "
            "formally accountable to {x}.",
            "Clarity of accountability to {x} is exactly what voluntary partnerships have lacked.",
        ],
        "con": [
            "Accountability flows upwards to NHS England and the Secretary of State, not to local "
            "communities; this is centralisation dressed up as integration.",
            "An NHS body accountable to parliament sits awkwardly with local democracy, and "
            "elected members will be junior partners at best.",
            "There is a real democratic deficit: decisions about local services will be taken by "
            "a board answering to NHS England rather than to residents and local councillors.",
            "New powers of direction for the Secretary of State undermine the operational "
            "independence the NHS has relied on.",
        ],
        "mixed": [
            "The balance between accountability to {x} and to local democracy has not been "
            "worked out yet.",
            "It is not clear how the ICS board and the wider partnership will hold each other to "
            "account, or who answers to {x}.",
            "Accountability needs to run both ways, upwards to NHS England and outwards to local "
            "communities and health and wellbeing boards, and the document is vague on how.",
        ],
    },
    "reorganisation": {
        "x": [
            "COVID-19 recovery",
            "the elective backlog",
            "the vaccination programme",
            "winter pressures",
            "restoring services",
        ],
        "pro": [
            "The pandemic showed what collaboration can do, and legislation locks that way of "
            "working in rather than letting it drift back.",
            "Systems have worked like this informally for years; a statutory footing catches up "
            "with reality rather than starting a reorganisation.",
            "Legislating for 2022 gives us time to plan alongside {x} and ends years of "
            "uncertainty about the future of CCGs.",
        ],
        "con": [
            "The timing is wrong: a top-down reorganisation will distract leaders from {x} when "
            "we have least capacity.",
            "This is another structural reorganisation, and every one of those has cost years of "
            "management time without improving care.",
            "We should be focusing on {x}, not redrawing organisational boundaries in the middle "
            "of a pandemic.",
            "Abolishing CCGs and transferring staff during {x} risks losing good people and "
            "corporate memory.",
        ],
        "mixed": [
            "The direction is right but the timetable is tight given {x}.",
            "We would support the change if the transition is light-touch and does not pull "
            "people away from {x}.",
            "Whether April 2022 is realistic depends on how long {x} continues to dominate.",
        ],
    },
    "primary_care": {
        "x": [
            "primary care networks",
            "general practice",
            "PCN clinical directors",
            "community pharmacy",
            "GP federations",
        ],
        "pro": [
            "Bringing primary care commissioning closer to place, with {x} at the table, is a "
            "real opportunity.",
            "PCNs are the building blocks of place, and a statutory ICS can give {x} a proper "
            "voice in decisions.",
            "Delegating primary care commissioning to systems would let {x} shape services around "
            "neighbourhoods.",
        ],
        "con": [
            "Primary care is barely mentioned; without a guaranteed seat on the ICS board, {x} "
            "will be drowned out by the acute trusts.",
            "The proposals are written by and for hospital trusts, and {x} will be an "
            "afterthought again.",
            "Removing CCGs takes away the main route by which GPs influence commissioning, and "
            "nothing replaces it for {x}.",
            "We fear a hospital-dominated board taking decisions about {x} without understanding "
            "how general practice works.",
        ],
        "mixed": [
            "Everything depends on how {x} are represented on the ICS board, which the document "
            "leaves open.",
            "PCNs are still maturing, and we are unsure they have the capacity to take on a "
            "system role alongside {x} yet.",
            "We need to see how the primary care voice, including {x}, is built into governance "
            "at place and at system.",
        ],
    },
    "mental_health": {
        "x": [
            "mental health services",
            "learning disability and autism services",
            "children and young people's mental health services",
            "community mental health services",
            "mental health crisis care",
        ],
        "pro": [
            "System working is the best route to parity of esteem, because {x} can at last be "
            "planned alongside physical health.",
            "Mental health provider collaboratives have shown the benefits of trusts working "
            "together on {x}, and statute will strengthen that.",
            "A single system budget could protect the mental health investment standard and "
            "grow {x}.",
        ],
        "con": [
            "We worry that {x} will lose out to acute hospital pressures once budgets are pooled "
            "at system level.",
            "Mental health is mentioned only in passing; without ring-fenced investment, {x} "
            "will be squeezed by the elective backlog.",
            "There is no guarantee of a mental health voice on ICS boards, and {x} have always "
            "lost out when decisions are made at scale.",
        ],
        "mixed": [
            "We need to understand how specialised {x} would be commissioned and how the mental "
            "health investment standard is protected.",
            "The role of mental health provider collaboratives relative to place, especially for "
            "{x}, is still unclear.",
            "Parity of esteem for {x} must be written into the duties of the ICS, not left to "
            "local goodwill.",
        ],
    },
    "data_sharing": {
        "x": [
            "shared care records",
            "population health management",
            "data-sharing agreements",
            "linked health and social care data",
            "digital infrastructure",
        ],
        "pro": [
            "A statutory footing should make {x} simpler, so we can plan with population data "
            "across organisations.",
            "Sharing data across the system is how we tackle health inequalities, and {x} will "
            "be easier with one accountable body.",
            "Investment in {x} across the system would help clinicians see the whole patient, not "
            "just their own organisation's record.",
        ],
        "con": [
            "Information governance is still a barrier, and structural change does nothing to "
            "fix {x}.",
            "Every organisation still runs its own IT systems, and {x} will not happen just "
            "because there is a new statutory body.",
            "Patients and the public have not been asked about {x}, and we risk losing their "
            "trust.",
        ],
        "mixed": [
            "We would want clear national rules on {x} before systems are held to account for "
            "integration.",
            "{X} will decide whether integration is real, and the proposals are light on how it "
            "will be funded.",
            "It is unclear who owns {x} at system level and who would be the data controller.",
        ],
    },
    "place": {
        "x": [
            "place-based partnerships",
            "borough partnerships",
            "neighbourhood teams",
            "partnerships on local authority footprints",
        ],
        "pro": [
            "Place is where integration actually happens, and the emphasis on {x} is very welcome.",
            "We support subsidiarity: most decisions should be taken at place, with the system "
            "adding value only where scale matters.",
            "Our {x} already deliver joined-up care, and the proposals rightly build on them.",
        ],
        "con": [
            "The proposals concentrate power at system level and risk undermining the {x} that "
            "actually deliver integrated care.",
            "Large systems covering several councils are too remote from communities; decisions "
            "will drift away from {x}.",
            "Place is treated as an afterthought, with no statutory standing for {x}.",
        ],
        "mixed": [
            "Much depends on how much is delegated to {x} and how that is written into the ICS "
            "constitution.",
            "The relationship between place and system has to be defined locally, but the "
            "guidance on {x} is still thin.",
            "We need the flexibility to design {x} that fit our geography rather than one "
            "national template.",
        ],
    },
    "clinical_leadership": {
        "x": [
            "clinical directors",
            "front-line clinicians",
            "nurses and allied health professionals",
            "medical directors",
        ],
        "pro": [
            "Clinically led integration is the right ambition, and a statutory ICS can embed "
            "{x} at every level.",
            "Provider collaboratives give {x} the chance to redesign pathways across "
            "organisational boundaries.",
            "We welcome the emphasis on {x}; the best system work we have seen was driven by "
            "clinical teams.",
        ],
        "con": [
            "Abolishing CCGs removes the clinical leadership that was their whole point, and "
            "nothing in the proposals replaces it.",
            "We see managers, not {x}, running these boards, which is a step backwards for "
            "clinical engagement.",
            "The proposals say little about {x}, and a board of chief executives will not "
            "command clinical support.",
        ],
        "mixed": [
            "It is not yet clear how {x} will be represented on ICS boards or given real "
            "influence.",
            "We would like a requirement for {x} in ICS governance rather than leaving it to "
            "local discretion.",
            "Clinical leadership needs time and funded sessions, and the document is silent on "
            "how {x} will be supported.",
        ],
    },
    "local_government": {
        "x": [
            "local authorities",
            "adult social care",
            "public health teams",
            "councils",
            "the voluntary and community sector",
        ],
        "pro": [
            "Working with {x} as equal partners is the only way to tackle the wider determinants "
            "of health.",
            "The duty to collaborate should bind the NHS and {x} together and make joint "
            "commissioning the norm.",
            "Integration with {x} has gone furthest where there is trust, and a statutory "
            "framework can spread that.",
        ],
        "con": [
            "Local government is treated as a junior partner: {x} will have a seat at the table "
            "but no real say.",
            "Social care reform is missing, and integrating the NHS while {x} remain underfunded "
            "will not work.",
            "An NHS-led body cannot integrate care when councils answer to a different government "
            "department and a local electorate.",
        ],
        "mixed": [
            "The role of {x} on the ICS board needs to be much clearer before we can support the "
            "model.",
            "We need to know how the ICS will work with {x} through health and wellbeing boards "
            "without duplicating them.",
            "Success depends on the relationship with {x}, and legislation alone cannot build "
            "that.",
        ],
    },
}

_OPENINGS: dict[str, list[str]] = {
    "strongly_agree": [
        "Strongly agree.",
        "We strongly support this.",
        "Yes, wholeheartedly.",
        "This is absolutely the right direction.",
        "Yes, and it is overdue.",
    ],
    "agree": [
        "Agree.",
        "Broadly agree.",
        "We support the direction of travel.",
        "Yes, on balance.",
        "Agree, with some caveats.",
        "We are supportive.",
    ],
    "undecided": [
        "Undecided.",
        "It is too early to say.",
        "We can see arguments both ways.",
        "Hard to judge without more detail.",
        "We have mixed views.",
    ],
    "disagree": [
        "Disagree.",
        "We do not agree.",
        "Not convinced.",
        "We have serious reservations.",
        "We cannot support this as drafted.",
    ],
    "strongly_disagree": [
        "Strongly disagree.",
        "We are firmly opposed.",
        "This is the wrong approach.",
        "No.",
        "We strongly disagree with this proposal.",
    ],
}

_CLOSINGS: dict[str, list[str]] = {
    "pro": [
        "We would welcome the chance to help shape the guidance.",
        "Happy to share our local experience.",
        "Let's keep the momentum we built during the pandemic.",
        "The sooner this is settled, the better.",
    ],
    "mixed": [
        "We would welcome more detail before taking a firm view.",
        "The guidance that follows will matter more than the legislation.",
        "We will look closely at the detail when it comes.",
    ],
    "con": [
        "We urge NHSEI to think again.",
        "We would ask for a pause until the pandemic is behind us.",
        "The case for change has not been made.",
    ],
}

_CAVEATS = ("That said, ", "Even so, ", "One caveat: ")

_ADVICE_OPENINGS: dict[str, list[str]] = {
    "pro": ["Keep going.", "Be bold.", "Trust the systems that are already working.", "My advice:"],
    "mixed": [
        "Go carefully.",
        "Get the detail right first.",
        "Listen to the front line.",
        "Advice:",
    ],
    "con": ["Pause and think again.", "Do not rush this.", "Fix the basics first.", "Frankly:"],
}

_SINGLE_OPENINGS = ('We chose "{o}".', '"{o}" is where we have landed.', 'On balance, "{o}".')
_MULTI_OPENINGS = ('Top of our list: "{o}".', 'Above all, "{o}".', 'For us, "{o}" comes first.')


def _polarity(stance: str) -> str:
    if stance in SUPPORTIVE:
        return "pro"
    if stance in AGAINST:
        return "con"
    return "mixed"


def _lower_first(sentence: str) -> str:
    # "The role" -> "the role", but "ICS boards" and "PCNs" keep their capitals
    if len(sentence) > 1 and sentence[1].islower():
        return sentence[0].lower() + sentence[1:]
    return sentence


def _expand(theme: dict[str, list[str]], polarity: str) -> tuple[str, ...]:
    out: list[str] = []
    for template in theme[polarity]:
        if "{x}" in template or "{X}" in template:
            for filler in theme["x"]:
                capital = filler[0].upper() + filler[1:]
                out.append(template.replace("{x}", filler).replace("{X}", capital))
        else:
            out.append(template)
    return tuple(out)


#: theme -> polarity -> every concrete sentence, expanded once at import
SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    name: {pol: _expand(theme, pol) for pol in ("pro", "mixed", "con")}
    for name, theme in _THEMES.items()
}
THEMES: tuple[str, ...] = tuple(SENTENCES)

_STANCE_CUM: dict[str, tuple[float, ...]] = {
    p.name: tuple(accumulate(p.stance_weights)) for p in PERSONAS
}
_THEME_TABLE: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    p.name: (tuple(p.themes), tuple(accumulate(p.themes.values()))) for p in PERSONAS
}


def _pick(seq: Sequence[str], rng: random.Random) -> str:
    return seq[int(rng.random() * len(seq))]


def _persona_tables(
    persona: Persona,
) -> tuple[tuple[float, ...], tuple[str, ...], tuple[float, ...]]:
    stance_cum = _STANCE_CUM.get(persona.name)
    table = _THEME_TABLE.get(persona.name)
    if stance_cum is None or table is None:  # a persona defined by the caller
        stance_cum = tuple(accumulate(persona.stance_weights))
        table = (tuple(persona.themes), tuple(accumulate(persona.themes.values())))
    return stance_cum, table[0], table[1]


def draw_stance(persona: Persona, rng: random.Random) -> str:
    cum = _persona_tables(persona)[0]
    return STANCES[bisect(cum, rng.random() * cum[-1])]


def _draw_theme(persona: Persona, rng: random.Random) -> str:
    _, names, cum = _persona_tables(persona)
    theme = names[bisect(cum, rng.random() * cum[-1])]
    return theme if theme in SENTENCES else _pick(THEMES, rng)


def _theme_sentences(stance: str, theme: str, rng: random.Random) -> list[str]:
    """One or two sentences on the main theme, now and then a second theme and a caveat."""
    polarity = _polarity(stance)
    bank = SENTENCES[theme][polarity]
    first = _pick(bank, rng)
    parts = [first]
    if rng.random() < 0.45:
        second = _pick(bank, rng)
        if second[:40] != first[:40]:  # not the same template with another filler
            parts.append(second)
    if rng.random() < 0.30:
        other = _pick(THEMES, rng)
        if other != theme:
            parts.append(_pick(SENTENCES[other][polarity], rng))
    if stance == "agree" and rng.random() < 0.30:
        caveat = _pick(SENTENCES[theme]["mixed"], rng)
        parts.append(_pick(_CAVEATS, rng) + _lower_first(caveat))
    return parts


def compose_comment(stance: str, theme: str, rng: random.Random) -> str:
    """A comment on a stance question: opening + theme sentences + optional closing."""
    parts = []
    if rng.random() < 0.8:
        parts.append(_pick(_OPENINGS[stance], rng))
    parts.extend(_theme_sentences(stance, theme, rng))
    if rng.random() < 0.35:
        parts.append(_pick(_CLOSINGS[_polarity(stance)], rng))
    return " ".join(parts)


def _option_label(value: str) -> str:
    text = value.replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


def _choice_comment(
    openings: Sequence[str], value: str, stance: str, theme: str, rng: random.Random
) -> str:
    parts = [_pick(openings, rng).replace("{o}", _option_label(value))]
    parts.extend(_theme_sentences(stance, theme, rng))
    return " ".join(parts)


def _advice_comment(stance: str, theme: str, rng: random.Random) -> str:
    parts = [_pick(_ADVICE_OPENINGS[_polarity(stance)], rng)]
    parts.extend(_theme_sentences(stance, theme, rng))
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Choices
# --------------------------------------------------------------------------------------------

_RANK_WEIGHTS = (1.0, 0.55, 0.3, 0.2, 0.15, 0.1, 0.08, 0.06)


@lru_cache(maxsize=4096)
def _choice_table(
    persona_name: str, question_id: str, options: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Stable per persona and question: options in this persona's order of preference."""
    order = list(options)
    random.Random(f"{persona_name}:{question_id}").shuffle(order)
    weights = [_RANK_WEIGHTS[min(i, len(_RANK_WEIGHTS) - 1)] for i in range(len(order))]
    return tuple(order), tuple(accumulate(weights))


def _pick_option(persona: Persona, question: QuestionSpec, rng: random.Random) -> str:
    options = question.options
    if rng.random() < 0.2:  # some respondents go against their persona
        return _pick(options, rng)
    order, cum = _choice_table(persona.name, question.id, tuple(options))
    return order[bisect(cum, rng.random() * cum[-1])]


def _pick_options(persona: Persona, question: QuestionSpec, rng: random.Random) -> list[str]:
    """One to three distinct options, weighted by the persona's preferences.

    The first is the respondent's top priority; the rest follow in the file's order.
    """
    options = question.options
    roll = rng.random()
    k = min(len(options), 1 if roll < 0.3 else 2 if roll < 0.75 else 3)
    order, cum = _choice_table(persona.name, question.id, tuple(options))
    total = cum[-1]
    chosen: list[str] = []
    while len(chosen) < k:  # rejection = weighted sampling without replacement
        value = order[bisect(cum, rng.random() * total)]
        if value not in chosen:
            chosen.append(value)
    rest = chosen[1:]
    return [chosen[0], *(v for v in options if v in rest)]


def _pick_row_option(persona: Persona, question: QuestionSpec, row: str, rng: random.Random) -> str:
    """A matrix row's option: mostly the option members broadly share for that row (so some
    asks get a clear lever), otherwise the persona's own leaning (so others split)."""
    # Files list "Not needed" (or the like) last; members seldom pick it, so it ranks last in
    # the shared view.
    *levers, last = question.options
    if levers and rng.random() < 0.55:
        order, cum = _choice_table("shared", f"{question.id}:{row}", tuple(levers))
        order, cum = (*order, last), (*cum, cum[-1] + _RANK_WEIGHTS[-1])
        return order[bisect(cum, rng.random() * cum[-1])]
    order, cum = _choice_table(persona.name, f"{question.id}:{row}", tuple(question.options))
    return order[bisect(cum, rng.random() * cum[-1])]


# --------------------------------------------------------------------------------------------
# Answers and responses
# --------------------------------------------------------------------------------------------


def simulate_answer(
    question: QuestionSpec,
    persona: Persona,
    rng: random.Random,
    *,
    anchor: str | None = None,
    theme: str | None = None,
) -> SimulatedAnswer:
    """One respondent's answer to one question.

    ``anchor`` is the respondent's overall leaning (a stance value) and ``theme`` their main
    concern; both are drawn from the persona when not given. Passing the same ones for all of a
    respondent's questions makes the answers consistent with each other.
    """
    if anchor is None:
        anchor = draw_stance(persona, rng)
    if theme is None:
        theme = _draw_theme(persona, rng)
    wants_comment = question.comment == "required" or (
        question.comment == "optional" and rng.random() < COMMENT_RATE
    )
    kind = question.kind
    if kind == "stance":
        stance = anchor if rng.random() < ANCHOR_STICKINESS else draw_stance(persona, rng)
        comment = compose_comment(stance, theme, rng) if wants_comment else None
        return SimulatedAnswer(stance, [], comment)
    if kind == "single_choice":
        if not question.options:
            raise ValueError(f"question {question.id!r} has no options")
        value = _pick_option(persona, question, rng)
        comment = (
            _choice_comment(_SINGLE_OPENINGS, value, anchor, theme, rng) if wants_comment else None
        )
        return SimulatedAnswer(value, [], comment)
    if kind == "multi_choice":
        if not question.options:
            raise ValueError(f"question {question.id!r} has no options")
        values = _pick_options(persona, question, rng)
        comment = (
            _choice_comment(_MULTI_OPENINGS, values[0], anchor, theme, rng)
            if wants_comment
            else None
        )
        return SimulatedAnswer(None, values, comment)
    if kind == "free_text":  # the comment is the answer
        return SimulatedAnswer(None, [], _advice_comment(anchor, theme, rng))
    if kind == "matrix":
        if not question.options or not question.rows:
            raise ValueError(f"question {question.id!r} needs rows and options")
        rows = {row: _pick_row_option(persona, question, row, rng) for row in question.rows}
        comment = _advice_comment(anchor, theme, rng) if wants_comment else None
        return SimulatedAnswer(None, [], comment, rows)
    raise ValueError(f"unknown question kind {kind!r}")


def _draw_consent(rng: random.Random) -> QuoteConsent:
    return QUOTE_CONSENTS[bisect(_QUOTE_CONSENT_CUM, rng.random() * _QUOTE_CONSENT_CUM[-1])]


def simulate_respondent(
    questions: Sequence[QuestionSpec], member_id: str, rng: random.Random
) -> SimulatedResponse:
    """A whole response: a persona, an overall leaning and main theme, then every question."""
    persona = pick_persona(rng)
    anchor = draw_stance(persona, rng)
    theme = _draw_theme(persona, rng)
    answers = {
        q.id: simulate_answer(q, persona, rng, anchor=anchor, theme=theme) for q in questions
    }
    return SimulatedResponse(member_id, answers, _draw_consent(rng))


def simulate_responses(
    questions: Sequence[QuestionSpec],
    member_ids: Iterable[str],
    *,
    seed: int = 0,
    response_rate: float = 0.8,
) -> dict[str, SimulatedResponse]:
    """Responses of the members who respond (about ``response_rate`` of them), by member id.

    Each member's answers depend only on the seed and their id, so adding members does not
    change anyone else's (apart from where the awkward comments land). The awkward comments (see the module docstring) are planted once each
    when there are enough comments to plant them in.
    """
    questions = list(questions)
    responses: dict[str, SimulatedResponse] = {}
    for member_id in member_ids:
        rng = random.Random(f"{seed}:{member_id}")
        if rng.random() >= response_rate:
            continue
        responses[member_id] = simulate_respondent(questions, member_id, rng)
    plant_tricky_comments(responses.values(), random.Random(f"{seed}:tricky"))
    return responses


def generate_bulk(
    questions: Sequence[QuestionSpec],
    n_respondents: int,
    *,
    seed: int = 0,
    id_prefix: str = "USIM",
) -> Iterator[SimulatedResponse]:
    """``n_respondents`` responses, one at a time (for benchmarks of 25,000-100,000).

    Member ids are ``{id_prefix}0000001`` upwards. The awkward comments are planted once each
    among the first respondents.
    """
    questions = list(questions)
    rng = random.Random(seed)
    pending = list(_TRICKY)
    for index in range(1, n_respondents + 1):
        response = simulate_respondent(questions, f"{id_prefix}{index:07d}", rng)
        if pending and index % 7 == 0:
            for answer in response.answers.values():
                if answer.comment:
                    answer.comment = pending.pop(0)(answer.comment, _stance_of(answer), rng)
                    break
        yield response


# --------------------------------------------------------------------------------------------
# Awkward comments for the demo and the tests
# --------------------------------------------------------------------------------------------


# Each takes (comment, stance of the answer or None, rng) and returns the new comment.


def _with_channel_mention(comment: str, stance: str | None, rng: random.Random) -> str:
    return f"{comment} <!channel> please make sure your organisation responds before the deadline."


def _with_formula(comment: str, stance: str | None, rng: random.Random) -> str:
    return f"=SUM(our partners' views) comes to this: {comment}"


def _with_emoji(comment: str, stance: str | None, rng: random.Random) -> str:
    return f"{comment} 👍 :tada: 🏥"


def _with_apostrophes(comment: str, stance: str | None, rng: random.Random) -> str:
    return (
        "It's the ICS's job to add value to what's done at place, and we'll judge it on that. "
        + comment
    )


def _long(comment: str, stance: str | None, rng: random.Random) -> str:
    """About 1,200 characters: the comment, then more sentences of the same polarity."""
    polarity = _polarity(stance) if stance else _polarity_of_text(comment)
    parts = [comment]
    length = len(comment)
    themes = list(THEMES)
    rng.shuffle(themes)
    for theme in themes * 3:
        sentence = _pick(SENTENCES[theme][polarity], rng)
        if sentence in parts:
            continue
        if length + 1 + len(sentence) > 1250:
            if length >= 1150:
                break
            continue
        parts.append(sentence)
        length += 1 + len(sentence)
    return " ".join(parts)


_TRICKY = (_with_channel_mention, _with_formula, _with_emoji, _with_apostrophes, _long)


def plant_tricky_comments(responses: Iterable[SimulatedResponse], rng: random.Random) -> int:
    """Rewrite a few distinct comments into awkward ones, each kind once; returns how many."""
    slots = [
        answer
        for response in responses
        for answer in response.answers.values()
        if answer.comment is not None
    ]
    chosen = rng.sample(slots, min(len(slots), len(_TRICKY)))
    for transform, answer in zip(_TRICKY, chosen, strict=False):
        answer.comment = transform(answer.comment or "", _stance_of(answer), rng)
    return len(chosen)


def _polarity_of_text(comment: str) -> str:
    for polarity, openings in _ADVICE_OPENINGS.items():
        if comment.startswith(tuple(openings)):
            return polarity
    for stance, openings in _OPENINGS.items():
        if comment.startswith(tuple(openings)):
            return _polarity(stance)
    return "mixed"


def _stance_of(answer: SimulatedAnswer) -> str | None:
    return answer.choice if answer.choice in STANCES else None
