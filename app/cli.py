"""The ``lms`` command group: ``flask --app wsgi lms …``. Each command is a transaction boundary.

The group is a Flask plugin command (the ``flask.commands`` entry point of the
package) as well as being added to the application's own ``app.cli``: Flask then
finds it without loading the application, so ``lms --help`` and ``lms report
--help`` start as fast as Flask itself, and a command loads the application —
with SQLAlchemy, the models and the extensions — only when it runs
(``with_appcontext``). This module therefore imports nothing at its top but
click and Flask's command line; the rest is imported where a command uses it.
"""

from __future__ import annotations

import atexit
import gc
import logging
import threading
import time
from functools import wraps
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.local import LocalProxy

from .auth.permissions import ROLES
from .core import paths
from .core.ranges import FIRST_YEAR, LAST_YEAR


def _db():
    from .extensions import db

    return db


db = LocalProxy(_db)


def commit() -> None:
    from .core.uow import commit

    commit()


def transaction():
    from .core.uow import transaction

    return transaction()


def transactional(func):
    """Run the command as one transaction (:func:`app.core.uow.transactional`, imported when it runs)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        from .core.uow import transactional

        return transactional(func)(*args, **kwargs)

    return wrapper


@click.group()
def lms():
    """Shegong Academy administration."""
    _quick_exit()


def _quick_exit() -> None:
    """Let the command's process end without collecting everything it imported, object by object.

    A command is one short process holding the application's hundred thousand objects; Python's own
    finalisation spends a quarter of a second or more collecting them just before the operating system
    frees the memory anyway. Frozen at exit (after the command, before that collection), they are left
    to it. What the command opened is still closed as before: the atexit handlers run, and the standard
    streams are flushed by Python itself. Registered once per process (tests run many commands in one).
    """
    if not getattr(_quick_exit, "registered", False):
        atexit.register(gc.freeze)
        _quick_exit.registered = True


@lms.group("db")
def db_group():
    """The academy's own tables: migrate them (a host application's tables and `flask db` are left alone)."""


def _alembic_config():
    from alembic.config import Config

    config = Config(str(paths.migrations() / "alembic.ini"))
    config.set_main_option("script_location", str(paths.migrations()))
    return config


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade_cmd(revision):
    """Upgrade the academy's tables to REVISION (default: the latest)."""
    from alembic import command

    command.upgrade(_alembic_config(), revision)


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade_cmd(revision):
    """Downgrade the academy's tables to REVISION."""
    from alembic import command

    command.downgrade(_alembic_config(), revision)


@db_group.command("current")
@with_appcontext
def db_current_cmd():
    """Show the revision the academy's tables are at."""
    from alembic import command

    command.current(_alembic_config())


@lms.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None, help="jobs at once (LMS_WORKER_CONCURRENCY)")
@with_appcontext
def worker_cmd(concurrency):
    """Run a job worker: it takes jobs from the queue until stopped (make worker)."""
    from celery.signals import worker_process_init

    from .jobs.services import revive_stale_jobs

    app = current_app._get_current_object()

    @worker_process_init.connect(weak=False)
    def _own_connections(**_kwargs):
        # A forked worker process opens its own database connections, never its parent's.
        with app.app_context():
            db.engine.dispose(close=False)

    with transaction():
        revived = revive_stale_jobs()  # what a worker killed mid-job left running
    if revived:
        click.echo(f"jobs queued again: {', '.join(map(str, revived))}")
    # Keep looking: a worker on another machine may die while this one runs.
    threading.Thread(target=_revive_forever, args=(app,), name="lms-revive", daemon=True).start()
    if db.engine.dialect.name == "sqlite":
        # Embedded mode has no Celery beat: the worker runs the notifications' scheduler on a timer.
        threading.Thread(target=_notify_forever, args=(app,), name="lms-notify", daemon=True).start()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # a line per page is not news
    if app.logger.handlers:
        app.logger.propagate = False  # our lines carry the request and job ids; Celery's root handler would repeat them
    sqlite = db.engine.dialect.name == "sqlite"
    argv = [
        "worker",
        "--loglevel=INFO",
        # SQLite takes one writer at a time: one job at a time, in the worker's own process.
        f"--pool={'solo' if sqlite else 'prefork'}",
        f"--concurrency={1 if sqlite else concurrency or app.config['LMS_WORKER_CONCURRENCY']}",
        "--without-gossip",
        "--without-mingle",
    ]
    from .core.queue import celery_for

    celery_for(app).worker_main(argv)


def _revive_forever(app) -> None:
    """Every LMS_JOB_STALE_SECONDS, queue again the jobs whose worker stopped reporting (any machine's)."""
    from .jobs.services import revive_stale_jobs

    while True:
        time.sleep(app.config["LMS_JOB_STALE_SECONDS"])
        try:
            with app.app_context(), transaction():
                revived = revive_stale_jobs()
        except Exception:  # noqa: BLE001 - the database may be away for a moment; try again next time
            app.logger.exception("could not look for stopped jobs")
            continue
        if revived:
            app.logger.warning("jobs whose worker stopped, queued again: %s", revived)


def _notify_forever(app) -> None:
    """Every LMS_NOTIFY_INTERVAL_SECONDS, the scheduler's run (what ``lms scheduler`` does with Celery beat)."""
    from .notices.schedule import run

    while True:
        time.sleep(app.config["LMS_NOTIFY_INTERVAL_SECONDS"])
        try:
            with app.app_context():
                outcome = run()
        except Exception:  # noqa: BLE001 - the database may be away for a moment; try again next time
            app.logger.exception("notifications: the scheduler's run stopped")
            continue
        app.logger.info("notifications: %s", outcome)


@lms.command("scheduler")
@with_appcontext
def scheduler_cmd():
    """Run Celery beat: it has a worker run the notifications' scheduler every LMS_NOTIFY_INTERVAL_SECONDS.

    One per deployment (production); in embedded mode the worker runs the same on a timer.
    """
    from .core.queue import celery_for

    app = current_app._get_current_object()
    celery_for(app).Beat(loglevel="INFO").run()


@lms.group("notify")
def notify_group():
    """Notifications: the scheduler's run, by hand."""


@notify_group.command("run")
@with_appcontext
def notify_run_cmd():
    """Write the reminders and digests due now and deliver the mail waiting (once; safe to repeat)."""
    from .notices.schedule import run

    outcome = run()
    for name, count in outcome["written"].items():
        click.echo(f"{name}: {count} written")
    for state, count in sorted(outcome["mail"].items()):
        click.echo(f"mail {state}: {count}")


def _embedded_store():
    from .core.backup import BackupError
    from .core.storage import FileStorage, storage

    store = storage()
    if not isinstance(store, FileStorage):
        raise BackupError("the files are in an object store: back it up with its own tools (docs/deploy.md)")
    return store


def _revision() -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(
            connection, opts={"version_table": current_app.config["LMS_MIGRATION_VERSION_TABLE"]}
        ).get_current_revision()


@lms.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="the archive to write (.tar.gz)")
@with_appcontext
def backup_cmd(out):
    """Embedded mode: the database and every stored file in one archive (safe while the app runs)."""
    from .core.backup import BackupError, backup

    try:
        manifest = backup(
            database_url=current_app.config["SQLALCHEMY_DATABASE_URI"],
            store=_embedded_store(),
            instance_path=Path(current_app.instance_path),
            out=Path(out),
            revision=_revision(),
        )
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up the database (revision {manifest['revision']}) and {manifest['files']} file(s) to {out}")


@lms.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask (the current database and files are replaced)")
@with_appcontext
def restore_cmd(archive, yes):
    """Embedded mode: put a backup back. Stop the server and the worker first: the database is replaced."""
    from .core.backup import BackupError, restore

    if not yes:
        click.confirm("This replaces the current database and stored files with the backup's. Go on?", abort=True)
    db.session.remove()
    db.engine.dispose()  # no connection may hold the file being replaced
    try:
        manifest = restore(
            archive_path=Path(archive),
            database_url=current_app.config["SQLALCHEMY_DATABASE_URI"],
            store=_embedded_store(),
            instance_path=Path(current_app.instance_path),
        )
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"restored the backup of {manifest['created_at']} (revision {manifest['revision']}, "
        f"{manifest['files']} file(s)); run `lms db upgrade` if this version is newer"
    )


def _read_upload(path: str) -> tuple[str, bytes]:
    file = Path(path)
    limit = current_app.config["LMS_MAX_UPLOAD_BYTES"]
    if file.stat().st_size > limit:
        raise click.ClickException(f"{path}: the file is larger than {limit // 1024 // 1024} MB")
    return file.name, file.read_bytes()


def _run_import(func, path: str) -> object:
    from .core.tabular import ImportRejected, TableError, forget_columns, unread_columns, unread_message

    name, data = _read_upload(path)
    forget_columns()
    try:
        result = func(filename=name, data=data, actor=None, max_rows=current_app.config["LMS_IMPORT_MAX_ROWS"])
    except TableError as exc:
        raise click.ClickException(f"{path}: {exc.message}") from None
    except ImportRejected as exc:
        for err in exc.errors:
            click.echo(f"{path}: row {err.row}, column {err.column}: {err.message}", err=True)
        raise click.ClickException(f"{path}: {len(exc.errors)} error(s); nothing was imported") from None
    if unread_columns():
        click.echo(f"{path}: {unread_message(unread_columns())}", err=True)
    return result


@lms.command("rotate-data-key")
@click.option(
    "--previous-key-env",
    default="LMS_DATA_KEY_PREVIOUS",
    show_default=True,
    help="the environment variable that holds the data key the data is encrypted with now",
)
@with_appcontext
@transactional
def rotate_data_key_cmd(previous_key_env):
    """Re-encrypt ID numbers, supervision notes and signing keys under LMS_DATA_KEY (all or nothing; audited)."""
    import os

    from cryptography.fernet import InvalidToken

    from .audit.services import record_audit
    from .credentials.signing import rekey_issuer_keys
    from .people.services import rekey_people
    from .supervision.services import rekey_notes

    previous = os.environ.get(previous_key_env)
    if not previous:
        raise click.ClickException(f"{previous_key_env} is not set: it must hold the data key in use until now")
    if previous == (current_app.config.get("LMS_DATA_KEY") or current_app.config["SECRET_KEY"]):
        raise click.ClickException(f"{previous_key_env} is the current key: set LMS_DATA_KEY to the new one")
    try:
        people, notes, keys = rekey_people(previous), rekey_notes(previous), rekey_issuer_keys(previous)
    except InvalidToken:
        raise click.ClickException(
            f"{previous_key_env} does not decrypt the stored data: nothing was changed"
        ) from None
    record_audit(
        actor=None,
        action="data_key.rotate",
        entity_type="system",
        entity_id=None,
        after={"people": people, "notes": notes, "issuer_keys": keys},
    )
    click.echo(
        f"re-encrypted {people} ID number(s), {notes} supervision note(s) and {keys} signing key(s)"
        " under the new LMS_DATA_KEY"
    )


@lms.command("import-units")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
@transactional
def import_units_cmd(file):
    """Import units from CSV/XLSX: code,name,kind,parent_code."""
    from .org.imports import import_units

    created, updated = _run_import(import_units, file)
    click.echo(f"units created: {created}, renamed: {updated}")


@lms.command("import-people")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
@transactional
def import_people_cmd(file):
    """Import people from CSV/XLSX: unit_code,name,id_number,phone,category,level."""
    from .people.imports import import_people

    count = _run_import(import_people, file)
    click.echo(f"people imported: {count}")


@lms.command("create-user")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--unit", "unit_code", required=True, help="code of the unit whose subtree the role covers")
@click.option("--person-id", type=int, default=None)
@with_appcontext
@transactional
def create_user_cmd(username, password, role, unit_code, person_id):
    """Create a user with a role scoped to a unit."""
    from .auth.services import AuthError, create_user
    from .org.queries import unit_by_code
    from .people.models import Person

    unit = unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"unknown unit code {unit_code!r}")
    person = None
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is None:
            raise click.ClickException(f"unknown person id {person_id}")
    try:
        user = create_user(username=username, password=password, role=role, unit=unit, person=person)
    except AuthError as exc:
        raise click.ClickException(_auth_refusal(exc)) from None
    click.echo(f"created user {user.username} ({role} of {unit.name})")


def _auth_refusal(exc) -> str:
    """The command line's English text for a refused user or password."""
    from flask_babel import force_locale

    from .auth.passwords import MESSAGES

    with force_locale("en"):
        return str(MESSAGES[str(exc)]) if str(exc) in MESSAGES else str(exc)


def _token_owner(username: str):
    from .auth.queries import user_by_username

    user = user_by_username(username)
    if user is None:
        raise click.ClickException(f"unknown user {username!r}")
    return user


@lms.command("create-token")
@click.option("--username", required=True)
@click.option("--name", default="cli", help="a label to recognise the token by")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="the token stops working after that many days (default: until revoked)",
)
@with_appcontext
@transactional
def create_token_cmd(username, name, expires_in_days):
    """Print a new API token for a user (the last line of output)."""
    from datetime import timedelta

    from .auth.services import create_api_token
    from .core.db import utcnow

    user = _token_owner(username)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    secret = create_api_token(user=user, name=name, expires_at=expires)
    click.echo(f"token for {username}:")
    click.echo(secret)


@lms.command("list-tokens")
@click.option("--username", required=True)
@with_appcontext
@transactional
def list_tokens_cmd(username):
    """List a user's API tokens (never their secret): id, name, created, expires, last used, revoked."""
    from .auth.queries import api_tokens_of
    from .core.templating import local_time

    user = _token_owner(username)
    tokens = api_tokens_of(user)
    if not tokens:
        click.echo(f"{username} has no API tokens")
        return

    def when(value):
        return local_time(value) or "-"

    rows = [("id", "name", "starts with", "created", "expires", "last used", "revoked")]
    rows += [
        (
            str(t.id),
            t.name or "-",
            f"{t.prefix}…",
            when(t.created_at),
            when(t.expires_at),
            when(t.last_used_at),
            when(t.revoked_at),
        )
        for t in tokens
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@lms.command("revoke-token")
@click.option("--username", required=True, help="the token's owner")
@click.option("--id", "token_id", type=int, default=None, help="the token's id (see lms list-tokens)")
@click.option("--name", default=None, help="the token's name, when a single live token has it")
@with_appcontext
@transactional
def revoke_token_cmd(username, token_id, name):
    """Revoke one of a user's API tokens; it stops working at once (audited)."""
    from .auth.queries import api_token_of, api_tokens_of
    from .auth.services import revoke_api_token

    if (token_id is None) == (name is None):
        raise click.UsageError("give exactly one of --id and --name")
    user = _token_owner(username)
    if token_id is not None:
        token = api_token_of(user, token_id)
        if token is None:
            raise click.ClickException(f"{username} has no API token with id {token_id}")
    else:
        named = [t for t in api_tokens_of(user) if t.name == name and t.revoked_at is None]
        if not named:
            raise click.ClickException(f"{username} has no live API token named {name!r}")
        if len(named) > 1:
            ids = ", ".join(str(t.id) for t in named)
            raise click.ClickException(f"{username} has {len(named)} live tokens named {name!r} (ids {ids}); use --id")
        [token] = named
    if token.revoked_at is not None:
        click.echo(f"token {token.id} ({token.name}) of {username} was already revoked")
        return
    revoke_api_token(token=token, actor=None)
    click.echo(f"revoked token {token.id} ({token.name}) of {username}")


@lms.command("set-password")
@click.option("--username", required=True)
@click.password_option(help="the new password (asked for twice, hidden, when not given)")
@click.option("--keep-tokens", is_flag=True, help="leave the user's API tokens working (default: revoke them)")
@with_appcontext
@transactional
def set_password_cmd(username, password, keep_tokens):
    """Set a user's password: signs them out everywhere and revokes their API tokens (audited)."""
    from .auth.services import AuthError, set_password

    user = _token_owner(username)
    try:
        revoked = set_password(user=user, new=password, actor=None, revoke_tokens=not keep_tokens)
    except AuthError as exc:
        raise click.ClickException(_auth_refusal(exc)) from None
    click.echo(f"password of {username} set; every session ended, {revoked} API token(s) revoked")


@lms.command("demo")
@click.option("--force", is_flag=True, help="load even if the database already has units")
@click.option("--if-empty", is_flag=True, help="do nothing (but print the demo logins) if the database has units")
@with_appcontext
@transactional
def demo_cmd(force, if_empty):
    """Load the demo world into an empty database."""
    from .demo.world import DEMO_PASSWORD, DEMO_USERS, DemoError, database_is_empty, load_demo

    if if_empty and not database_is_empty():
        click.echo("the database is not empty: the demo is not loaded again. Demo logins (if it was loaded):")
        for username, label in DEMO_USERS:
            click.echo(f"  {username:<15} {DEMO_PASSWORD}   {label}")
        return
    try:
        summary = load_demo(force=force)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    for line in summary:
        click.echo(line)


@lms.group("content")
def content_group():
    """Course content under course_content/."""


@content_group.command("sync")
@click.option("--path", "root", default=None, help="folder of course folders (default: course_content/ of the project)")
@with_appcontext
@transactional
def content_sync_cmd(root):
    """Load course_content/ into the database (idempotent; all courses or none) — the job, run here."""
    from .jobs.models import Job
    from .jobs.services import submit_job
    from .jobs.tasks import run_job

    folder = Path(root) if root else paths.course_content()
    if not folder.is_dir():
        raise click.ClickException(f"{folder}: no such folder")
    job_id = submit_job(
        kind="training.content_sync", params={"root": str(folder.absolute())}, actor=None, queue=False
    ).id
    commit()  # (read the id before: reading it after the commit would start a transaction the job must wait for)
    run_job(job_id)
    job = db.session.get(Job, job_id, populate_existing=True)
    if job.state != "done":
        errors = (job.result or {}).get("errors", [])
        for err in errors:
            click.echo(err, err=True)
        raise click.ClickException(f"{len(errors)} error(s); nothing was synced" if errors else job.error)
    click.echo("courses created: {created}, updated: {updated}, unchanged: {unchanged}".format(**job.result))


@lms.command("report")
@click.option("--unit", "unit_code", required=True, help="code of the unit whose subtree is reported")
@click.option("--year", type=click.IntRange(FIRST_YEAR, LAST_YEAR), required=True)
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), default="json")
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True), default=None, help="file to write (xlsx needs one)"
)
@with_appcontext
@transactional
def report_cmd(unit_code, year, fmt, out):
    """The bureau's figures and coverage for a unit's subtree and a year."""
    import json

    from .coverage.exports import report_csv, report_xlsx
    from .coverage.queries import strip_ids, unit_report
    from .org.queries import unit_by_code

    unit = unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"unknown unit code {unit_code!r}")
    report = strip_ids(unit_report(unit, year))
    if fmt == "json":
        text = json.dumps(report, ensure_ascii=False, indent=2)
        if out:
            Path(out).write_text(text + "\n", encoding="utf-8")
        else:
            click.echo(text)
    elif fmt == "csv":
        data = report_csv(report)
        if out:
            Path(out).write_bytes(data)
        else:
            click.echo(data.decode("utf-8-sig"), nl=False)
    else:
        if not out:
            raise click.ClickException("--format xlsx needs --out FILE.xlsx")
        Path(out).write_bytes(report_xlsx(report))
        click.echo(f"written {out}")


@lms.group("ledger")
def ledger_group():
    """The hours ledger."""


@ledger_group.command("rebuild")
@with_appcontext
@transactional
def ledger_rebuild_cmd():
    """Recompute every person's monthly rollups from attendance and supervision (the job, run here)."""
    from .jobs.services import submit_job
    from .jobs.tasks import run_job

    job_id = submit_job(kind="ledger.rebuild", params={}, actor=None, queue=False).id
    commit()  # (the id is read before: reading it after the commit would start a transaction the job waits for)
    run_job(job_id)
    click.echo(f"ledger rollups rebuilt (job {job_id})")


@lms.command("generate")
@click.option("--people", type=click.IntRange(100, 200000), required=True, help="about how many people")
@click.option("--seed", type=int, default=1, show_default=True)
@with_appcontext
@transactional
def generate_cmd(people, seed):
    """Add a deterministic synthetic city for benchmarks (units 99…)."""
    import time

    from .demo.generate import GenerateError, generate_city

    started = time.perf_counter()
    try:
        counts = generate_city(people, seed, progress=lambda message: click.echo(f"  {message}", err=True))
    except GenerateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" ({time.perf_counter() - started:.0f} s)")


@lms.group("certificates")
def certificates_group():
    """Issue, print and revoke certificates."""


def _credential_and_unit(name: str, unit_code: str | None):
    from .credentials.queries import credential_by_name
    from .org.queries import unit_by_code

    credential = credential_by_name(name)
    if credential is None:
        raise click.ClickException(f"unknown credential {name!r}")
    unit = None
    if unit_code:
        unit = unit_by_code(unit_code)
        if unit is None:
            raise click.ClickException(f"unknown unit code {unit_code!r}")
    return credential, unit


@certificates_group.command("issue")
@click.option("--credential", "name", required=True)
@click.option("--unit", "unit_code", default=None, help="only people of this unit's subtree")
@with_appcontext
@transactional
def certificates_issue_cmd(name, unit_code):
    """Issue the credential to everyone eligible in the subtree (as an administrator's approval)."""
    from flask_babel import force_locale
    from sqlalchemy import select

    from .credentials.queries import eligible_ids
    from .credentials.services import CHUNK, issue_to_people
    from .org.queries import subtree_ids
    from .people.models import Person

    credential, unit = _credential_and_unit(name, unit_code)
    scope = select(Person.id).where(Person.unit_id.in_(subtree_ids(unit))) if unit is not None else None
    ids = eligible_ids(credential, None, people_ids=scope)
    commit()  # the list is read; other writers need not wait for it
    issued = held = 0
    stopped = None
    # A commit per chunk: work done is kept, and another run (or an approval in the web page) waits a chunk at most.
    with click.progressbar(length=len(ids), label=f"issuing {credential.name}") as bar:
        for start in range(0, len(ids), CHUNK):
            summary = issue_to_people(credential=credential, person_ids=ids[start : start + CHUNK], actor=None)
            commit()
            issued, held = issued + summary.issued, held + summary.held
            with force_locale("en"):  # the command line speaks English, like its other messages
                for message in summary.refused:
                    click.echo(f"refused: {message}", err=True)
                stopped = str(summary.stopped) if summary.stopped else None
            bar.update(len(ids[start : start + CHUNK]))
            if stopped:
                break
    click.echo(f"certificates issued: {issued}" + (f" (already held: {held})" if held else ""))
    if stopped:
        raise click.ClickException(f"issuing stopped: {stopped}")


@certificates_group.command("print")
@click.option("--credential", "name", required=True)
@click.option("--unit", "unit_code", default=None)
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
@transactional
def certificates_print_cmd(name, unit_code, out):
    """One PDF of all valid certificates of the credential in the subtree, with a progress bar."""
    from sqlalchemy import select

    from .credentials.models import Certificate
    from .credentials.printing import print_certificates
    from .credentials.services import verification_status
    from .org.queries import subtree_ids
    from .people.models import Person

    folder = Path(out).absolute().parent
    if not folder.is_dir():
        raise click.ClickException(f"cannot write {out}: the folder {folder} does not exist")
    credential, unit = _credential_and_unit(name, unit_code)
    stmt = (
        select(Certificate)
        .join(Person, Person.id == Certificate.person_id)
        .where(Certificate.credential_id == credential.id)
    )
    if unit is not None:
        stmt = stmt.where(Person.unit_id.in_(subtree_ids(unit)))
    ids = [c.id for c in db.session.scalars(stmt.order_by(Certificate.serial)) if verification_status(c) == "valid"]
    if not ids:
        raise click.ClickException("no valid certificates to print")
    with click.progressbar(length=len(ids), label=f"printing {len(ids)} certificates") as bar:
        state = {"done": 0}

        def progress(i, n):
            bar.update(i - state["done"])
            state["done"] = i

        try:
            count = print_certificates(ids, Path(out), progress=progress)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"written {out}: {count} certificates")


@certificates_group.command("revoke")
@click.argument("serial")
@click.option("--reason", required=True)
@with_appcontext
@transactional
def certificates_revoke_cmd(serial, reason):
    """Revoke one certificate by its serial number."""
    from sqlalchemy import select

    from .core.domain import DomainError
    from .credentials.models import Certificate
    from .credentials.services import revoke_certificate

    certificate = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
    if certificate is None:
        raise click.ClickException(f"unknown serial {serial!r}")
    try:
        revoke_certificate(certificate=certificate, reason=reason, actor=None)
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from None
    click.echo(f"revoked {serial}")


@certificates_group.command("rotate-key")
@click.option("--unit", "unit_code", required=True, help="the issuing unit's code")
@with_appcontext
@transactional
def certificates_rotate_key_cmd(unit_code):
    """Retire an issuing unit's signing key and make a new one (audited); what the old key signed still verifies."""
    from .credentials.badges import is_issuer
    from .credentials.signing import rotate_key
    from .org.queries import unit_by_code

    unit = unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"unknown unit code {unit_code!r}")
    if not is_issuer(unit):
        raise click.ClickException(f"{unit_code} issues no credential: it has no key to rotate")
    key = rotate_key(unit, actor=None)
    click.echo(f"{unit_code}: new signing key {key.kid}; earlier keys stay published")


@certificates_group.command("keys")
@with_appcontext
def certificates_keys_cmd():
    """List the issuers' signing keys: unit, key id, made, retired."""
    from .credentials.signing import published_keys

    for key in published_keys():
        retired = key.retired_at.isoformat(timespec="seconds") if key.retired_at else "signing"
        made = key.created_at.isoformat(timespec="seconds")
        click.echo(f"{key.unit.code or key.unit_id}\t{key.kid}\t{made}\t{retired}")
