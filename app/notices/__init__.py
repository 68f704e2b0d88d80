"""Notices (通知): what the academy tells a person in the app — a session cancelled or moved, a record voided."""
