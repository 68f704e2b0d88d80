import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from shegong_academy.core.db import check_foreign_keys, foreign_keys_off
from shegong_academy.extensions import db as academy_db

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    # Always the academy's own database: mounted in a host application, `flask db` may be the host's.
    return academy_db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = academy_db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def render_item(type_, obj, autogen_context):
    """Render the app's UTCDateTime as a plain DateTime, so revisions import nothing of the app."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime()"
    return False


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=get_metadata(),
        literal_binds=True,
        version_table=current_app.config["LMS_MIGRATION_VERSION_TABLE"],
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    migrate = current_app.extensions.get("migrate")
    shared = migrate.configure_args if migrate is not None and migrate.db is academy_db else {}
    conf_args = dict(shared)  # a copy: the extension is shared
    # Mounted beside a host's own Alembic history, the academy keeps its revision in a table of its own.
    conf_args.setdefault("version_table", current_app.config["LMS_MIGRATION_VERSION_TABLE"])
    # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
    conf_args.setdefault("render_as_batch", True)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("render_item", render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    # SQLite: batch mode rebuilds a table by dropping it, and with foreign keys on
    # the drop deletes the rows of every table that references it ON DELETE CASCADE.
    # Foreign keys go off before any transaction (SQLite ignores the PRAGMA inside
    # one) and every revision is checked with PRAGMA foreign_key_check before it
    # commits; the connection gets them back before it returns to the app's pool.
    callbacks = conf_args.pop("on_version_apply", None) or ()
    callbacks = [callbacks] if callable(callbacks) else list(callbacks)
    conf_args["on_version_apply"] = [_check_foreign_keys, *callbacks]

    connectable = get_engine()

    with connectable.connect() as connection, foreign_keys_off(connection):
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)

        with context.begin_transaction():
            context.run_migrations()


def _check_foreign_keys(ctx, step, heads, run_args):
    """Refuse to commit a revision that leaves a row referencing a missing row."""
    check_foreign_keys(ctx.connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
