"""cellmon's kernel-side client: an IPython extension that reports every executed cell.

    %load_ext cellmon.client

or, for every kernel of a student, `c.InteractiveShellApp.extensions = ["cellmon.client"]` in
an IPython profile (or `get_ipython().extension_manager.load_extension("cellmon.client")` in
a startup file). Where to send and who the student is come from CELLMON_SERVER_URL,
CELLMON_INGEST_KEY, CELLMON_EMAIL, CELLMON_USER_NAME, CELLMON_TEAM_NAME (JUPYTERHUB_USER when
no e-mail is set) or `%config CellmonClient.<name> = ...` (see config.py).

It works in any Jupyter front end (JupyterLab, classic Notebook, VS Code, a plain IPython
shell): it sits in the kernel, so it sees what the cell printed and the kernel's real run
time. It needs IPython and the standard library only (`pip install 'cellmon[client]'`),
never the server's dependencies.
"""

from __future__ import annotations

import atexit
import logging
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cellmon.client.config import CellmonClient
from cellmon.client.recorder import CellRecorder
from cellmon.client.sender import Sender, logger

__all__ = ["CellmonClient", "load_ipython_extension", "unload_ipython_extension"]

# At exit, how long the kernel may wait to send what is queued; the rest stays on disk.
EXIT_FLUSH_SECONDS = 2.0


@dataclass
class _Loaded:
    shell: Any
    config: CellmonClient
    recorder: CellRecorder
    sender: Sender

    def close(self) -> None:
        self.recorder.detach()
        self.sender.close(EXIT_FLUSH_SECONDS)


_loaded: _Loaded | None = None


def load_ipython_extension(shell: Any) -> None:
    global _loaded
    if _loaded is not None:
        return
    if not logger.handlers:
        # The kernel's own stderr (its log), not the cell's output in the notebook.
        handler = logging.StreamHandler(sys.__stderr__)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    config = CellmonClient(parent=shell)
    sender = Sender(
        Path(config.queue_path).expanduser(),
        batch_size=config.batch_size,
        batch_seconds=config.batch_seconds,
    )
    recorder = CellRecorder(config, shell.user_ns, sender, session_id=str(uuid.uuid4()))
    sender.start()
    recorder.attach(shell)
    shell.configurables.append(config)
    _loaded = _Loaded(shell, config, recorder, sender)
    atexit.register(_at_exit)
    if not config.email:
        logger.warning(
            "cellmon.client: no identity set (CELLMON_EMAIL, JUPYTERHUB_USER or "
            "%%config CellmonClient.email): the server records this kernel's cells under an "
            "unknown student"
        )


def unload_ipython_extension(shell: Any) -> None:
    global _loaded
    loaded, _loaded = _loaded, None
    if loaded is None:
        return
    atexit.unregister(_at_exit)
    if loaded.config in shell.configurables:
        shell.configurables.remove(loaded.config)
    loaded.close()


def _at_exit() -> None:
    if _loaded is not None:
        _loaded.close()
