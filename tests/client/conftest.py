"""Fixtures of the client's tests: an in-process IPython shell, the client's warnings."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from cellmon.client import sender as sender_module


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    """IPython's shell, in this process (the kernel's shell without its messaging)."""
    shell: InteractiveShell = InteractiveShell.instance(colors="nocolor")
    return shell


@pytest.fixture(autouse=True)
def client_warnings() -> Iterator[None]:
    """Every test starts with no warning said, and caplog sees the client's warnings (the
    extension stops them propagating once it is loaded in a shell)."""
    logger = logging.getLogger("cellmon.client")
    propagate, logger.propagate = logger.propagate, True
    sender_module._warned.clear()
    yield
    logger.propagate = propagate
