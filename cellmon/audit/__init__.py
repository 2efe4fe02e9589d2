"""The audit trail: who graded, regraded, deleted, created keys or closed help requests."""
