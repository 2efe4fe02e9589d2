"""`cellmon simulate`: a class of students running a lesson's notebook against a cellmon server.

`roster.py` and `lesson.py` are a pure model (who joins when, who runs which cell when, who
fails, gets stuck or asks for help), deterministic for a seed; `sender.py` posts its events as
the published JupyterLab extension does; `account.py` makes the class and its ingest key;
`runner.py` drives a run and `display.py` shows it.
"""

# The server it posts to without --url: `make run`'s address.
DEFAULT_URL = "http://127.0.0.1:8000"
# HTTP connections at most. httpx's pool looks at each of its connections for every request:
# 1,000 students' posts through 100 connections cost the simulation about 7 ms of CPU each,
# through 20 about 2 ms, and 20 keep a local server busy.
DEFAULT_CONNECTIONS = 20
