"""Notifications (通知): what the academy tells people first — in the app, and by mail.

A notification is written in the transaction of the action that causes it (an enrolment, a record, a
certificate), or by the scheduler for what time brings (tomorrow's session, an expiry, the weekly digest),
under a key that makes it unique per person and occasion. Mail is delivered after commit by a job, retried
with backoff, and held for quiet hours or a daily digest as the reader chose (:mod:`.delivery`).
"""
