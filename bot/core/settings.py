"""Configuration from the environment and `.env` (DESIGN §4)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where a user finds each required value: said in the one-line error when it is missing.
WHERE_TO_GET = {
    "SLACK_BOT_TOKEN": "api.slack.com/apps -> your app -> OAuth & Permissions -> Bot User OAuth Token",
    "SLACK_SIGNING_SECRET": "api.slack.com/apps -> your app -> Basic Information -> Signing Secret",
    "SLACK_APP_TOKEN": "api.slack.com/apps -> your app -> Basic Information -> App-Level Tokens "
    "(scope connections:write)",
}


class MissingSetting(Exception):
    """A value the chosen mode needs is not set; the message is one line for the user."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    database_url: str = Field(default="sqlite+aiosqlite:///consultbot.db", alias="DATABASE_URL")
    directory_path: str | None = Field(default=None, alias="CONSULTBOT_DIRECTORY")
    timezone: str = Field(default="Europe/London", alias="CONSULTBOT_TIMEZONE")
    # Whose views the draft response gives, e.g. "the NHS Confederation" ("our members" if unset).
    organisation: str | None = Field(default=None, alias="CONSULTBOT_ORGANISATION")
    anon_secret: SecretStr | None = Field(default=None, alias="CONSULTBOT_ANON_SECRET")
    # In anonymous consultations, the smallest group (e.g. a region) shown on its own.
    min_group: int = Field(default=5, ge=1, alias="CONSULTBOT_MIN_GROUP")
    llm_base_url: str | None = Field(default=None, alias="LLM_BASE_URL")
    llm_model: str | None = Field(default=None, alias="LLM_MODEL")
    llm_api_key: SecretStr | None = Field(default=None, alias="LLM_API_KEY")

    def require(self, *names: str) -> None:
        """Raise MissingSetting naming the first required variable that is unset."""
        fields = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_APP_TOKEN": self.slack_app_token,
        }
        for name in names:
            value = fields[name]
            if value is None or not value.get_secret_value().strip():
                raise MissingSetting(
                    f"{name} is not set; get it from {WHERE_TO_GET[name]} "
                    "and put it in the environment or .env"
                )

    def require_for_run(self, *, http: bool) -> None:
        self.require("SLACK_BOT_TOKEN")
        if http:
            self.require("SLACK_SIGNING_SECRET")
        else:
            self.require("SLACK_APP_TOKEN")
