"""`cellmon simulate`: a class of students running a lesson's notebook against a cellmon server.

`roster.py` and `lesson.py` are a pure model (who joins when, who runs which cell when, who
fails, gets stuck or asks for help), deterministic for a seed; `sender.py` posts its events as
the published JupyterLab extension does; `account.py` makes the class and its ingest key;
`runner.py` drives a run and `display.py` shows it.
"""

# The server it posts to without --url: `make run`'s address.
DEFAULT_URL = "http://127.0.0.1:8000"
