"""The /docs page: the API description rendered on the server as one self-contained HTML
page (no scripts, stylesheets or fonts from a CDN), so it works on an offline network."""

from __future__ import annotations

import html
import json

_CSS = ("body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;"
        "color:#222}h2{color:#1b6ca8;border-bottom:1px solid #ccc}code,pre{background:#f4f6f8;"
        "padding:1px 4px}pre{padding:.6em;overflow-x:auto}.m{font-weight:700;color:#fff;"
        "padding:1px 6px;border-radius:3px;background:#1b6ca8}.post{background:#3c9d5d}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:left}")


def docs_html(doc: dict) -> str:
    info = doc.get("info", {})
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>{html.escape(info.get('title', 'API'))}</title><style>{_CSS}</style>",
           "</head><body>",
           f"<h1>{html.escape(info.get('title', 'API'))} {html.escape(info.get('version', ''))}</h1>",
           f"<p>{html.escape(info.get('description', ''))}</p>",
           "<p>The machine-readable description: <code>GET /openapi.json</code>.</p>"]
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            out.append(f"<h2><span class='m {method}'>{method.upper()}</span> "
                       f"<code>{html.escape(path)}</code></h2>")
            if op.get("summary"):
                out.append(f"<p><strong>{html.escape(op['summary'])}</strong></p>")
            if op.get("description"):
                out.append(f"<p>{html.escape(op['description'])}</p>")
            params = op.get("parameters", [])
            if params:
                rows = "".join(f"<tr><td><code>{html.escape(p['name'])}</code></td>"
                               f"<td>{html.escape(p.get('in', ''))}</td>"
                               f"<td>{html.escape(p.get('description', ''))}</td></tr>"
                               for p in params)
                out.append(f"<table><tr><th>parameter</th><th>in</th><th></th></tr>{rows}"
                           "</table>")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                out.append("<p>Request body: " + ", ".join(
                    f"<code>{html.escape(k)}</code>" for k in body) + "</p>")
            resp = op.get("responses", {})
            if resp:
                out.append("<p>Responses: " + ", ".join(
                    f"{html.escape(str(k))} {html.escape(v.get('description', ''))}"
                    for k, v in resp.items()) + "</p>")
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        out.append("<h2>Schemas</h2>")
        for name, sch in schemas.items():
            out.append(f"<h3>{html.escape(name)}</h3><pre>"
                       f"{html.escape(json.dumps(sch, indent=1))}</pre>")
    out.append("</body></html>")
    return "\n".join(out)
