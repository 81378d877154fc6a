"""Accounts: users, roles, sign-in, password reset and personal API tokens."""
