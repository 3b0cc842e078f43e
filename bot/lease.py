"""Exactly one scheduler: a lease row in our own database, held by one process at a time.

APScheduler 3 keeps its jobs in memory, one scheduler per process, and never shares a job store
(its FAQ: sharing one gives duplicate or missed runs). So "one scheduler" is enforced here: the
process holding the `scheduler` row in `scheduler_leases` runs the scheduled jobs and renews the
lease every few seconds; any other process that starts a scheduler (a second `eventbot worker`,
or `eventbot serve` started without `--no-scheduler` while a worker runs) stays on standby, says
so once in its log, and takes over when the holder stops:

- at once when the holder released the lease (a clean stop) or is a dead process on this same
  machine (a `kill -9` followed by a restart: the process id and its start time no longer match);
- otherwise when the lease expires (`LEASE_SECONDS` after the holder's last renewal).

A lease, not a PostgreSQL advisory lock, so SQLite deployments get the same guarantee. Delivery
workers do not need the lease: they claim delivery rows with row locks (bot/deliveries.py), so
standby processes help send and no two processes send the same delivery.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Database, unit_of_work
from bot.errors import DatabaseUnavailable
from bot.models import SchedulerLease

logger = logging.getLogger(__name__)

SCHEDULER = "scheduler"
LEASE_SECONDS = 30
RENEW_SECONDS = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# --- who this process is, and whether another one still lives -------------------------------------


def _pid_namespace() -> str:
    try:
        # "pid:[4026531836]": processes in two containers on one host never share this.
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return "-"


def _start_ticks(pid: int) -> str | None:
    """When a process started (clock ticks since boot): tells a reused process id from the original."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name (field 2) may hold spaces and brackets: split after its last ")".
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_identity() -> str:
    """`host:pid-namespace:pid:start`, at most 56 characters (fits `deliveries.claimed_by`)."""
    host = socket.gethostname()[:24]
    pid = os.getpid()
    return f"{host}:{_pid_namespace()}:{pid}:{_start_ticks(pid) or '-'}"[:56]


def is_dead_local_process(identity: str | None) -> bool:
    """True only when `identity` names a process on this machine that is certainly gone.

    Anything we cannot be sure of (another host, another PID namespace, no /proc) counts as
    alive, so the caller waits for the lease to expire instead of stealing it.
    """
    if not identity:
        return False
    parts = identity.split("#", 1)[0].split(":")
    if len(parts) != 4:
        return False
    host, namespace, pid_text, ticks = parts
    if host != socket.gethostname()[:24] or namespace != _pid_namespace() or namespace == "-":
        return False
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return ticks != _start_ticks(pid)
    current = _start_ticks(pid)
    if current is None:
        return not os.path.exists(f"/proc/{pid}")
    return current != ticks


# --- the lease -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseState:
    held: bool  # by us, after this call
    holder: str | None  # whoever holds it now
    expires_at: datetime
    took_over_from: str | None = None  # the holder we replaced, when we just took the lease from one


def acquire_or_renew(session: Session, *, holder: str, now: datetime, name: str = SCHEDULER,
                     seconds: int = LEASE_SECONDS) -> LeaseState:
    """Take the lease if it is free, expired, ours, or held by a dead process here; else report who has it."""
    if session.get(SchedulerLease, name) is None:
        try:
            with session.begin_nested():
                session.add(SchedulerLease(name=name, holder=None, expires_at=_EPOCH))
                session.flush()
        except IntegrityError:
            pass  # another process made the row at the same moment
    until = now + timedelta(seconds=seconds)
    free = or_(SchedulerLease.holder.is_(None), SchedulerLease.holder == holder, SchedulerLease.expires_at < now)
    current = session.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at).where(SchedulerLease.name == name)
    ).one()
    condition = free
    if current.holder not in (None, holder) and is_dead_local_process(current.holder):
        logger.info("scheduler lease holder %s is no longer running; taking over", current.holder)
        condition = or_(free, SchedulerLease.holder == current.holder)
    won = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, condition)
        .values(holder=holder, expires_at=until,
                acquired_at=case((SchedulerLease.holder == holder, SchedulerLease.acquired_at), else_=now))
        .execution_options(synchronize_session=False)
    ).rowcount
    if won:
        return LeaseState(held=True, holder=holder, expires_at=until,
                          took_over_from=current.holder if current.holder not in (None, holder) else None)
    row = session.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at).where(SchedulerLease.name == name)
    ).one()
    return LeaseState(held=False, holder=row.holder, expires_at=row.expires_at)


def release(session: Session, *, holder: str, now: datetime, name: str = SCHEDULER) -> bool:
    """Give the lease up (a clean stop), so a standby process takes over at its next renewal."""
    return bool(session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(holder=None, expires_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount)


class SchedulerSingleton:
    """This process's view of the lease: `active` says whether to run the scheduled jobs now."""

    def __init__(self, database: Database, *, identity: str | None = None,
                 on_take_over: Callable[[Session, str, datetime], object] | None = None) -> None:
        self.database = database
        self.identity = identity or process_identity()
        # Called in the transaction that takes the lease from a holder that stopped renewing, with
        # that holder's identity: the outbox takes back its claims then, not when they run out.
        self.on_take_over = on_take_over
        self.active = False
        self._reported: tuple[bool, str | None] | None = None

    def renew(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        try:
            with unit_of_work(self.database) as session:
                state = acquire_or_renew(session, holder=self.identity, now=now)
                if state.took_over_from and self.on_take_over is not None:
                    self.on_take_over(session, state.took_over_from, now)
        except DatabaseUnavailable:
            # Without the database we cannot know who leads; stop leading rather than risk two.
            if self.active:
                logger.warning("could not renew the scheduler lease; scheduled jobs pause until it can")
            self.active = False
            self._reported = None
            return False
        except Exception:
            logger.exception("could not renew the scheduler lease; scheduled jobs pause until it can")
            self.active = False
            self._reported = None
            return False
        self.active = state.held
        report = (state.held, None if state.held else state.holder)
        if report != self._reported:
            self._reported = report
            if state.held:
                logger.info("scheduler lease held by this process (%s): it runs the scheduled jobs", self.identity)
            else:
                logger.warning(
                    "another scheduler is running (%s, lease until %s): this process stands by, runs no "
                    "scheduled jobs, still helps send reminder deliveries, and takes over if that one stops",
                    state.holder, state.expires_at.isoformat(timespec="seconds"),
                )
        return self.active

    def release(self) -> None:
        if not self.active:
            return
        self.active = False
        try:
            with unit_of_work(self.database) as session:
                release(session, holder=self.identity, now=datetime.now(timezone.utc))
            logger.info("scheduler lease released")
        except Exception:
            logger.exception("could not release the scheduler lease; it expires in %d s", LEASE_SECONDS)
