"""The composition root: the one place that builds the Bolt app and wires every handler group.

It is the only module in `bot/` that knows `handlers/` exists; the domain never imports listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import Engine, select

import handlers
from bot.config import BOT_SCOPES, Settings
from bot.db import Database, make_engine, make_session_factory, unit_of_work
from bot.errors import DatabaseUnavailable, NotYet
from bot.home import posts as home_posts
from bot.installations import BOLT_ROTATES_WITHIN_MINUTES, InstallationStore, StateStore
from bot.models import Workspace
from bot.outbox import Kind
from bot.questions import journal
from bot.questions import posts as question_posts
from bot.questions.intake import AskIntake
from bot.questions.votes import VoteRecorder
from bot.redeliveries import already_handled, claim_event, is_event_id
from bot.reminders import posts as reminder_posts
from bot.run_of_show import posts as run_of_show_posts
from bot.slack.client import make_web_client
from bot.slack.messages import NOT_INSTALLED_HERE, not_set_up_here, notice, something_went_wrong
from bot.slack.sender import Sender
from bot.slack.views import notice_modal
from bot.workspaces import ensure_workspace, find_workspace, is_team_id, mark_installed
from handlers.middleware import Next, StepMiddleware

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a running process holds: settings, database and the Slack client.

    With one workspace (SLACK_BOT_TOKEN), `client` holds its token. Distributed (OAuth installs),
    `client` holds none: it is what Bolt copies for each request's own, and `client_for` gives the
    scheduler and the outbox the token of the workspace a post is for.
    """

    settings: Settings
    engine: Engine
    database: Database
    client: WebClient
    installations: InstallationStore | None = None
    _bot_user_id: str | None = None
    _votes: VoteRecorder | None = None
    _asks: AskIntake | None = None
    _outbox: Sender | None = None
    _teams: dict[int, tuple[str | None, str]] | None = None

    def journals(self) -> Path:
        """Where this host's web processes journal what they acknowledged before storing it."""
        return (Path(self.settings.journal_dir) if self.settings.journal_dir
                else journal.default_directory(self.settings.database_url))

    def votes(self) -> VoteRecorder:
        if self._votes is None:
            self._votes = VoteRecorder(self.database, journal_directory=self.journals() / "votes")
        return self._votes

    def asks(self) -> AskIntake:
        if self._asks is None:
            self._asks = AskIntake(self.database, self.journals() / "asks")
        return self._asks

    def outbox(self) -> Sender:
        """The process's one sender of outbox rows (started by whichever entry point runs it)."""
        if self._outbox is None:
            self._outbox = Sender(self.database, self.client, outbox_kinds(),
                                  client_for=self.client_for if self.installations else None,
                                  posts_per_minute=self.settings.posts_per_minute)
        return self._outbox

    def bot_user_id(self, workspace_id: int | None = None) -> str:
        """The app's own user id in a workspace, so it is never counted as an attendee."""
        if self.installations is not None and workspace_id is not None:
            bot = self._bot_of(workspace_id)
            # No install left: nothing is posted there, so nobody need be told apart from the bot.
            return bot.bot_user_id if bot is not None and bot.bot_user_id else ""
        if self._bot_user_id is None:
            self._bot_user_id = self.client_for(workspace_id).auth_test()["user_id"]
        return self._bot_user_id

    def client_for(self, workspace_id: int | None) -> WebClient:
        """A client holding the token of the workspace a post is for (the one token, undistributed).

        A workspace with no install left gets a client with no token, which Slack answers
        `not_authed`: nothing is posted there with another workspace's token.
        """
        if self.installations is None or workspace_id is None:
            return self.client
        bot = self._bot_of(workspace_id)
        return make_web_client(token=bot.bot_token if bot else None, base_url=self.settings.slack_api_url)

    def workspaces_served(self) -> list[int]:
        """The installed workspaces, for the scheduler's jobs to run one workspace (one token) at a time."""
        with unit_of_work(self.database) as session:
            return list(session.scalars(select(Workspace.id).where(Workspace.uninstalled_at.is_(None))
                                        .order_by(Workspace.id)))

    def _bot_of(self, workspace_id: int):  # type: ignore[no-untyped-def]
        assert self.installations is not None
        teams = self._teams if self._teams is not None else {}
        self._teams = teams
        if workspace_id not in teams:
            # A workspace's team never changes: asked of the database once per process.
            with unit_of_work(self.database) as session:
                workspace = session.get_one(Workspace, workspace_id)
                teams[workspace_id] = (workspace.enterprise_id, workspace.team_id)
        enterprise_id, team_id = teams[workspace_id]
        return self.installations.find_bot(enterprise_id=enterprise_id, team_id=team_id)


def outbox_kinds() -> dict[str, Kind]:
    """Every domain's kinds of post, for the sender: the composition root is where they meet."""
    return {**run_of_show_posts.kinds(), **question_posts.kinds(), **reminder_posts.kinds(), **home_posts.kinds()}


def make_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.database_url)
    database = make_session_factory(engine)
    if not settings.distributed:
        return Runtime(settings=settings, engine=engine, database=database,
                       client=make_web_client(token=settings.require_bot_token(), base_url=settings.slack_api_url))
    client = make_web_client(token=None, base_url=settings.slack_api_url)
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None

    def installed(installation: Installation) -> None:
        with unit_of_work(database) as session:
            mark_installed(session, team_id=installation.team_id, enterprise_id=installation.enterprise_id)

    installations = InstallationStore(client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                                      engine=engine, client=client, on_saved=installed)
    return Runtime(settings=settings, engine=engine, database=database, client=client, installations=installations)


# Enough for every request thread of the server (bot.server.THREADS_PER_WORKER) to have its
# listener running, plus the ones finishing after their ack.
LISTENER_THREADS = 32


def build_app(runtime: Runtime, *, signing_secret: str | None = None, verify_token: bool = True,
              signature_checked: bool = False) -> App:
    """The Bolt app. `signature_checked`: every request reaches it through `bot.web.EventbotWsgi`,
    which has checked Slack's signature over the raw body already (Bolt would hash it again)."""
    settings = runtime.settings
    signing_secret = signing_secret if signing_secret is not None else settings.require_signing_secret()
    common: dict[str, Any] = dict(
        signing_secret=signing_secret,
        client=runtime.client,
        request_verification_enabled=not signature_checked,
        # Bolt runs each listener on this pool and answers Slack when the listener acks. Its default
        # of 5 threads let a few listeners busy after their ack (storing a question, answering
        # through a response_url) hold every other request's ack in the queue.
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"),
        # We answer with our own friendly error instead of Bolt's 404 for unknown requests.
        raise_error_for_unhandled_request=False,
    )
    if runtime.installations is not None:
        app = App(
            **common,
            oauth_settings=OAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=list(BOT_SCOPES),
                redirect_uri=settings.slack_redirect_uri,
                # /slack/install sends the person straight on to Slack's "Allow" page.
                install_page_rendering_enabled=False,
                authorization_url=settings.oauth_authorize_url,
                installation_store=runtime.installations,
                installation_store_bot_only=True,
                # The store refreshes ageing tokens under a row lock; Bolt would refresh without one.
                token_rotation_expiration_minutes=BOLT_ROTATES_WITHIN_MINUTES,
                state_store=StateStore(engine=runtime.engine),
            ),
            user_facing_authorize_error_message=NOT_INSTALLED_HERE,
        )
    else:
        app = App(
            **common,
            # auth.test at start-up: a wrong token or unreachable Slack stops the process at once.
            token_verification_enabled=verify_token,
        )
    app.use(StepMiddleware(_attach_database(runtime)))
    app.use(StepMiddleware(_store_events_before_answering(runtime.database, handlers.STORED_EVENTS)))
    app.use(StepMiddleware(_skip_redelivered_events(runtime.database)))
    app.error(_answer_without_a_500)
    handlers.register_all(app)
    return app


def _attach_database(runtime: Runtime):  # type: ignore[no-untyped-def]
    database = runtime.database
    workspace_ids: dict[str, int] = {}

    def attach_database(body: dict, context: BoltContext, next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        # One token serves one workspace, and Bolt does not compare the team a request comes from
        # with the token's: a request signed for this app from another workspace would otherwise
        # get a workspace row and be served with our token.
        by_token = _authorized_by_token(context)
        stranger = _another_install(context, context.authorize_result) if by_token else None
        if stranger:
            logger.warning("refused a request from %s: eventbot's token belongs to another workspace", stranger)
            return _nothing_done(body)
        context["database"] = database
        context["votes"] = runtime.votes()
        context["asks"] = runtime.asks()
        # For handlers/uninstalling.py: installs to forget, when eventbot is distributed.
        context["installations"] = runtime.installations
        team_id = context.team_id or context.enterprise_id
        if not is_team_id(team_id):
            # Every listener works inside a workspace; Slack names one in everything it sends.
            logger.warning("ignored a %s that names no workspace", body.get("type") or body.get("command") or "request")
            return _nothing_done(body)
        if team_id not in workspace_ids:
            with unit_of_work(database) as session:
                # Only the token's own team gets a row on first contact. A request Bolt did not
                # check against the token belongs to a workspace we already serve, or to none.
                workspace = (ensure_workspace(session, team_id=team_id, enterprise_id=context.enterprise_id)
                             if by_token else find_workspace(session, team_id=team_id))
            if workspace is None:
                logger.warning("ignored a request from %s: eventbot does not serve that workspace", team_id)
                return _nothing_done(body)
            workspace_ids[team_id] = workspace.id
        context["workspace_id"] = workspace_ids[team_id]
        return next()

    return attach_database


def _nothing_done(body: dict) -> BoltResponse:
    if body.get("command"):
        return BoltResponse(status=200, body=not_set_up_here().as_ephemeral())
    if body.get("type") == "view_submission":
        # An empty answer would close the form as if it had been saved.
        return BoltResponse(status=200, body={"response_action": "update",
                                              "view": notice_modal(not_set_up_here())})
    return BoltResponse(status=200, body="")


def _authorized_by_token(context: BoltContext) -> bool:
    """Whether Bolt's authorize result comes from our token (auth.test), so it names the token's team.

    For app_uninstalled and tokens_revoked Bolt skips auth.test and makes the result up from the
    request itself, with no token in it; for Slack's URL checks there is none at all.
    """
    ours = context.authorize_result
    return ours is not None and bool(ours.bot_token or ours.user_token)


def _another_install(context: BoltContext, ours: AuthorizeResult) -> str | None:
    """The team (or org, for an org-wide install) a request names when it is not the token's, else None."""
    if context.is_enterprise_install:
        theirs, expected = context.enterprise_id, ours.enterprise_id
    else:
        theirs, expected = context.team_id, ours.team_id
    return theirs if theirs is not None and theirs != expected else None


def _skip_redelivered_events(database: Database):  # type: ignore[no-untyped-def]
    def skip_redelivered_events(body: dict, context: BoltContext, next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if is_event_id(event_id):
            with unit_of_work(database) as session:
                first_time = claim_event(session, event_id=event_id, team_id=context.team_id)
            if not first_time:
                logger.info("skipping redelivered event %s", event_id)
                return BoltResponse(status=200, body="")
        return next()

    return skip_redelivered_events


def _store_events_before_answering(database: Database, listeners: dict[str, Callable[[dict, BoltContext], None]]):  # type: ignore[no-untyped-def]
    """Events whose listeners store what a person gave (a reflection, a joiner) are handled before
    Slack gets its answer: a 503 when they could not be stored, so that Slack delivers them again.

    Bolt would answer 200 first and run the listener afterwards, and a reflection written while
    the database was down would be lost with nobody told. These listeners only write a row, well
    within Slack's 3 seconds. The event id is recorded as handled only after the listener ran, so a
    crash in between means a redelivery, which the listeners take in their stride (idempotent).
    """

    def store_events_before_answering(body: dict, context: BoltContext, next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        event = body.get("event") if body.get("type") == "event_callback" else None
        listener = listeners.get((event or {}).get("type", ""))
        if listener is None:
            return next()
        event_id = body.get("event_id") if is_event_id(body.get("event_id")) else None
        try:
            if event_id:
                with unit_of_work(database) as session:
                    if already_handled(session, event_id=event_id):
                        return BoltResponse(status=200, body="")
            listener(event, context)
            if event_id:
                with unit_of_work(database) as session:
                    claim_event(session, event_id=event_id, team_id=context.team_id)
        except (DatabaseUnavailable, NotYet) as reason:
            logger.warning("event %s not stored yet (%s); Slack will send it again", event_id, reason)
            return BoltResponse(status=503, body="")
        return BoltResponse(status=200, body="")

    return store_events_before_answering


def _answer_without_a_500(error: Exception, body: dict, logger: logging.Logger) -> BoltResponse:
    """Log the failure and tell the person, rather than answering Slack with a 500.

    A 500 makes Slack show "dispatch_failed" and retry events; the person learns nothing.
    """
    if isinstance(error, DatabaseUnavailable):
        logger.warning("not done, the database is not answering: %s", body.get("command") or body.get("type"))
        if body.get("type") == "event_callback":
            return BoltResponse(status=503, body="")  # Slack delivers it again
        if body.get("command"):
            return BoltResponse(status=200, body=notice(str(error)).as_ephemeral())
        return BoltResponse(status=200, body="")
    logger.exception("listener failed: %s", error, exc_info=error)
    if body.get("command"):
        return BoltResponse(status=200, body=something_went_wrong().as_ephemeral())
    return BoltResponse(status=200, body="")
