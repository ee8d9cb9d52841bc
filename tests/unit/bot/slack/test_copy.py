"""Message copy comes from prompts/messages/: every message renders, and what a user typed is
escaped there, so rewording needs no code change and can never ping a channel."""

from __future__ import annotations

from jinja2.runtime import Macro

from bot.slack.copy import _environment, say


def test_every_command_message_renders_and_escapes_what_users_typed() -> None:
    module = _environment().get_template("messages/commands.j2").module
    macros = {name: m for name, m in vars(module).items() if isinstance(m, Macro)}
    assert {"usage", "unknown", "closed", "export_sent", "throttled"} <= set(macros)
    for name, macro in macros.items():
        values = {arg: "<!channel>" for arg in macro.arguments}
        if "known" in values:
            values["known"] = ["help"]
        if "files" in values:
            values["files"] = ["a.docx"]
        if "formats" in values:
            values["formats"] = ["docx"]
        text = say("commands", name, **values)
        assert text and "\n" not in text, name
        if any(arg in ("name", "consultation_id", "fmt") for arg in macro.arguments):
            assert "<!channel>" not in text and "&lt;!channel&gt;" in text, name


def test_the_unknown_subcommand_reply_lists_the_known_ones() -> None:
    text = say("commands", "unknown", name="frobnicate", known=["help", "list"])
    assert text == "I don't know `frobnicate`. Try one of: `help`, `list`."
