"""The FastAPI app behind `rima app`: pages, uploads, jobs and downloads.

Routes (all data routes resolve the analyst's workspace from its cookie, never from the
URL; a job id from another workspace answers 404 like one that never existed):

    GET  /                         the page (server-rendered in the chosen language)
    GET  /static/<file>            the bundled script and style sheet
    GET|POST /login                sign-in with the access token (when the server has one)
    POST /api/files?name=F         upload one file (the body is the file)
    GET  /api/files                the workspace's files
    GET  /api/files/F/preview      columns, types, missing counts, labels, first rows, guess
    POST /api/spec/toml            mapping -> spec TOML;  POST /api/spec/parse: TOML -> mapping
    POST /api/check                mapping + file -> problems next to their controls
    POST /api/fit | /api/score | /api/analysis    start a job
    GET  /api/jobs/J               progress;  /api/jobs/J/results: the results as HTML
    GET  /api/jobs/J/files/P, /api/jobs/J/zip     downloads
    POST /api/delete               delete my data
"""

from __future__ import annotations

import hmac
import json
import logging
import shutil
import threading
import tomllib
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from rima.app import jobs as jobs_mod
from rima.app import results
from rima.app.mapping import check_data, check_mapping
from rima.app.messages import LANGUAGES, catalogue, text
from rima.app.pages import login_page, main_page
from rima.app.settings import AppSettings
from rima.app.store import COOKIE, Store, safe_name
from rima.app.tables import needs_copy, plain_code, preview, read_upload
from rima.errors import RimaInputError
from rima.starter import guess_spec, option_defaults, to_toml

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "rima_token"
LANG_COOKIE = "rima_lang"
PUBLIC = ("/login", "/static/", "/health")
NOT_TABLES = (".json", ".toml")
log = logging.getLogger("rima.service.app")


def create_app(settings: AppSettings, models: dict | None = None) -> FastAPI:
    """The page server; with `models` ({name: FittedModel}) the scoring API is mounted
    at /service in the same process."""
    from rima.service.middleware import Guard
    from rima.service.settings import ServiceSettings

    store = Store(settings.data_dir, settings.retention)
    runner = jobs_mod.Runner(settings.max_jobs, settings.job_timeout)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_app):
        def purge_loop():
            while not stop.wait(60):
                store.purge()

        threading.Thread(target=purge_loop, daemon=True).start()
        yield
        stop.set()
        store.close()  # running jobs stopped, every workspace removed

    app = FastAPI(title="rima app", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.store, app.state.runner, app.state.settings = store, runner, settings
    # the scoring service's guard: body-size cap while streaming, deadline, JSON access log
    # (route templates only, never a query, file name or value)
    guard = ServiceSettings(max_body_bytes=settings.max_upload_bytes, request_timeout=900.0)
    app.add_middleware(Guard, settings=guard)
    @app.middleware("http")
    async def auth(request: Request, call_next):
        path = request.url.path
        if settings.token and not path.startswith(PUBLIC) and not _authorised(request, settings):
            if path.startswith("/api/"):
                return JSONResponse({"error": text(lang_of(request), "err_sign_in")},
                                    status_code=401)
            if path.startswith("/service"):
                return await call_next(request)  # the service checks its own bearer token
            return RedirectResponse("/login", status_code=303)
        resp = await call_next(request)
        resp.headers.setdefault("x-content-type-options", "nosniff")
        resp.headers.setdefault("referrer-policy", "no-referrer")
        resp.headers.setdefault(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'")
        return resp

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "en"
        return lang if lang in LANGUAGES else "en"

    def workspace(request: Request, create=True):
        ws = store.get(request.cookies.get(COOKIE))
        if ws is None and create:
            ws = store.create()
            request.state.new_ws = ws
        return ws

    def finish(request: Request, resp: Response) -> Response:
        ws = getattr(request.state, "new_ws", None)
        if ws is not None:
            resp.set_cookie(COOKIE, ws.key, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return resp

    def err(status: int, message: str, field: str = "data") -> JSONResponse:
        return JSONResponse({"errors": [{"field": field, "message": message}]}, status_code=status)

    # --- pages -----------------------------------------------------------------------------

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request):
        return HTMLResponse(login_page(lang_of(request)))

    @app.post("/login")
    async def login(request: Request):
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        given = (form.get("token") or [""])[0].strip()
        if not settings.token or not hmac.compare_digest(given.encode(), settings.token.encode()):
            await anyio.sleep(1.0)  # slows guessing down; honest users rarely mistype twice
            return HTMLResponse(login_page(lang_of(request), bad=True), status_code=401)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
        return resp

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        lang = lang_of(request)
        workspace(request)
        resp = HTMLResponse(main_page(lang, settings, option_fields()))
        if request.query_params.get("lang") in LANGUAGES:
            resp.set_cookie(LANG_COOKIE, lang, samesite="strict", path="/")
        return finish(request, resp)

    @app.get("/static/{name}")
    def static(name: str):
        path = STATIC / safe_name(name)
        if not path.is_file():
            return Response(status_code=404)
        return FileResponse(path, headers={"cache-control": "no-cache"})

    @app.get("/api/messages")
    def messages(request: Request):
        return catalogue(lang_of(request))

    # --- files -----------------------------------------------------------------------------

    @app.post("/api/files")
    async def upload(request: Request):
        ws = workspace(request)
        name = safe_name(request.query_params.get("name", "upload"))
        ws.uploads.mkdir(parents=True, exist_ok=True)
        final = ws.uploads / name
        tmp = ws.uploads / (name + ".part")
        # the workspace's quota: what is there already (less a file this one replaces),
        # checked as the body streams, so a refused upload never fills the disk first
        room = settings.max_workspace_bytes - await anyio.to_thread.run_sync(ws.disk_usage)
        room += final.stat().st_size if final.is_file() else 0
        quota = text(lang_of(request), "err_quota", name=name,
                     mb=_mb(settings.max_workspace_bytes))
        if int(request.headers.get("content-length") or 0) > room:
            return finish(request, JSONResponse(
                {"errors": [{"field": "upload", "message": quota}]}, status_code=413))
        written = 0
        try:
            async with await anyio.open_file(tmp, "wb") as fh:
                async for chunk in request.stream():
                    written += len(chunk)
                    if written > room:
                        break
                    await fh.write(chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if written > room:
            tmp.unlink(missing_ok=True)
            return finish(request, JSONResponse(
                {"errors": [{"field": "upload", "message": quota}]}, status_code=413))
        tmp.replace(final)
        if final.suffix.lower() in NOT_TABLES:
            # a saved model or a spec: read by the command that uses it (rima score checks
            # the model's checksum), not as a table
            return finish(request, JSONResponse({"name": name, "format": final.suffix[1:],
                                                 "files": ws.files()}))
        try:
            _, info = await anyio.to_thread.run_sync(read_upload, final, None)
        except RimaInputError as exc:
            final.unlink(missing_ok=True)
            return finish(request, err(400, text(lang_of(request), "err_file", detail=_plain_message(
                exc, final)), "upload"))
        except Exception as exc:  # noqa: BLE001 - an unreadable upload is the user's file
            final.unlink(missing_ok=True)
            return finish(request, err(400, text(lang_of(request), "err_bad_file", name=name,
                                                 detail=type(exc).__name__), "upload"))
        return finish(request, JSONResponse({"name": name, "format": info["format"],
                                             "sheets": info.get("sheets"), "files": ws.files()}))

    @app.get("/api/files")
    def files(request: Request):
        ws = workspace(request)
        return finish(request, JSONResponse({
            "files": ws.files(), "used_bytes": ws.disk_usage(),
            "quota_bytes": settings.max_workspace_bytes}))

    def over_quota(request: Request, ws, field: str):
        """A 413 answer when the workspace has no room left for a job's outputs."""
        if ws.disk_usage() < settings.max_workspace_bytes:
            return None
        return finish(request, err(413, text(lang_of(request), "err_quota_job",
                                             mb=_mb(settings.max_workspace_bytes)), field))

    @app.get("/api/files/{name}/preview")
    async def file_preview(request: Request, name: str):
        ws = workspace(request)
        sheet = request.query_params.get("sheet") or None
        try:
            path = ws.upload_path(name)
            df, info = await anyio.to_thread.run_sync(read_upload, path, sheet)
        except RimaInputError as exc:
            return finish(request, err(400, text(lang_of(request), "err_file", detail=jobs_mod.scrub(
                str(exc), ws.path)), "upload"))
        out = preview(df, info)
        g = guess_spec(df)
        out["guess"] = {"spec": g.spec_dict(), "reasons": g.reasons,
                        "short_pillars": g.short_pillars}
        return finish(request, JSONResponse(out))

    # --- spec ------------------------------------------------------------------------------

    @app.post("/api/spec/toml")
    async def spec_toml(request: Request):
        spec = await request.json()
        return Response(to_toml(_clean_spec(spec)), media_type="application/toml",
                        headers={"content-disposition": 'attachment; filename="spec.toml"'})

    @app.post("/api/spec/parse")
    async def spec_parse(request: Request):
        try:
            spec = tomllib.loads((await request.body()).decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return err(400, text(lang_of(request), "err_toml", detail=exc), "spec")
        return JSONResponse({"spec": spec})

    @app.post("/api/check")
    async def check(request: Request):
        ws = workspace(request)
        body = await request.json()
        problems, _, _ = await anyio.to_thread.run_sync(_check, ws, body, lang_of(request))
        return finish(request, JSONResponse({"errors": problems}))

    # --- jobs ------------------------------------------------------------------------------

    @app.post("/api/fit")
    async def fit(request: Request):
        ws = workspace(request)
        body = await request.json()
        if (full := over_quota(request, ws, "run")) is not None:
            return full
        problems, df, info = await anyio.to_thread.run_sync(_check, ws, body, lang_of(request))
        if problems:
            return finish(request, JSONResponse({"errors": problems}, status_code=422))
        n_boot = int(body.get("n_boot") or 0)
        if not 0 <= n_boot <= 100_000:
            return finish(request, err(422, text(lang_of(request), "err_bootstrap_range",
                                                 max=100_000), "bootstrap"))
        job = jobs_mod.Job(kind="fit", argv=[], out=Path())
        jdir = ws.path / "jobs" / job.id
        jdir.mkdir(parents=True)
        spec_path = jdir / "spec.toml"
        spec_path.write_text(to_toml(_clean_spec(body["spec"])), encoding="utf-8")
        data_path = ws.upload_path(body["file"])
        if needs_copy(info):
            data_path = jdir / "data.parquet"
            df.to_parquet(data_path, index=False)
        job.out = jdir / "out"
        job.plan = jobs_mod.fit_plan(list(_clean_spec(body["spec"])["pillars"]), n_boot)
        job.argv = ["fit", str(data_path), "--spec", str(spec_path), "--out", str(job.out),
                    "--json"] + (["--bootstrap", str(n_boot)] if n_boot else [])
        job.meta = {"data": str(data_path), "file": safe_name(body["file"]),
                    "value_labels": {k: {str(plain_code(c)): str(v) for c, v in m.items()}
                                     for k, m in df.attrs.get("value_labels", {}).items()}}
        ws.jobs[job.id] = job
        runner.submit(job, then=_after_fit)
        return finish(request, JSONResponse({"job": job.id}))

    @app.post("/api/score")
    async def score(request: Request):
        ws = workspace(request)
        body = await request.json()
        if (full := over_quota(request, ws, "score")) is not None:
            return full
        try:
            model = ws.upload_path(body.get("model", ""))
            data = ws.upload_path(body.get("data", ""))
        except RimaInputError as exc:
            return finish(request, err(400, text(lang_of(request), "err_input", detail=jobs_mod.scrub(
                str(exc), ws.path)), "score"))
        job = _new_job(ws, "score")
        job.argv = ["score", str(data), "--model", str(model), "--out",
                    str(job.out / "scores.csv"), "--json"]
        runner.submit(job, then=_after_score)
        return finish(request, JSONResponse({"job": job.id}))

    @app.post("/api/analysis")
    async def analysis(request: Request):
        ws = workspace(request)
        body = await request.json()
        if (full := over_quota(request, ws, "analysis")) is not None:
            return full
        lang = lang_of(request)
        base = ws.jobs.get(str(body.get("fit", "")))
        if base is None or base.state != "done" or base.kind != "fit":
            base = None
        if base is None and _needs_fit(body):
            return finish(request, err(400, text(lang, "needs_fit"), "analysis"))
        job = _new_job(ws, "analysis")
        try:
            argv = _analysis_argv(ws, body, base, job, lang)
        except RimaInputError as exc:
            ws.jobs.pop(job.id, None)
            shutil.rmtree(job.out.parent, ignore_errors=True)
            # the form's own refusals are in the analyst's language already
            return finish(request, err(400, jobs_mod.scrub(str(exc), ws.path), "analysis"))
        job.argv = argv + ["--out", str(job.out)]
        runner.submit(job, then=_after_impact if body.get("kind") == "impact"
                      else _after_analysis)
        return finish(request, JSONResponse({"job": job.id}))

    def own_job(request: Request, job_id: str):
        ws = workspace(request, create=False)
        return None if ws is None else ws.jobs.get(job_id)

    @app.get("/api/jobs/{job_id}")
    def job_status(request: Request, job_id: str):
        job = own_job(request, job_id)
        if job is None:
            return err(404, text(lang_of(request), "err_no_job"), "run")
        status = job.status(runner.position(job))
        lang = lang_of(request)
        status["errors"] = [{**e, "message": text(lang, "err_run", detail=e["message"])}
                            for e in status["errors"]]
        return JSONResponse(status)

    @app.get("/api/jobs/{job_id}/results", response_class=HTMLResponse)
    def job_results(request: Request, job_id: str):
        job = own_job(request, job_id)
        if job is None or job.state != "done":
            return err(404, text(lang_of(request), "err_no_results"), "run")
        lang = lang_of(request)
        url = f"/api/jobs/{job.id}"
        if job.kind == "fit":
            body = results.results_fragment(job.out, url, lang, job.meta.get("value_labels"))
        else:
            body = results.job_summary(job, lang, url)
        return HTMLResponse(json.dumps({
            "results": body, "downloads": results.downloads_fragment(job.out, url, lang)}),
            media_type="application/json")

    @app.get("/api/jobs/{job_id}/files/{rel:path}")
    def job_file(request: Request, job_id: str, rel: str):
        job = own_job(request, job_id)
        if job is None or job.state != "done" or rel not in results.downloadable(job.out):
            return err(404, text(lang_of(request), "err_no_file"), "run")
        return FileResponse(job.out / rel, filename=Path(rel).name)

    @app.get("/api/jobs/{job_id}/zip")
    def job_zip(request: Request, job_id: str):
        job = own_job(request, job_id)
        if job is None or job.state != "done":
            return err(404, text(lang_of(request), "err_no_file"), "run")
        return FileResponse(job.out / results.ZIP_NAME, filename=results.ZIP_NAME)

    @app.post("/api/delete")
    def delete(request: Request):
        ws = workspace(request, create=False)
        if ws is not None:
            store.delete(ws)
        resp = JSONResponse({"message": text(lang_of(request), "deleted")})
        resp.delete_cookie(COOKIE, path="/")
        return resp

    if models:
        from rima.service import ServiceSettings as _SS
        from rima.service import create_app as service_app

        app.mount("/service", service_app(models, _SS(token=settings.token)))
    return app


def _authorised(request: Request, settings: AppSettings) -> bool:
    token = settings.token.encode()
    given = request.cookies.get(TOKEN_COOKIE, "").encode()
    if given and hmac.compare_digest(given, token):
        return True
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(bearer.strip().encode(), token)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g}"


def _plain_message(exc: Exception, path: Path | None) -> str:
    """The error without the server-side directory: the analyst knows only the file name."""
    msg = str(exc)
    if path is not None:
        msg = msg.replace(str(path), path.name)
    return msg.replace(str(Path.cwd()), "")


def _clean_spec(spec: dict) -> dict:
    """The page's mapping as a spec dict: empty entries left out, options typed."""
    data = {k: v for k, v in (spec.get("data") or {}).items() if v not in (None, "", [])}
    opts = {k: v for k, v in (spec.get("options") or {}).items() if v not in (None, "", [], {})}
    if isinstance(opts.get("factor"), dict):
        opts["factor"] = {k: v for k, v in opts["factor"].items() if v not in (None, "")}
        if not opts["factor"]:
            del opts["factor"]
    out = {"data": data, "pillars": {k: list(v) for k, v in (spec.get("pillars") or {}).items()
                                     if v},
           "indicators": spec.get("indicators") or {"food_security": []}}
    if opts:
        out["options"] = opts
    return out


def _check(ws, body, lang="en"):
    """(problems, data, read info) for a mapping and a file of the workspace."""
    try:
        path = ws.upload_path(body.get("file", ""))
        df, info = read_upload(path, body.get("sheet") or None)
    except RimaInputError as exc:
        return [{"field": "upload", "message": text(lang, "err_file", detail=jobs_mod.scrub(
            str(exc), ws.path))}], None, None
    spec = _clean_spec(body.get("spec") or {})
    problems = check_mapping(spec, df.columns, lang)
    if not problems:
        problems = check_data(spec, df, lang)
    return problems, df, info


def _new_job(ws, kind):
    job = jobs_mod.Job(kind=kind, argv=[], out=Path())
    jdir = ws.path / "jobs" / job.id
    jdir.mkdir(parents=True)
    job.out = jdir / "out"
    job.out.mkdir()
    ws.jobs[job.id] = job
    return job


def _after_fit(job):
    (job.out / "headline.json").write_text(job.stdout, encoding="utf-8")
    shutil.copyfile(job.out.parent / "spec.toml", job.out / "spec.toml")
    results.write_exports(job.out)


def _after_score(job):
    (job.out / "summary.json").write_text(job.stdout, encoding="utf-8")
    results.write_zip(job.out)


def _after_analysis(job):
    (job.out / "summary.txt").write_text(job.stdout, encoding="utf-8")
    results.write_zip(job.out)


def _after_impact(job):
    """The summary, the tables as Stata and Excel too, and, with the page's model, the
    event-study figure and the run's report with its impact section."""
    (job.out / "summary.txt").write_text(_without_written(job.stdout), encoding="utf-8")
    report = job.out.parent / "report"
    fig = report / "figures" / "impact_event_study.png"
    if fig.is_file():
        (job.out / results.FIGURE_DIR).mkdir(exist_ok=True)
        shutil.copyfile(fig, job.out / results.FIGURE_DIR / fig.name)
        shutil.copyfile(report / "report.html", job.out / "report.html")
    results.write_exports(job.out)


def _without_written(stdout: str) -> str:
    """The command's summary without its closing lines on where it wrote files (the page
    lists the files as downloads)."""
    keep = [ln for ln in stdout.splitlines()
            if not ln.startswith(("written: ", "report section added: "))]
    return "\n".join(keep).rstrip() + "\n"


def _num_list(value, what, lang="en"):
    if value in (None, ""):
        return None
    try:
        return ",".join(str(float(x)) for x in str(value).split(","))
    except ValueError:
        raise RimaInputError(text(lang, "err_numbers", what=what, value=value)) from None


def _needs_fit(body) -> bool:
    """The analyses that use the model of the page's run (step 4)."""
    return body.get("kind") != "impact" or (body.get("model_source") or "fit") == "fit"


def _analysis_argv(ws, body, base, job, lang="en") -> list[str]:
    kind = body.get("kind")
    if kind == "impact":
        return _impact_argv(ws, body, base, job, lang)
    data, model = base.meta["data"], str(base.out / "model.json")
    soums = body.get("soums") or None
    common = [data, "--model", model] + (["--soums", str(ws.upload_path(soums))] if soums else [])
    if kind == "target":
        argv = ["target", *common]
        for opt in ("thresholds", "quantiles"):
            v = _num_list(body.get(opt), opt, lang)
            if v:
                argv += [f"--{opt}", v]
        return argv
    if kind == "shocks":
        argv = ["shocks", *common, "--outcome", str(body.get("outcome") or "fcs"),
                "--kind", str(body.get("regression") or "ols")]
        if body.get("regression") not in (None, "", "ols", "logit", "probit"):
            raise RimaInputError(text(lang, "err_regression"))
        return argv
    if kind == "scenario":
        change = str(body.get("change") or "").strip()
        if not change:
            raise RimaInputError(text(lang, "err_change"))
        boot = int(body.get("boot") or 200)
        return ["scenario", data, "--model", model, "--change", change, "--boot", str(boot)]
    raise RimaInputError(text(lang, "err_unknown_analysis", kind=kind))


IMPACT_TEXT = ("outcome", "covariates", "weight", "round_col", "dzud_classes")
IMPACT_SOURCES = ("fit", "spec", "file", "none")


def _impact_argv(ws, body, base, job, lang) -> list[str]:
    """`rima impact PANEL ...` from the impact form: the same options as the command line.

    Values go as `--option=value`, so a value starting with '-' is never read as an option.
    With the model of the page's run, a copy of that run's output directory is the
    `--report` directory: the command adds its section and event-study figure there.
    """
    def bad(key, **kw):
        return RimaInputError(text(lang, key, **kw))

    panel = ws.upload_path(str(body.get("panel") or ""))
    argv = ["impact", str(panel)]
    source = body.get("model_source") or "fit"
    if source not in IMPACT_SOURCES:
        raise bad("impact_bad_source")
    if source == "fit":
        report = job.out.parent / "report"
        shutil.copytree(base.out, report, ignore=shutil.ignore_patterns(
            "exports", results.ZIP_NAME, "*.tmp"))
        argv += ["--report", str(report)]
    elif source == "spec":
        spec = _clean_spec(body.get("spec") or {})
        problems = check_mapping(spec, lang=lang)
        if problems:
            raise RimaInputError(problems[0]["message"])
        path = job.out.parent / "spec.toml"
        path.write_text(to_toml(spec), encoding="utf-8")
        argv += ["--spec", str(path)]
    elif source == "file":
        argv += ["--model", str(ws.upload_path(str(body.get("model_file") or "")))]
    else:
        argv.append("--no-model")
    if body.get("soums"):
        argv += ["--soums", str(ws.upload_path(str(body["soums"])))]
    mode = body.get("treatment_mode") or "column"
    who = str(body.get("treatment") or "").strip()
    if not who:
        raise bad("impact_no_treatment")
    argv.append(f"--treatment={who}" if mode == "column" else f"--pilot-soums={who}")
    for key in IMPACT_TEXT:
        v = str(body.get(key) or "").strip()
        if v:
            argv.append(f"--{key.replace('_', '-')}={v}")
    for key in ("treated_from", "baseline", "n_boot", "seed"):
        v = body.get(key)
        if v in (None, ""):
            continue
        try:
            n = int(str(v))
        except ValueError:
            raise bad("impact_integer", field=key.replace("_", "-"), value=v) from None
        if key in ("n_boot", "seed") and not 0 <= n <= 1_000_000:
            raise bad("impact_range", field=key.replace("_", "-"), lo=0, hi=1_000_000)
        argv.append(f"--{key.replace('_', '-')}={n}")
    for key in ("level", "benefit"):
        v = body.get(key)
        if v in (None, ""):
            continue
        try:
            x = float(str(v))
        except ValueError:
            raise bad("impact_number", field=key, value=v) from None
        if key == "level" and not 0 < x < 1:
            raise bad("impact_level")
        argv.append(f"--{key}={x!r}")
    weights = body.get("boot_weights") or "webb"
    if weights not in ("webb", "rademacher"):
        raise bad("impact_weights")
    argv.append(f"--boot-weights={weights}")
    if body.get("randomised"):
        argv.append("--randomised")
    return argv


def option_fields() -> list[dict]:
    """Every [options] key as a form field: key, default, help, kind and choices."""
    from rima import options as o

    choices = {"missing": o.MISSING, "orientation": o.ORIENTATIONS,
               "rci_prediction": o.PREDICTIONS, "rsm": o.RSM_KINDS,
               "mimic_se": o.MIMIC_SE, "factor.extraction": o.EXTRACTIONS,
               "factor.scores": o.SCORE_TYPES, "factor.rotation": o.ROTATIONS,
               "factor.heywood": o.HEYWOOD}
    out = []
    for key, default, help_ in option_defaults():
        if key in ("negative", "anchor"):
            continue  # chosen with the variables (orientation)
        kind = ("select" if key in choices else "bool" if isinstance(default, bool)
                else "int" if key == "seed" else "text")
        out.append({"key": key, "default": default, "help": help_, "kind": kind,
                    "choices": list(choices.get(key, ()))})
    return out
