"""`rima app`: the RIMA-II analysis as web pages, for analysts who do not write code.

Server-rendered pages with one small bundled script (static/app.js) and style sheet; no
library, no build step, nothing fetched from elsewhere, so the page works on an offline
network. Uploads live in per-analyst workspaces (`store`), fits and analyses run as `rima`
commands in child processes (`jobs`), results are rendered from the files those commands
write (`results`). Needs the optional 'serve' extra (FastAPI, uvicorn).
"""

from rima.app.settings import AppSettings


def create_app(settings, models=None):
    from rima.app.server import create_app as _create

    return _create(settings, models)


__all__ = ["AppSettings", "create_app"]
