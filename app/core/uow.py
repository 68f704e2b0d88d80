"""The unit of work: the one place that commits or rolls back.

A request to the academy is one transaction (as Indico's request handlers
do it): views call services, which only flush; when the view has returned,
the transaction is committed if the response is a success or a redirect and
rolled back otherwise (an error page, a form shown again with its messages).
Command-line commands and jobs use :func:`transaction` the same way.

A view that lets a service refuse (and then shows the page again with the
reason) wraps the call in :func:`attempt`: the refused change is rolled back
to a savepoint, what the request did before stays, and the refusal is kept
for the page.

Work that must only happen once the transaction is committed (enqueueing a
job that reads the new rows) is registered with :func:`after_commit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, g

from ..extensions import db
from .domain import DomainError


def commit() -> None:
    """Commit the session, then run what was registered with :func:`after_commit`."""
    db.session.commit()
    callbacks, g.lms_after_commit, g.lms_commit_batches = g.get("lms_after_commit", []), [], {}
    for callback in callbacks:
        callback()


def rollback() -> None:
    """Roll the session back and forget what waited for a commit."""
    db.session.rollback()
    g.lms_after_commit, g.lms_commit_batches = [], {}


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current transaction has been committed (never if it is rolled back)."""
    g.setdefault("lms_after_commit", []).append(callback)


def commit_batch(name: str, callback: Callable[[list], None]) -> list:
    """A list that gathers what this transaction adds under ``name``, passed to ``callback`` once it commits.

    One callback per transaction however many times it is asked for (mail of a bulk enrolment is queued as
    one batch, not once per person); a rollback forgets the list with the callbacks.
    """
    batches = g.setdefault("lms_commit_batches", {})
    if name not in batches:
        items = batches[name] = []
        after_commit(lambda: callback(items))
    return batches[name]


def finish_request(response):
    """Commit a request that succeeded (2xx, 3xx); roll back any other."""
    if response.status_code < 400:
        commit()
    else:
        rollback()
    return response


def init_blueprint(bp: Blueprint) -> None:
    """Make every request to ``bp`` one unit of work."""
    bp.after_request(finish_request)


@dataclass
class Outcome:
    """What :func:`attempt` saw: the refusal, if the service refused."""

    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@contextmanager
def attempt() -> Iterator[Outcome]:
    """Run a state change that a service may refuse; on refusal undo it alone and keep the reason."""
    outcome = Outcome()
    savepoint = db.session.begin_nested()
    try:
        yield outcome
    except DomainError as exc:
        savepoint.rollback()
        outcome.error = exc
    except BaseException:
        savepoint.rollback()
        raise
    else:
        savepoint.commit()  # releases the savepoint; the request's commit keeps it


@contextmanager
def transaction() -> Iterator[None]:
    """One unit of work outside a request (a command, a job): commit at the end, roll back on any error."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def transactional(func: Callable) -> Callable:
    """Run ``func`` (a command or a job) as one :func:`transaction`."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        with transaction():
            return func(*args, **kwargs)

    return wrapper
