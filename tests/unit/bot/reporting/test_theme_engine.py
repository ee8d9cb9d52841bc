"""Theme coding as a policy officer would see it: themes, who raised them, labels and quotes."""

from __future__ import annotations

import random
import re

import pytest

from bot.reporting.theme_engine import CodedTheme, Coding, CommentInput, code_comments

# Four subjects members write about, each in several wordings so no two comments are copies.
SUBJECTS: dict[str, list[str]] = {
    "pooling": [
        "Pooled budgets with the council should be far easier to set up.",
        "The section 75 rules make pooled budgets slow and costly to agree.",
        "We want wider powers to pool budgets across health and social care.",
        "Pooled budgets only work when the legal agreements are simple.",
        "Please simplify section 75 so pooled budgets become the norm.",
        "Our pooled budgets for health and social care took a year to agree.",
    ],
    "gp_time": [
        "GPs need protected time and backfill to take part in system leadership.",
        "Without funded backfill no GP partner can give protected time to the board.",
        "Protected time for GP leaders must be paid for, not squeezed into evenings.",
        "Backfill for practices is the price of GP time on system work.",
        "Give GPs protected time with proper backfill funding.",
        "Practices cannot release GP time without backfill.",
    ],
    "timing": [
        "The timing is wrong while staff recover from the pandemic.",
        "Reorganising during the pandemic will distract everyone from recovery.",
        "This is the wrong time for another reorganisation, with the pandemic still here.",
        "Staff are exhausted by the pandemic and the timing of this change is poor.",
        "A reorganisation in the middle of pandemic recovery is badly timed.",
        "Delay it: the pandemic has left no capacity for a reorganisation now.",
    ],
    "data": [
        "Shared care records and data sharing between partners are essential.",
        "Data sharing agreements hold us back more than any structure.",
        "We need one shared care record and common data sharing rules.",
        "Fix data sharing first; shared records matter more than boards.",
        "Information governance for data sharing is still far too complicated.",
        "A shared care record across the system would transform data sharing.",
    ],
}
OPPOSED_SUBJECT = "timing"


def _comment(rng: random.Random, index: int, subjects: list[str]) -> CommentInput:
    text = " ".join(rng.choice(SUBJECTS[s]) for s in subjects)
    stance = "disagree" if OPPOSED_SUBJECT in subjects else rng.choice(["agree", "strongly_agree"])
    return CommentInput(f"R{index:03d}", text, stance)


def corpus(n: int = 60, seed: int = 1) -> list[CommentInput]:
    """Comments raising one subject each, except every fifth which raises two."""
    rng = random.Random(seed)
    names = sorted(SUBJECTS)
    comments = []
    for i in range(n):
        first = names[i % len(names)]
        subjects = [first]
        if i % 5 == 4:
            subjects.append(names[(i + 1) % len(names)])
        if OPPOSED_SUBJECT in subjects and len(subjects) == 2:
            subjects = [first] if first == OPPOSED_SUBJECT else [subjects[1]]
        comments.append(_comment(rng, i, subjects))
    return comments


def theme_of(coding: Coding, word: str) -> CodedTheme:
    """The theme whose quotes mention ``word`` most often."""
    return max(coding.themes, key=lambda t: sum(word in q.lower() for q in t.quotes))


@pytest.fixture(scope="module")
def coding() -> Coding:
    return code_comments(corpus())


def test_finds_each_subject_as_its_own_theme(coding: Coding) -> None:
    themes_by_subject = {
        theme_of(coding, word).key for word in ("pool", "backfill", "pandemic", "data sharing")
    }
    assert len(themes_by_subject) == 4


def test_same_comments_give_the_same_coding() -> None:
    assert code_comments(corpus()) == code_comments(corpus())


def test_a_comment_making_two_points_counts_in_both_themes() -> None:
    comments = corpus()
    two_points = CommentInput(
        "R999",
        "Pooled budgets with the council should be far easier to set up. "
        "Separately, GPs need protected time and backfill to take part in system leadership.",
        "agree",
    )
    coding = code_comments([*comments, two_points])
    pooling, gp_time = theme_of(coding, "pool"), theme_of(coding, "backfill")
    assert pooling.key != gp_time.key
    assert {pooling.key, gp_time.key} <= set(coding.assignments["R999"])
    assert "R999" in pooling.respondent_keys and "R999" in gp_time.respondent_keys


def test_labels_are_distinct_sentence_case_phrases_members_wrote(coding: Coding) -> None:
    labels = [t.label for t in coding.themes]
    assert len({label.lower() for label in labels}) == len(labels)
    every_comment = " ".join(c.text.lower() for c in corpus())
    for label in labels:
        assert "/" not in label
        assert label[0].isupper()
        assert len(label.split()) <= 7, label
        # A phrase found as written in members' comments, or (when members used no phrase
        # around a theme's main word) two of their words joined, never "x / y".
        parts = label.lower().split(" and ") if len(label.split()) == 3 else [label.lower()]
        for part in parts:
            assert re.search(rf"\b{re.escape(part)}\b", every_comment), label


def test_descriptions_are_one_sentence_naming_the_theme(coding: Coding) -> None:
    for theme in coding.themes:
        assert theme.description.endswith(".")
        assert theme.description.count(". ") == 0
        # It names the theme; no count, which depends on the scope a report is for.
        assert theme.label.lower() in theme.description.lower()
        assert "respondents" not in theme.description


def test_quotes_are_verbatim_and_short() -> None:
    long_comment = CommentInput(
        "R500",
        "Pooled budgets with the council should be far easier to set up. "
        + "We have tried for years to pool budgets, and the legal agreements alone took "
        "months of work from lawyers on both sides, which is money not spent on care. " * 4,
        "agree",
    )
    comments = [*corpus(), long_comment]
    coding = code_comments(comments)
    texts = [c.text for c in comments]
    quotes = [q for t in coding.themes for q in t.quotes]
    assert quotes
    for quote in quotes:
        assert len(quote) <= 300
        assert any(quote in text for text in texts), quote


def test_stance_mix_counts_respondents_by_group(coding: Coding) -> None:
    timing = theme_of(coding, "pandemic")
    assert timing.stance["opposed"] == timing.count
    assert timing.stance["supportive"] == 0
    for theme in coding.themes:
        assert sum(theme.stance.values()) == theme.count
        assert set(theme.stance) == {"supportive", "undecided", "opposed"}


def test_stance_is_optional_and_not_counted_when_missing() -> None:
    comments = [CommentInput(c.respondent_key, c.text) for c in corpus()]
    coding = code_comments(comments)
    assert coding.themes
    assert all(sum(t.stance.values()) == 0 for t in coding.themes)


def test_unknown_stance_is_refused() -> None:
    with pytest.raises(ValueError, match="stance"):
        CommentInput("R1", "text", "maybe")


@pytest.mark.parametrize(
    "comments",
    [
        [],
        [CommentInput("R1", "Pooled budgets should be easier.", "agree")],
        [CommentInput("R1", "Yes."), CommentInput("R2", "No."), CommentInput("R3", "Agree")],
    ],
    ids=["empty", "one comment", "nothing of substance"],
)
def test_too_little_input_gives_no_themes_and_no_error(comments: list[CommentInput]) -> None:
    coding = code_comments(comments)
    assert coding.themes == ()
    assert coding.other_keys == tuple(c.respondent_key for c in comments)
    assert all(keys == () for keys in coding.assignments.values())


def test_every_respondent_is_coded_or_in_other_points(coding: Coding) -> None:
    respondents = {c.respondent_key for c in corpus()}
    assert set(coding.assignments) == respondents
    coded = {k for k, keys in coding.assignments.items() if keys}
    assert coded | set(coding.other_keys) == respondents
    assert not coded & set(coding.other_keys)
    for theme in coding.themes:
        for key in theme.respondent_keys:
            assert theme.key in coding.assignments[key]


def test_refresh_with_a_few_more_comments_keeps_the_theme_keys() -> None:
    before = code_comments(corpus(60))
    after = code_comments(corpus(66))
    for word in ("pool", "backfill", "pandemic", "data sharing"):
        assert theme_of(before, word).key == theme_of(after, word).key, word


def test_max_themes_is_respected() -> None:
    assert len(code_comments(corpus(), max_themes=2).themes) <= 2


# Words a heading never starts or ends on: a noun phrase does not begin with a verb, pronoun,
# determiner, preposition or conjunction, nor end on one or on an adjective or adverb.
NEVER_AT_EDGES = set(
    "a an the this that these we our they it is are be been has have will would should must "
    "for of in on to with and or but between across from by as at means gets run runs make "
    "makes take takes".split()
)

# Members making four points in varied wordings, the longer wording used by most of them.
WORDED: dict[str, list[str]] = {
    "pooled": [
        "We want pooled budgets for health and social care without the legal paperwork.",
        "Pooled budgets for health and social care should be the default, not the exception.",
        "Setting up pooled budgets for health and social care takes a year of lawyers' time.",
        "Pooled budgets for health and social care worked well for us in the pandemic.",
        "Our council wants pooled budgets, but the section 75 paperwork puts everyone off.",
    ],
    "levers": [
        "At last the ICS gets real workforce levers for the ICS board to use.",
        "Workforce levers for the ICS would let us plan training places across the system.",
        "Without workforce levers for the ICS the people plan stays on paper.",
        "Give systems workforce levers for the ICS so staff can move between employers.",
        "Recruitment is competitive between trusts and nobody can broker staff rotations.",
    ],
    "estates": [
        "Our estates backlog means clinics run in unsafe buildings.",
        "The estates backlog means clinics run in unsafe buildings and wards close in winter.",
        "Capital for the estates backlog has been cut three years running.",
        "An estates backlog this size means clinics run in unsafe buildings across NHS England.",
        "Crumbling theatres and leaking roofs are the daily reality for our staff.",
    ],
    "digital": [
        "Shared care records still do not reach community pharmacy.",
        "Every trust buys its own electronic patient record and none of them talk.",
        "Interoperable shared care records would save clinicians hours each week.",
        "Shared care records need national standards before local investment.",
        "Patients repeat their history at every door because shared care records are patchy.",
    ],
}


def worded_corpus(n: int = 60) -> list[CommentInput]:
    names = sorted(WORDED)
    return [
        CommentInput(f"W{i:03d}", WORDED[names[i % 4]][(i // 4) % 5], "agree") for i in range(n)
    ]


@pytest.fixture(scope="module")
def worded() -> Coding:
    return code_comments(worded_corpus())


def test_labels_are_noun_phrases_naming_the_planted_points(coding: Coding) -> None:
    named = {
        "pool": ("pool", "budget"),
        "backfill": ("protected time", "backfill", "gp"),
        "pandemic": ("pandemic", "reorganis", "timing"),
        "data sharing": ("data", "record"),
    }
    for word, names in named.items():
        label = theme_of(coding, word).label
        assert len(label.split()) >= 2, label  # a heading, not a bare word
        assert any(n in label.lower() for n in names), (word, label)
    for theme in coding.themes:
        words = theme.label.lower().split()
        assert words[0] not in NEVER_AT_EDGES and words[-1] not in NEVER_AT_EDGES, theme.label
        assert not words[-1].endswith("ly"), theme.label


def test_labels_widen_to_the_wording_most_members_used(worded: Coding) -> None:
    labels = {t.label for t in worded.themes}
    assert "Pooled budgets for health and social care" in labels, labels
    assert "Workforce levers for the ICS" in labels, labels  # acronym kept upper case


def test_a_clause_members_repeat_is_not_made_a_label(worded: Coding) -> None:
    estates = theme_of(worded, "estates")
    assert "estates backlog" in estates.label.lower(), estates.label
    assert not NEVER_AT_EDGES & set(estates.label.lower().split()), estates.label


def test_names_and_acronyms_keep_their_capitals() -> None:
    comments = [
        CommentInput(f"N{i:02d}", text)
        for i, text in enumerate(
            [
                "Specialised commissioning from NHS England should move to the ICS in stages.",
                "We want specialised commissioning from NHS England delegated with its staff.",
                "Delegating specialised commissioning from NHS England needs a clear timetable.",
                "GP contracts and PCN funding should stay national.",
                "Keep GP contracts and PCN funding out of local negotiation.",
                "Local variation in GP contracts and PCN funding would be a mistake.",
            ]
            * 2
        )
    ]
    labels = [t.label for t in code_comments(comments).themes]
    assert any("NHS England" in label for label in labels), labels
    assert any("GP" in label or "PCN" in label for label in labels), labels
