"""The `eventbot` command: how operators start, migrate and inspect the app."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import guard_handlers

EXIT_CONFIG = 2


class StartupError(Exception):
    """Something an operator must fix before the app can start; the message is one line."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_CONFIG
    try:
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        guard_handlers([settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
                        settings.token_key, settings.slack_client_secret])
        # Alembic narrates its plugins and dialect at INFO; `db upgrade` prints the outcome itself.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # APScheduler logs every job run at INFO; failures still come through at WARNING and up.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        return args.run(settings, args) or 0
    except (ConfigError, StartupError) as error:
        print(f"eventbot: {error}", file=sys.stderr)
        return EXIT_CONFIG


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventbot", description="Slack companion for live learning events.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the Slack app over HTTP on $PORT (production)")
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="leave scheduled work to a separate `eventbot worker` process",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="web processes (default $WEB_CONCURRENCY or 1); more than one needs --no-scheduler",
    )
    serve.set_defaults(run=_serve)

    socket = commands.add_parser("socket", help="run the Slack app over Socket Mode (development)")
    socket.add_argument("--no-scheduler", action="store_true", help="leave scheduled work to `eventbot worker`")
    socket.set_defaults(run=_socket)

    worker = commands.add_parser("worker", help="run the scheduler and delivery worker alone")
    worker.set_defaults(run=_worker)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(title="db commands", metavar="DB_COMMAND", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply migrations (default: all of them)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_db_upgrade)
    downgrade = db_commands.add_parser("downgrade", help="revert migrations to a revision")
    downgrade.add_argument("revision")
    downgrade.set_defaults(run=_db_downgrade)
    current = db_commands.add_parser("current", help="show the database's revision")
    current.set_defaults(run=_db_current)

    demo = commands.add_parser("demo", help="an offline rehearsal of a session against a local Slack")
    demo.set_defaults(run=_demo)

    event = commands.add_parser("event", help="programme files: check them, import them")
    event_commands = event.add_subparsers(title="event commands", metavar="EVENT_COMMAND", required=True)
    plan = event_commands.add_parser("plan", help="check a programme file and print everything the bot will post")
    plan.add_argument("file", type=Path)
    plan.set_defaults(run=_event_plan)
    import_ = event_commands.add_parser("import", help="set an event up in Slack from a programme file")
    import_.add_argument("file", type=Path)
    import_.add_argument("--channel", help="the event channel's ID (C…); overrides `channel` in the file")
    import_.set_defaults(run=_event_import)
    return parser


def _require_reachable(settings: Settings) -> None:
    """A connection first, so a database that is down is one line and a failing migration keeps its traceback."""
    from bot import db

    try:
        db.connect_once(settings.database_url)
    except Exception as error:  # the driver's own words are the most useful here
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise StartupError(f"cannot reach the database at DATABASE_URL: {first_line}") from None


def _require_migrated(settings: Settings) -> None:
    from alembic.script import ScriptDirectory

    from bot import db

    _require_reachable(settings)
    current = db.current_revision(settings.database_url)
    head = ScriptDirectory.from_config(db.alembic_config(settings.database_url)).get_current_head()
    if current != head:
        raise StartupError("the database schema is not up to date: run `eventbot db upgrade` first")


def _require_slack_credentials(settings: Settings) -> None:
    """One workspace's token, or (distributed) the client id and secret load_settings checked."""
    if not settings.distributed:
        settings.require_bot_token()


def _verify_slack(settings: Settings) -> None:
    from slack_sdk.errors import SlackApiError

    if settings.distributed:
        return  # no token of its own: each install's is checked by Bolt on every request

    from bot.slack.client import make_web_client

    client = make_web_client(token=settings.require_bot_token(), base_url=settings.slack_api_url)
    try:
        client.auth_test()
    except SlackApiError as error:
        raise StartupError(
            f"Slack refused SLACK_BOT_TOKEN ({error.response.get('error')}): reinstall the app and copy the new token"
        ) from None
    except Exception as error:
        raise StartupError(f"cannot reach Slack at {settings.slack_api_url}: {error}") from None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    settings.require_signing_secret()
    _require_slack_credentials(settings)
    if args.workers < 1:
        raise StartupError("--workers must be at least 1")
    if args.workers > 1 and not args.no_scheduler:
        raise StartupError(
            "more than one web process would start more than one scheduler: "
            "add --no-scheduler and run `eventbot worker` once"
        )
    _require_migrated(settings)
    _verify_slack(settings)
    from bot.server import serve

    serve(settings, workers=args.workers, run_scheduler=not args.no_scheduler)
    return 0


def _socket(settings: Settings, args: argparse.Namespace) -> int:
    app_token = settings.require_app_token()
    _require_migrated(settings)
    _verify_slack(settings)
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_app, make_runtime
    from bot.scheduler import start_in_background

    runtime = make_runtime(settings)
    # Socket Mode requests are not signed (the app token authenticates the connection).
    app = build_app(runtime, signing_secret="", verify_token=False)
    if not args.no_scheduler:
        start_in_background(runtime)
    SocketModeHandler(app, app_token).start()
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    _require_slack_credentials(settings)
    _require_migrated(settings)
    # As `serve` does: a revoked token or an unreachable Slack is one clear line at start-up, not a
    # worker that runs and fails every post.
    _verify_slack(settings)
    from bot.app import make_runtime
    from bot.scheduler import run_forever

    run_forever(make_runtime(settings))
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot import db

    _require_reachable(settings)
    db.upgrade(settings.database_url, args.revision)
    print(f"eventbot: database at revision {db.current_revision(settings.database_url)}")
    return 0


def _db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot import db

    _require_reachable(settings)
    db.downgrade(settings.database_url, args.revision)
    print(f"eventbot: database at revision {db.current_revision(settings.database_url)}")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.rehearsal import run

    return run()


def _event_plan(settings: Settings, args: argparse.Namespace) -> int:
    from bot.programme.parsing import load_programme
    from bot.programme.plan import format_plan
    from bot.programme.schema import ProgrammeError

    try:
        programme = load_programme(args.file)
    except ProgrammeError as error:
        print(error, file=sys.stderr)
        return 1
    print(format_plan(programme))
    return 0


def _event_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import make_runtime
    from bot.errors import UserError
    from bot.programme.importing import import_programme
    from bot.programme.parsing import load_programme
    from bot.programme.schema import ProgrammeError

    try:
        programme = load_programme(args.file)
    except ProgrammeError as error:
        print(error, file=sys.stderr)
        return 1
    settings.require_bot_token()
    _require_migrated(settings)
    runtime = make_runtime(settings)
    try:
        imported = import_programme(
            runtime.database, runtime.client, programme, channel_id=args.channel, now=datetime.now(timezone.utc)
        )
    except UserError as error:
        print(f"eventbot: {error}", file=sys.stderr)
        return 1
    print(f"eventbot: imported {imported.title!r} into channel {imported.channel_id} (event {imported.event_id})")
    for reference, slack_id in imported.people.items():
        if reference != slack_id:
            print(f"  {reference} is {slack_id}")
    return 0


def _db_current(settings: Settings, args: argparse.Namespace) -> int:
    from bot import db

    _require_reachable(settings)
    print(db.current_revision(settings.database_url) or "empty (run `eventbot db upgrade`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
