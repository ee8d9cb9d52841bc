"""Configuration from the environment and `.env` (docs/contracts.md, Configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.core.settings import MissingSetting, Settings

VARIABLES = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "CONSULTBOT_DIRECTORY",
    "CONSULTBOT_TIMEZONE",
    "CONSULTBOT_ANON_SECRET",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_API_KEY",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No consultbot variables set and no `.env` in the working directory."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_are_those_of_the_design() -> None:
    settings = Settings()
    assert settings.slack_bot_token is None
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite+aiosqlite:///consultbot.db"
    assert settings.directory_path is None
    assert settings.timezone == "Europe/London"
    assert settings.anon_secret is None
    assert settings.llm_base_url is None
    assert settings.llm_model is None
    assert settings.llm_api_key is None


def test_environment_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api/")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/consultbot")
    monkeypatch.setenv("CONSULTBOT_DIRECTORY", "/etc/consultbot/directory.yaml")
    monkeypatch.setenv("CONSULTBOT_TIMEZONE", "Europe/Dublin")
    monkeypatch.setenv("LLM_BASE_URL", "http://llm.local/v1")
    monkeypatch.setenv("LLM_MODEL", "small")
    settings = Settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-env"
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.database_url == "postgresql+asyncpg://u@db/consultbot"
    assert settings.directory_path == "/etc/consultbot/directory.yaml"
    assert settings.timezone == "Europe/Dublin"
    assert settings.llm_base_url == "http://llm.local/v1"
    assert settings.llm_model == "small"


def test_dotenv_in_the_working_directory_is_read(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-dotenv\n"
        "SLACK_SIGNING_SECRET=shh\n"
        "DATABASE_URL=sqlite+aiosqlite:///from-dotenv.db\n"
        "CONSULTBOT_TIMEZONE=Europe/Paris\n",
        encoding="utf-8",
    )
    settings = Settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-dotenv"
    assert settings.database_url == "sqlite+aiosqlite:///from-dotenv.db"
    assert settings.timezone == "Europe/Paris"
    settings.require_for_run(http=True)  # everything HTTP mode needs came from .env


def test_environment_wins_over_dotenv(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_environment / ".env").write_text("CONSULTBOT_TIMEZONE=Europe/Paris\n", encoding="utf-8")
    monkeypatch.setenv("CONSULTBOT_TIMEZONE", "Europe/Berlin")
    assert Settings().timezone == "Europe/Berlin"


def test_http_mode_without_signing_secret_says_which_variable_and_where_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(MissingSetting) as info:
        Settings().require_for_run(http=True)
    message = str(info.value)
    assert "SLACK_SIGNING_SECRET" in message
    assert "Signing Secret" in message
    assert "api.slack.com/apps" in message
    assert "\n" not in message


def test_run_without_bot_token_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh")
    with pytest.raises(MissingSetting) as info:
        Settings().require_for_run(http=True)
    assert "SLACK_BOT_TOKEN" in str(info.value)
    assert "OAuth" in str(info.value)


def test_socket_mode_needs_the_app_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(MissingSetting) as info:
        Settings().require_for_run(http=False)
    assert "SLACK_APP_TOKEN" in str(info.value)
    assert "connections:write" in str(info.value)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    Settings().require_for_run(http=False)


def test_blank_secret_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "   ")
    with pytest.raises(MissingSetting, match="SLACK_SIGNING_SECRET"):
        Settings().require_for_run(http=True)


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "SLACK_BOT_TOKEN": "xoxb-very-secret",
        "SLACK_SIGNING_SECRET": "signing-very-secret",
        "SLACK_APP_TOKEN": "xapp-very-secret",
        "CONSULTBOT_ANON_SECRET": "anon-very-secret",
        "LLM_API_KEY": "sk-very-secret",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    for field in (
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "anon_secret",
        "llm_api_key",
    ):
        assert isinstance(getattr(settings, field), SecretStr)
    shown = repr(settings) + str(settings) + repr(settings.model_dump())
    for value in values.values():
        assert value not in shown
