"""The one route table. Every route is named: build URLs with
`request.app.router[name].url_for(...)`, never by hand."""
from __future__ import annotations

from aiohttp import web

from . import api, live, openapi, pages


def add_routes(app: web.Application) -> None:
    r = app.router
    # pages (HTML)
    r.add_get("/", pages.new_run, name="new_run")
    r.add_post("/runs", pages.create_run, name="create_run")
    r.add_post("/presets/{key}", pages.start_preset, name="start_preset")
    r.add_get("/runs", pages.history, name="history")
    r.add_get(r"/runs/{id:\d+}", pages.show_run, name="show_run")
    r.add_get(r"/runs/{id:\d+}/report.html", pages.run_report, name="run_report")
    r.add_get("/compare", pages.compare, name="compare")
    r.add_get("/compare/report.html", pages.compare_report, name="compare_report")
    # JSON API
    r.add_get("/api/runs", api.list_runs, name="api_runs")
    r.add_post("/api/runs", api.create_run, name="api_create_run")
    r.add_post("/api/runs/import", api.import_run, name="api_import_run")
    r.add_post("/api/preview", api.preview, name="api_preview")
    r.add_get(r"/api/runs/{id:\d+}", api.get_run, name="api_run")
    r.add_delete(r"/api/runs/{id:\d+}", api.delete_run, name="api_delete_run")
    r.add_get(r"/api/runs/{id:\d+}/series", api.series, name="api_series")
    r.add_get(r"/api/runs/{id:\d+}/window", api.window, name="api_window")
    r.add_get("/api/compare", api.compare, name="api_compare")
    r.add_get(r"/api/runs/{id:\d+}/endpoints", api.endpoints, name="api_endpoints")
    r.add_post(r"/api/runs/{id:\d+}/stop", api.stop_run, name="api_stop_run")
    r.add_get(r"/api/runs/{id:\d+}/ws", live.run_ws, name="api_ws")
    r.add_get("/api/presets", api.presets, name="api_presets")
    r.add_get("/api/cluster", api.cluster, name="api_cluster")
    # every route above has its row in openapi.OPERATIONS (test_openapi checks)
    r.add_get("/api/openapi.json", openapi.openapi_json, name="api_openapi")
    r.add_get("/healthz", api.healthz, name="healthz")
