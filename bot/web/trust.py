"""Who is asking, and what every response tells the browser.

The client's address is the socket's peer, unless that peer is one of the
reverse proxies named in `web.trusted_proxies`: then X-Forwarded-For is read
from the right, skipping trusted proxies, and the first address that is not
one of them is the client. A header from anyone else is ignored, so a
visitor cannot pick the address their failed logins are counted against.

Every response carries headers that make the browser refuse what the pages
never do: guess a content type (nosniff), be framed (clickjacking), send our
URLs to other sites, run a script or load anything the console did not serve
itself (Content-Security-Policy).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The pages use inline <style> (and style="" for chart bars) and one script file, /static/chat.js.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# For stored files: even opened on their own, nothing in them may run.
FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": PAGE_POLICY,
}
FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: web.BaseRequest, proxies: tuple[Network, ...]) -> str:
    """The address failed attempts are counted against and logs name."""
    peer = request.remote or ""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            address = _address(hop)
            return str(address) if address is not None else peer  # garbage from the proxy's client: the proxy
    return peer


def _trusted(text: str, proxies: tuple[Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in net for net in proxies)


def is_direct_loopback(request: web.BaseRequest) -> bool:
    """A request from this machine that no proxy relayed (a relayed one says so in its headers)."""
    address = _address(request.remote or "")
    if address is None or not address.is_loopback:
        return False
    return not any(name in request.headers for name in FORWARDED_HEADERS)


async def add_security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, errors and files included; a handler's own value wins."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
