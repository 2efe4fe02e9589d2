"""Errors shared by every layer: configuration and backend availability."""


class ConfigError(Exception):
    """The configuration cannot work; the message names the variable and is shown as is."""


class BackendUnavailable(Exception):
    """A backing service (database, queue, bus, time-series store) cannot be reached now.

    Raised for conditions that may pass; the API answers 503 with Retry-After to them.
    """


class NotFoundError(Exception):
    """A requested entity does not exist; the API answers 404 with this message."""


class ConflictError(Exception):
    """The request conflicts with the current state; the API answers 409 with this message."""


class MissingReferenceError(Exception):
    """A referenced entity (class, notebook, student …) does not exist; answered with 422."""
