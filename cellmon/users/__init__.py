"""Accounts `/users`: admins manage them; everyone reads its own."""
