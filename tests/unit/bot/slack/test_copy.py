"""Message copy comes from prompts/messages/: every message renders, and what a user typed is
escaped there, so rewording needs no code change and can never ping a channel."""

from __future__ import annotations

from jinja2.runtime import Macro

from bot.slack.copy import _environment, say

USER_TYPED = {"name", "consultation_id", "fmt"}


def test_every_command_message_renders_and_escapes_what_users_typed() -> None:
    module = _environment().get_template("messages/commands.j2").module
    macros = {name: m for name, m in vars(module).items() if isinstance(m, Macro)}
    assert {"usage", "unknown", "closed", "export_sent", "throttled"} <= set(macros)
    for name, macro in macros.items():
        # What users type (ids, formats, subcommand names) is hostile; the rest is ours.
        values = {arg: "<!channel>" if arg in USER_TYPED else "x" for arg in macro.arguments}
        if "known" in values:
            values["known"] = ["help"]
        if "files" in values:
            values["files"] = ["a.docx"]
        if "formats" in values:
            values["formats"] = ["docx"]
        if "failures" in values:
            values["failures"] = [("C1", "not_in_channel")]
        text = say("commands", name, **values)
        assert text and ("\n" not in text or name == "launch_failed"), name
        if USER_TYPED & set(macro.arguments):
            assert "<!channel>" not in text and "&lt;!channel&gt;" in text, name


def test_the_unknown_subcommand_reply_lists_the_known_ones() -> None:
    text = say("commands", "unknown", name="frobnicate", known=["help", "list"])
    assert text == "I don't know `frobnicate`. Try one of: `help`, `list`."


def test_a_partial_launch_says_which_channels_failed_and_what_to_do() -> None:
    text = say(
        "commands",
        "launch_failed",
        consultation_id="ic",
        sent=1,
        total=3,
        failures=[("C1", "not_in_channel"), ("C2", "is_archived")],
    )
    assert text.splitlines() == [
        ":warning: `ic` posted to 1 of 3 networks. These failed:",
        "• <#C1>: `not_in_channel` — invite the bot to the channel, then launch again",
        "• <#C2>: `is_archived` — the channel is archived",
    ]


def test_every_reply_renders_and_titles_fit_a_modal() -> None:
    module = _environment().get_template("messages/replies.j2").module
    macros = {name: m for name, m in vars(module).items() if isinstance(m, Macro)}
    assert {"try_again", "not_saved", "consultation_created", "answer_sent_to"} <= set(macros)
    for name, macro in macros.items():
        values = {arg: "<!channel>" for arg in macro.arguments}
        text = say("replies", name, **values)
        assert text and "<!channel>" not in text, name
        if name.startswith("title_"):
            assert len(text) <= 24, name  # Slack's limit on a modal's title
