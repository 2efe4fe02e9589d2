"""Erasure: deleting a student and everything recorded about them, on request."""
