"""Security headers on every response, in one place: `SecurityHeaders`, a pure ASGI middleware
(it only touches the response start, so streamed and ranged media pass through unbuffered),
installed around the whole middleware stack (`install_security_headers`), so the answers that
Starlette's own outer layers give (a 500, a body over the size limit) carry them too.

Pages run only the app's own script files (no inline script, no inline event handlers: page
data travels in `<script type="application/json">` blocks, which are not executed) and only
its stylesheets: no style attributes either (bar widths and heat-map colours are data
attributes that `static/common.js` applies through the CSSOM, which the policy allows). Media answers get a sandboxing CSP on top, so a file that somehow
reached the player could not run script on the app's origin even if opened directly. No page
may be framed. A `Location` pointing at the request's own host is made relative, so a forged
`Host` header never comes back in a redirect (Starlette's trailing-slash redirect builds
absolute URLs from it).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# /media/... is never a page: nothing in it may load or run anything.
MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def relative_location(location: str, host: str) -> str:
    """`location` without scheme and host when it points at `host` (the request's own);
    leading slashes collapse to one, so the result cannot become a protocol-relative URL."""
    parts = urlsplit(location)
    if not parts.netloc or parts.scheme not in ("http", "https", ""):
        return location
    if parts.netloc.lower() != host.lower():
        return location
    path = "/" + parts.path.lstrip("/\\")
    return urlunsplit(("", "", path, parts.query, parts.fragment))


class SecurityHeaders:
    """Adds the security headers to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        media = scope["path"].startswith("/media/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = (
                    MEDIA_CONTENT_SECURITY_POLICY if media else CONTENT_SECURITY_POLICY
                )
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "location" in headers:
                    headers["Location"] = relative_location(headers["location"], host)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: Starlette) -> None:
    """Wrap `app`'s whole middleware stack (built at its first request) in `SecurityHeaders`:
    `add_middleware` would place it inside Starlette's error and body-limit layers."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())  # type: ignore[method-assign]
