"""``/docs``: an API explorer (Swagger UI) whose every asset the gateway serves itself, so it works offline.

Swagger UI is vendored from the npm package ``swagger-ui-dist`` into
``explorer_assets/`` (see ``scripts/vendor-swagger-ui.sh``; its version is in
``explorer_assets/VERSION``): nothing is fetched from a CDN or at run time. The page
sends a Content-Security-Policy that allows only the gateway's own origin, so
a browser would refuse an external asset even if one crept in.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
}
POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{base}/docs/swagger-ui.css">
<link rel="icon" href="data:,">
</head>
<body>
<div id="swagger-ui" data-openapi="{base}/openapi.json"></div>
<script src="{base}/docs/swagger-ui-bundle.js"></script>
<script src="{base}/docs/init.js"></script>
</body>
</html>
"""


class Explorer:
    """The page and its assets for one gateway; the assets are read from the package once, on first use."""

    def __init__(self, prefix: str, title: str) -> None:
        self.prefix = prefix
        self.title = title
        self._assets: dict[str, bytes] = {}

    def routes(self) -> list[Route]:
        routes = [Route(f"{self.prefix}/docs", self.page, methods=["GET"])]
        routes += [Route(f"{self.prefix}/docs/{name}", self._asset_route(name), methods=["GET"]) for name in ASSETS]
        return routes

    async def page(self, request: Request) -> Response:
        # root_path: where the gateway is mounted inside another application (Starlette Mount, FastAPI mount).
        base = html.escape(request.scope.get("root_path", "").rstrip("/") + self.prefix)
        body = PAGE.format(title=html.escape(self.title), base=base)
        return HTMLResponse(body, headers={"Content-Security-Policy": POLICY})

    def _asset_route(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        media = ASSETS[name]

        async def asset(request: Request) -> Response:
            content = self._assets.get(name)
            if content is None:
                content = self._assets[name] = (
                    resources.files("dataflow_gateway") / "explorer_assets" / name
                ).read_bytes()
            return Response(content, media_type=media, headers={"Cache-Control": "public, max-age=3600"})

        return asset
