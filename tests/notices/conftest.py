"""A real SMTP server on loopback (aiosmtpd), which the academy's notifications are sent to."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from shegong_academy.extensions import db
from tests.conftest import make_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the server accepted (or, refusing, turned away)."""

    def __init__(self):
        self.raw: list[bytes] = []
        self.refuse = False
        self.refused = 0

    @property
    def messages(self):
        return [message_from_bytes(raw, policy=default) for raw in self.raw]

    def to(self, address: str):
        return [m for m in self.messages if m["To"] == address]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            self.refused += 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()


def mail_settings(smtp, **overrides) -> dict:
    """An app's settings that mail through ``smtp`` (plain SMTP on loopback)."""
    return {
        "LMS_SMTP_HOST": "127.0.0.1",
        "LMS_SMTP_PORT": smtp.port,
        "LMS_SMTP_TLS": "none",
        "LMS_SMTP_TIMEOUT": 5,
        "LMS_MAIL_FROM": "社工学堂 <academy@example.cn>",
        "LMS_PUBLIC_URL": "https://academy.example.cn",
        **overrides,
    }


@pytest.fixture
def mail_app(db_url, smtp):
    app = make_app(db_url, **mail_settings(smtp))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def mctx(mail_app):
    with mail_app.app_context():
        yield mail_app
        db.session.rollback()
