"""The web UI's Starlette app: a page per tab, HTMX partials, an SSE stream for Ask.

Every page reaches the services only through the Python client, with
``x-lakehouse-source: ui`` on every call (the observer records the source "ui"), through
the gateway by default: the same path, and later the same credentials, as any client.
A call that fails renders the error (code, reason, message) with its HTTP status;
the pages tell HTMX to swap error responses in too, so nothing is left blank.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from lakehouse.api.auth import KEY_MISSING
from lakehouse.api.errors import InvalidArgument, LakehouseError, Unauthenticated
from lakehouse.api.observer import SOURCE_HEADER, SOURCE_UI
from lakehouse.client import LakehouseClient
from lakehouse.client.pool import ClientPool
from lakehouse.servers.http_server import ForwardEndUser
from lakehouse.servers.settings import Settings, UiSettings
from lakehouse.servers.ui import views
from lakehouse.servers.ui.login import NEXT_PARAM, RequireLogin, SessionCookie, cookie_secret, safe_next

HERE = Path(__file__).parent
# Chunks searched per candidate shown, so that several chunks of one résumé still leave
# console_candidates different documents.
CHUNKS_PER_CANDIDATE = 4
TABS = (("sql", "SQL"), ("ask", "Ask"), ("explore", "Explore"), ("system", "System"), ("console", "Console"))


class Backend(ClientPool):
    """The UI's clients of the services (``ClientPool``): one shared client with auth off;
    with auth on, one per signed-in key, so the services scope what each user sees."""

    def client_for(self, request: Request) -> LakehouseClient:
        """The client a request's calls go through: with auth on, its session's key
        (servers/ui/login.py)."""
        return self.for_key(getattr(request.state, "api_key", None) or "")  # set by RequireLogin (auth on)


def _dict(message: Any) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def chunk_url(corpus: str, item_id: str) -> str:
    return "/chunk?" + urlencode({"corpus": corpus, "id": item_id})


def create_app(settings: Settings) -> Starlette:
    ui: UiSettings = settings.ui
    auth_on = settings.auth.enabled
    backend = Backend(
        ui.upstream or f"{settings.host}:{settings.port}",
        ui.timeout_s,
        metadata=[(SOURCE_HEADER, SOURCE_UI)],
        auth_enabled=auth_on,
        max_clients=ui.max_sessions,
        channel=None if ui.upstream else settings.gateway_channel,
        shared_key="",  # auth off: the UI sends no key of its own
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(tabs=TABS, ui=ui, auth_on=auth_on)
    cookies = SessionCookie(cookie_secret(settings.ui_cookie_key_file), ui.session_max_age_s) if auth_on else None

    def page(request: Request, name: str, tab: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, {"tab": tab, **context}, status_code=status)

    def failure(request: Request, exc: LakehouseError) -> Response:
        view = views.error_view(exc)
        return templates.TemplateResponse(request, "_error.html", {"error": view}, status_code=view.status)

    async def call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kw)

    # SQL ------------------------------------------------------------------------
    async def sql_page(request: Request) -> Response:
        return page(request, "sql.html", "sql", q=request.query_params.get("q", ""))

    async def sql_run(request: Request) -> Response:
        lh = backend.client_for(request)
        q = str((await request.form()).get("q", "")).strip()
        try:
            if not q:
                raise InvalidArgument("type a SQL query first", reason="EMPTY_QUERY")
            result = await call(lambda: lh.sql(q, max_rows=ui.sql_max_rows))
        except LakehouseError as exc:
            return failure(request, exc)
        rows = [[views.cell(v) for v in row] for row in result.rows]
        csv_url = "/sql.csv?" + urlencode({"q": q})
        return templates.TemplateResponse(
            request, "_sql_result.html", {"result": result, "rows": rows, "csv_url": csv_url}
        )

    async def sql_csv(request: Request) -> Response:
        lh = backend.client_for(request)
        q = request.query_params.get("q", "").strip()
        try:
            if not q:
                raise InvalidArgument("type a SQL query first", reason="EMPTY_QUERY")
            body, truncated = await call(lambda: views.csv_bytes(lh.query_reader(q), ui.csv_max_rows))
        except LakehouseError as exc:
            view = views.error_view(exc)
            return PlainTextResponse(f"{view.code} {view.reason}: {view.message}\n", status_code=view.status)
        headers = {"Content-Disposition": 'attachment; filename="result.csv"'}
        if truncated:
            headers["X-Lakehouse-Truncated"] = str(ui.csv_max_rows)
        return Response(body, media_type="text/csv", headers=headers)

    # Ask ------------------------------------------------------------------------
    async def ask_page(request: Request) -> Response:
        return page(request, "ask.html", "ask")

    def render(name: str, **context: Any) -> str:
        return templates.env.get_template(name).render(**context)

    def retrieval_context(r: Any) -> dict:
        filt = _dict(r.filter) if r.HasField("filter") else {}
        return {
            "r": r,
            "filter_json": json.dumps(filt, sort_keys=True) if filt else "",
            "citations": [(c, chunk_url(c.corpus, c.id)) for c in r.citations],
        }

    def ask_events(lh: LakehouseClient, question: str) -> Iterator[str]:
        try:
            for event in lh.ask_stream(question):
                kind = event.WhichOneof("event")
                if kind == "retrieval":
                    yield views.sse("retrieval", render("_retrieval.html", **retrieval_context(event.retrieval)))
                elif kind == "token":
                    yield views.sse("token", json.dumps(event.token))
                elif kind == "answer":
                    a = event.answer
                    links = {c.n: chunk_url(c.corpus, c.id) for c in a.citations}
                    html = render(
                        "_answer.html",
                        a=a,
                        text=views.link_citations(a.answer, links),
                        **retrieval_context(a.retrieval),
                    )
                    yield views.sse("answer", html)
        except LakehouseError as exc:
            yield views.sse("failure", render("_error.html", error=views.error_view(exc)))

    async def ask_stream(request: Request) -> Response:
        lh = backend.client_for(request)
        question = request.query_params.get("q", "")
        return StreamingResponse(
            ask_events(lh, question),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def chunk_page(request: Request) -> Response:
        lh = backend.client_for(request)
        corpus, item_id = request.query_params.get("corpus", ""), request.query_params.get("id", "")
        try:
            found = await call(lambda: lh.get_items(corpus, [item_id]))
        except LakehouseError as exc:
            return page(request, "chunk.html", "ask", views.error_view(exc).status, error=views.error_view(exc))
        items = [(item, _dict(item.metadata)) for item in found.items]
        return page(request, "chunk.html", "ask", 200 if items else 404, corpus=corpus, item_id=item_id, items=items)

    # Explore --------------------------------------------------------------------
    async def explore_page(request: Request) -> Response:
        lh = backend.client_for(request)
        number = views.page_number(request.query_params.get("page", ""))
        context: dict[str, Any] = {}
        status = 200
        try:
            datasets = await call(lambda: lh.list_datasets())
            context["datasets"] = views.page_of(sorted(datasets, key=lambda d: d.name), number, ui.page_size)
        except LakehouseError as exc:
            context["datasets_error"], status = views.error_view(exc), views.error_view(exc).status
        try:
            corpora = await call(lambda: lh.list_corpora())
            context["corpora"] = [
                (c, views.corpus_badges(c.generation, list(c.generations), c.previous_generation, c.building))
                for c in sorted(corpora, key=lambda c: c.name)
            ]
        except LakehouseError as exc:
            context["corpora_error"], status = views.error_view(exc), views.error_view(exc).status
        return page(request, "explore.html", "explore", status, human_bytes=views.human_bytes, **context)

    async def dataset_detail(request: Request) -> Response:
        lh = backend.client_for(request)
        name = request.path_params["name"]
        try:
            dataset = await call(lambda: lh.get_dataset(name))
            versions = await call(lambda: lh.list_versions(name))
            preview = await call(lambda: lh.sql(views.preview_sql(name, ui.preview_rows)))
        except LakehouseError as exc:
            return failure(request, exc)
        rows = [[views.cell(v) for v in row] for row in preview.rows]
        return templates.TemplateResponse(
            request,
            "_dataset.html",
            {
                "d": dataset,
                "versions": sorted(versions, key=lambda v: -v.version),
                "preview": preview,
                "rows": rows,
                "human_bytes": views.human_bytes,
            },
        )

    # System ---------------------------------------------------------------------
    async def system_page(request: Request) -> Response:
        return page(request, "system.html", "system")

    async def tail(request: Request, template: str, name: str, fetch: Callable[[LakehouseClient], Any]) -> Response:
        """A polled System table: the newest ``ui.tail_rows`` of a listing, or its error."""
        lh = backend.client_for(request)
        try:
            rows = await call(lambda: list(fetch(lh))[: ui.tail_rows])
        except LakehouseError as exc:
            return failure(request, exc)
        return templates.TemplateResponse(request, template, {name: rows})

    async def system_errors(request: Request) -> Response:
        return await tail(request, "_errors.html", "errors", lambda lh: lh.list_errors(page_size=ui.tail_rows))

    async def system_trials(request: Request) -> Response:
        return await tail(request, "_trials.html", "trials", lambda lh: lh.list_index_trials(limit=ui.tail_rows))

    async def system_stats(request: Request) -> Response:
        lh = backend.client_for(request)
        try:
            stats = await call(lambda: lh.observer_stats())
            runs = await call(lambda: lh.list_ops(method="RunWorkflow", limit=ui.tail_rows))
            ops = await call(lambda: lh.list_ops(limit=ui.tail_rows))
        except LakehouseError as exc:
            return failure(request, exc)
        methods = sorted(stats.methods, key=lambda m: -m.count)
        return templates.TemplateResponse(
            request, "_stats.html", {"stats": stats, "methods": methods, "runs": runs.ops, "ops": ops.ops}
        )

    # Staffer console -------------------------------------------------------------
    async def console_page(request: Request) -> Response:
        lh = backend.client_for(request)
        number = views.page_number(request.query_params.get("page", ""))
        sql = (
            f"SELECT * FROM {views.quote_ident(ui.job_orders_dataset)}"
            f" ORDER BY {views.quote_ident(ui.job_order_id_column)}"
            f" LIMIT {ui.console_orders + 1} OFFSET {(number - 1) * ui.console_orders}"
        )
        try:
            result = await call(lambda: lh.sql(sql))
        except LakehouseError as exc:
            view = views.error_view(exc)
            return page(request, "console.html", "console", view.status, error=view)
        names = [name for name, _ in result.columns]
        orders = [dict(zip(names, row, strict=True)) for row in result.rows]
        return page(
            request,
            "console.html",
            "console",
            orders=orders[: ui.console_orders],
            number=number,
            more=len(orders) > ui.console_orders,
            method=views.FILL_METHOD.format(w=ui.fill_prior_weight),
            urlencode=urlencode,
        )

    def ranked(lh: LakehouseClient, query: str) -> list[dict]:
        """The best chunk of each of the first ``console_candidates`` documents (a résumé's
        chunks are one candidate), with its playbook history and fill probability."""
        found = lh.matrix_search(
            query,
            corpora=[ui.console_corpus],
            k=ui.console_candidates * CHUNKS_PER_CANDIDATE,
            use_playbook=True,
        )
        out = []
        for r in views.best_per_document(found.results, ui.console_candidates):
            history = lh.list_playbook_entries(corpus=r.corpus, item_id=r.id)
            placed = sum(e.outcome == "success" for e in history)
            rejected = sum(e.outcome == "rejected" for e in history)
            p = views.fill_probability(r.score, placed, rejected, ui.fill_prior_weight)
            out.append({"r": r, "meta": _dict(r.metadata), "placed": placed, "rejected": rejected, "p": p})
        return out

    async def console_candidates(request: Request) -> Response:
        lh = backend.client_for(request)
        order, query = request.query_params.get("order", ""), request.query_params.get("q", "")
        try:
            candidates = await call(ranked, lh, query)
        except LakehouseError as exc:
            return failure(request, exc)
        return templates.TemplateResponse(
            request, "_candidates.html", {"candidates": candidates, "order": order, "query": query}
        )

    async def console_outcome(request: Request) -> Response:
        lh = backend.client_for(request)
        form = await request.form()
        outcome = str(form.get("outcome", ""))
        entry = {
            "query": str(form.get("q", "")),
            "corpus": str(form.get("corpus", "")),
            "item_id": str(form.get("item_id", "")),
            "outcome": outcome,
            "source": SOURCE_UI,
            "metadata": {ui.job_order_id_column: str(form.get("order", ""))},
        }
        try:
            recorded = await call(lambda: lh.record_playbook_entry(entry))
        except LakehouseError as exc:
            return failure(request, exc)
        return templates.TemplateResponse(request, "_outcome.html", {"e": recorded})

    async def home(request: Request) -> Response:
        return RedirectResponse("/sql", status_code=303)

    # Signing in (auth on) ---------------------------------------------------------
    async def login_page(request: Request) -> Response:
        return page(request, "login.html", "login", next=safe_next(request.query_params.get(NEXT_PARAM, "/")))

    async def login_submit(request: Request) -> Response:
        form = await request.form()
        key, target = str(form.get("key", "")).strip(), safe_next(str(form.get(NEXT_PARAM, "/")))
        if cookies is None:
            return RedirectResponse(target, status_code=303)  # auth off: nothing to sign in to
        try:
            if not key:
                raise Unauthenticated("type your API key", reason=KEY_MISSING)
            await call(backend.check_key, key)
        except LakehouseError as exc:
            view = views.error_view(exc)
            return page(request, "login.html", "login", status=view.status, error=view, next=target)
        response = RedirectResponse(target, status_code=303)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        response.set_cookie(
            ui.cookie_name,
            cookies.seal(key),
            max_age=ui.session_max_age_s,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    async def logout(request: Request) -> Response:
        key = getattr(request.state, "api_key", None)
        if key:
            backend.forget(key)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(ui.cookie_name, path="/")
        return response

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login_page),
            Route("/login", login_submit, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/sql", sql_page),
            Route("/sql/run", sql_run, methods=["POST"]),
            Route("/sql.csv", sql_csv),
            Route("/ask", ask_page),
            Route("/ask/stream", ask_stream),
            Route("/chunk", chunk_page),
            Route("/explore", explore_page),
            Route("/explore/datasets/{name}", dataset_detail),
            Route("/system", system_page),
            Route("/system/errors", system_errors),
            Route("/system/stats", system_stats),
            Route("/system/trials", system_trials),
            Route("/console", console_page),
            Route("/console/candidates", console_candidates),
            Route("/console/outcome", console_outcome, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[
            Middleware(ForwardEndUser),
            *([Middleware(RequireLogin, cookies=cookies, cookie_name=ui.cookie_name)] if cookies else []),
        ],
    )
    app.state.backend = backend
    return app
