"""Programme administration: users, roles and the audit log."""
