"""Settings read from the environment and `.env`.

Every setting is read here and nowhere else, so that a missing or malformed value stops start-up
with one line that names the variable and says how to fix it, instead of a traceback from deep
inside Bolt or SQLAlchemy minutes later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from dotenv import load_dotenv

from bot import clock

SLACK_DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_SQLITE_FILE = "eventbot.sqlite3"
DEFAULT_PORT = 3000
DEFAULT_HOST = "0.0.0.0"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for an operator."""


@dataclass(frozen=True)
class Settings:
    # Secrets stay out of repr: settings printed in a traceback or a debug line must not carry them.
    slack_bot_token: str | None = field(repr=False)
    slack_signing_secret: str | None = field(repr=False)
    slack_app_token: str | None = field(repr=False)
    slack_api_url: str
    database_url: str
    port: int
    default_timezone: str
    log_level: str
    # Who may set events up besides workspace admins and owners (bot/events/slack.py WhoMayOrganise).
    organisers: tuple[str, ...] = ()
    organiser_group: str | None = None
    host: str = "0.0.0.0"
    # Encrypts workspaces' bot tokens at rest (bot/tokens.py); without it none are stored.
    token_key: str | None = field(default=None, repr=False)
    # Distribution (OAuth installs, bot/installations.py): set both, and no SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    # Only when the app lists several redirect URLs; else Slack uses the one it has.
    slack_redirect_uri: str | None = None

    @property
    def distributed(self) -> bool:
        """OAuth installs, each workspace with its own token; else one workspace, SLACK_BOT_TOKEN."""
        return self.slack_client_id is not None

    @property
    def oauth_authorize_url(self) -> str:
        """Where "Add to Slack" sends a person: beside the Web API (slack.com/api/ → slack.com/oauth/v2/authorize)."""
        base = self.slack_api_url[:-len("api/")] if self.slack_api_url.endswith("/api/") else self.slack_api_url
        return base + "oauth/v2/authorize"
    # The sender's pace for chat.postMessage, per process (bot/slack/sender.py POSTS_PER_MINUTE).
    posts_per_minute: int = 600
    # Where web processes journal clicks and questions they acknowledged before storing them
    # (bot/questions/journal.py); by default a folder per database in the system's temporary
    # directory. Every web process of one eventbot on a host must share it.
    journal_dir: str | None = None

    def require_bot_token(self) -> str:
        if not self.slack_bot_token:
            if self.distributed:
                raise ConfigError("this command needs one workspace's SLACK_BOT_TOKEN; with SLACK_CLIENT_ID set, "
                                  "eventbot holds a token per installed workspace instead")
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your "
                "Slack app's OAuth & Permissions page into .env or the environment"
            )
        return self.slack_bot_token

    def require_signing_secret(self) -> str:
        if not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your Slack app's "
                "Basic Information page into .env or the environment"
            )
        return self.slack_signing_secret

    def require_app_token(self) -> str:
        if not self.slack_app_token:
            raise ConfigError(
                "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) with "
                "the connections:write scope, made on your Slack app's Basic Information page"
            )
        return self.slack_app_token


def load_settings(env: dict[str, str] | None = None, *, dotenv_path: str | Path | None = None) -> Settings:
    """Read settings; `.env` fills in only what the real environment does not set."""
    if env is None:
        # override=False: a variable set by the platform (Heroku config vars, CI) always wins.
        load_dotenv(dotenv_path=dotenv_path or Path.cwd() / ".env", override=False)
        env = dict(os.environ)

    def get(name: str) -> str | None:
        value = env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    bot_token = get("SLACK_BOT_TOKEN")
    if bot_token and not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb- (not a user or app token)")
    app_token = get("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    signing_secret = get("SLACK_SIGNING_SECRET")
    if signing_secret and not re.fullmatch(r"[0-9A-Za-z]+", signing_secret):
        raise ConfigError(
            "SLACK_SIGNING_SECRET is malformed: it is the hexadecimal Signing Secret from your "
            "Slack app's Basic Information page, without quotes or spaces"
        )

    client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
    _check_distribution(client_id, client_secret, bot_token=bot_token, token_key=get(TOKEN_KEY_VARIABLE))
    redirect_uri = get("SLACK_REDIRECT_URI")
    if redirect_uri and not re.match(r"^https?://[^/]+/", redirect_uri):
        raise ConfigError("SLACK_REDIRECT_URI must be the full URL of /slack/oauth_redirect, such as "
                          "https://YOUR-HOST/slack/oauth_redirect")

    return Settings(
        slack_bot_token=bot_token,
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_redirect_uri=redirect_uri,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=_api_url(get("SLACK_API_URL")),
        database_url=normalise_database_url(get("DATABASE_URL")),
        port=_port(get("PORT")),
        host=_host(get("HOST")),
        default_timezone=_timezone(get("EVENTBOT_DEFAULT_TIMEZONE")),
        log_level=_log_level(get("LOG_LEVEL")),
        organisers=_organisers(get("EVENTBOT_ORGANISERS")),
        organiser_group=_organiser_group(get("EVENTBOT_ORGANISER_GROUP")),
        token_key=_token_key(get(TOKEN_KEY_VARIABLE)),
        posts_per_minute=_posts_per_minute(get("EVENTBOT_POSTS_PER_MINUTE")),
        journal_dir=get("EVENTBOT_JOURNAL_DIR") or None,
    )


TOKEN_KEY_VARIABLE = "EVENTBOT_TOKEN_KEY"

# The bot scopes an install asks for: manifest.yml's oauth_config.scopes.bot, which a test compares.
BOT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "users:read", "users:read.email", "usergroups:read",
              "channels:read", "channels:join", "channels:history", "groups:read", "groups:history", "files:write",
              "files:read")


def _check_distribution(client_id: str | None, client_secret: str | None, *, bot_token: str | None,
                        token_key: str | None) -> None:
    if client_id is None and client_secret is None:
        return
    if client_id is None or client_secret is None:
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(f"{missing} is not set: OAuth installs need both the Client ID and the Client Secret "
                          "from your Slack app's Basic Information page")
    if not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise ConfigError("SLACK_CLIENT_ID is malformed: it is the Client ID from your Slack app's Basic Information "
                          "page, two numbers joined by a dot")
    if not re.fullmatch(r"[0-9A-Za-z]+", client_secret):
        raise ConfigError("SLACK_CLIENT_SECRET is malformed: it is the hexadecimal Client Secret from your Slack "
                          "app's Basic Information page, without quotes or spaces")
    if bot_token:
        raise ConfigError("SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use SLACK_BOT_TOKEN for one workspace, "
                          "or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for installs through /slack/install, not both")
    if not token_key:
        raise ConfigError(f"{TOKEN_KEY_VARIABLE} is not set: with SLACK_CLIENT_ID, every install's token is stored, "
                          "and eventbot stores none unencrypted")


def token_key(env: dict[str, str] | None = None) -> str | None:
    """The key that encrypts stored tokens, read on its own: the database layer needs it without the
    rest of the settings (migrations, the CLI's database commands)."""
    value = (os.environ if env is None else env).get(TOKEN_KEY_VARIABLE, "").strip()
    return _token_key(value or None)


def _token_key(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        Fernet(value.encode())
    except (ValueError, TypeError):
        # The key itself is never echoed: it is a secret.
        raise ConfigError(
            f"{TOKEN_KEY_VARIABLE} is malformed: it is a Fernet key (44 characters of URL-safe base64); make one with "
            "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
        ) from None
    return value


def normalise_database_url(url: str | None) -> str:
    """Map what hosting platforms hand out to the driver we ship (psycopg 3)."""
    if url is None:
        return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ConfigError(
        "DATABASE_URL must start with postgres://, postgresql:// or sqlite:/// "
        f"(got {url.split(':', 1)[0]}://…); leave it unset to use a local SQLite file"
    )


def _api_url(value: str | None) -> str:
    if value is None:
        return SLACK_DEFAULT_API_URL
    if not re.match(r"^https?://[^/]+", value):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL such as {SLACK_DEFAULT_API_URL}")
    # slack_sdk joins method names straight onto the base URL.
    return value if value.endswith("/") else value + "/"


def _host(value: str | None) -> str:
    """The address `serve` listens on: every interface by default (a platform's router in front),
    127.0.0.1 behind a local proxy."""
    if value is None or not value.strip():
        return DEFAULT_HOST
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]", value):
        raise ConfigError(f"HOST must be an address or host name such as 0.0.0.0 or 127.0.0.1 (got {value!r})")
    return value


def _posts_per_minute(value: str | None) -> int:
    if value is None:
        return 600
    if not value.isdigit() or not 0 < int(value) <= 60_000:
        raise ConfigError("EVENTBOT_POSTS_PER_MINUTE must be a whole number of posts a minute, 1 to 60000")
    return int(value)


def _port(value: str | None) -> int:
    if value is None:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"PORT must be a number between 1 and 65535 (got {value!r})")
    return int(value)


def _timezone(value: str | None) -> str:
    name = value or "Europe/London"
    try:
        clock.zone(name)
    except ValueError:
        raise ConfigError(
            f"EVENTBOT_DEFAULT_TIMEZONE {name!r} is not an IANA time zone name such as Europe/London"
        ) from None
    return name


def _log_level(value: str | None) -> str:
    level = (value or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {value!r})")
    return level


# Slack user IDs start with U (or W in Enterprise Grid); user group IDs with S.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


def _organisers(value: str | None) -> tuple[str, ...]:
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    wrong = [name for name in names if not _USER_ID.fullmatch(name)]
    if wrong:
        raise ConfigError(
            "EVENTBOT_ORGANISERS must be Slack user IDs separated by commas, such as U0123ABCD,U0456EFGH "
            f"(from each person's profile: ⋮ → Copy member ID), not names or @mentions (got {wrong[0]!r})"
        )
    return tuple(dict.fromkeys(names))


def _organiser_group(value: str | None) -> str | None:
    if value is not None and not _GROUP_ID.fullmatch(value):
        raise ConfigError(
            "EVENTBOT_ORGANISER_GROUP must be one Slack user group ID such as S0123ABCD, "
            f"not the group's @handle or name (got {value!r})"
        )
    return value
