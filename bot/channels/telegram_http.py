"""python-telegram-bot's HTTP on aiohttp: a `telegram.request.BaseRequest` for sends and polling.

Why not PTB's own `HTTPXRequest`: aiohttp is already a dependency (the web server
and the Zalo channel), and under load httpx/httpcore cost about 37 % of the bot's
CPU per update in benchmarks/bench_telegram.py, most of it httpcore's pool
bookkeeping (matching queued requests to connections, checking every pooled
socket for expiry and readability, anyio/sniffio task look-ups). aiohttp's
connector hands out a pooled keep-alive connection with a dict look-up.

The contract is PTB's (mirrored from `HTTPXRequest`): `do_request` returns
(status, body) for any HTTP answer, PTB turns the status into its errors, and
this class raises only for the wire:

- `TimedOut` for timeouts, `NetworkError` for connection errors;
- when nothing of the request left this process (no connection free in the
  pool in time, no connection made in time, or none could be made at all), the
  PTB error's cause is a `NotSent`: sending again cannot make a copy. The outbox
  relies on it: a timeout with a `NotSent` cause is retried, any other timeout
  is "in doubt" (the message may have arrived) and is not sent again.

Timeouts, per request or the defaults given here (`DEFAULT_NONE` = the default):
pool = waiting for a free connection (our own semaphore, so it is told apart
from connecting); connect = opening a connection; read = longest silence while
waiting for the answer (aiohttp starts it once the body is written). aiohttp has
no per-write timeout, so the write timeout (or, for uploads, the media write
timeout) goes into a deadline for the whole request, connect + write + read: an
upload that stalls cannot hang a sender for ever.

Proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) are
honoured as httpx honours them, read once when the session is made (aiohttp's
own `trust_env` would look them up, and ~/.netrc, in a thread on every request).
aiohttp talks to http:// proxies (https targets go through them with CONNECT); a
socks:// one is refused at start.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput  # PTB's "a float, None, or DEFAULT_NONE"

FORM = "application/x-www-form-urlencoded"
TOKEN_IN_URL = re.compile(r"(/bot)[^/\s'\"]+")  # .../bot<token>/method and .../file/bot<token>/path
KEEPALIVE_SECONDS = 5.0  # httpx's keep-alive expiry: an idle connection is not reused after this
# aiohttp >= 3.10 raises this when no connection was made in time; older ones only ServerTimeoutError
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if t is not None)


class NotSent(Exception):
    """The cause of a PTB error raised before any byte of the request left: safe to send again."""


class PoolTimeout(NotSent):
    """Every connection of the pool stayed busy for the whole pool timeout."""


class ConnectTimeout(NotSent):
    """No connection to the server (or the proxy) could be opened within the connect timeout."""


class ConnectFailed(NotSent):
    """No connection could be opened at all (refused, unreachable, name not found, TLS refused)."""


def not_sent(exc: BaseException) -> bool:
    """Whether a PTB error from this class was raised before the request went out."""
    return isinstance(exc.__cause__, NotSent)


def _described(err: BaseException) -> str:
    """aiohttp's error as text, without the bot token (some of its messages quote the URL)."""
    return TOKEN_IN_URL.sub(r"\1***", f"aiohttp.{type(err).__name__}: {err}")


def _not_sent(kind: type[NotSent], err: BaseException) -> NotSent:
    cause = kind(_described(err))
    cause.__cause__ = err  # keep aiohttp's error (and its traceback) in the chain
    return cause


# the proxy, headers for a CONNECT to it (https targets), headers for the request itself (http targets)
_Proxy = tuple[URL | None, Mapping[str, str] | None, Mapping[str, str] | None]
_DIRECT: _Proxy = (None, None, None)


def _env_proxies() -> dict[str, str]:
    """HTTP(S)_PROXY, ALL_PROXY and NO_PROXY as urllib reads them (what httpx honours too).

    aiohttp speaks only to http:// proxies (https:// ones on recent Pythons); a socks://
    one fails at start with a clear message rather than at the first send, as PTB's
    httpx client fails without its socks extra."""
    proxies = urllib.request.getproxies_environment()
    for key in ("http", "https", "all"):
        value = proxies.get(key, "")
        scheme = value.split("://", 1)[0].lower() if "://" in value else "http"  # host:port is http
        if scheme not in ("http", "https"):
            raise RuntimeError(f"the {key.upper()}_PROXY environment variable names a {scheme}:// proxy; "
                               "the Telegram channel can use only http:// proxies")
    return proxies


class AiohttpRequest(BaseRequest):
    """`BaseRequest` on one aiohttp session: HTTP/1.1 keep-alive, at most `connection_pool_size`
    connections (requests beyond that wait up to the pool timeout for one to come free).

    The session is made in `initialize` (it belongs to the running event loop) and
    closed, with its connections, in `shutdown`; `initialize` after `shutdown` makes a
    new one, as `HTTPXRequest` does.
    """

    __slots__ = ("_connect_timeout", "_media_write_timeout", "_pool_size", "_pool_timeout", "_proxies",
                 "_proxy_for_origin", "_read_timeout", "_session", "_slots", "_timeouts", "_trust_env",
                 "_write_timeout")

    def __init__(self, connection_pool_size: int = 16, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0,
                 trust_env: bool = True) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._proxies: Mapping[str, str] = {}
        self._proxy_for_origin: dict[tuple[str, str], _Proxy] = {}
        self._timeouts: dict[tuple[float | None, float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        """See `BaseRequest.read_timeout`: the default read timeout in seconds."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        return self._pool_size

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The open session (None before `initialize` and after `shutdown`)."""
        return self._session if self._session is not None and not self._session.closed else None

    async def initialize(self) -> None:
        """See `BaseRequest.initialize`: a fresh session and pool unless one is open."""
        if self.session is not None:
            return
        proxies = _env_proxies() if self._trust_env else {}
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0,
                                         keepalive_timeout=KEEPALIVE_SECONDS)
        self._session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": self.USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets no cookies
            timeout=aiohttp.ClientTimeout(total=None), trust_env=False)
        self._slots = asyncio.Semaphore(self._pool_size)
        self._proxies = proxies
        self._proxy_for_origin = {}

    async def shutdown(self) -> None:
        """See `BaseRequest.shutdown`: the session and every pooled connection closed."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _proxy(self, url: str) -> _Proxy:
        """The environment's proxy for this URL, with its credentials as headers (all None:
        direct), decided once per origin. aiohttp ignores credentials in a proxy URL and
        deprecates `proxy_auth`; a proxy gets them on the CONNECT for an https target (aiohttp's
        `proxy_headers`), and on the request itself for a plain http one."""
        if not self._proxies:
            return _DIRECT
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        found = self._proxy_for_origin.get(origin)
        if found is None:
            proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
            if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", self._proxies):
                found = _DIRECT
            else:
                address = URL(proxy if "://" in proxy else f"http://{proxy}")
                auth = aiohttp.BasicAuth.from_url(address)
                header = {"Proxy-Authorization": auth.encode()} if auth else None
                found = (address.with_user(None), header if parts.scheme == "https" else None,
                         header if parts.scheme != "https" else None)
            self._proxy_for_origin[origin] = found
        return found

    def _timeout(self, connect: float | None, read: float | None, write: float | None) -> aiohttp.ClientTimeout:
        key = (connect, read, write)
        timeout = self._timeouts.get(key)
        if timeout is None:
            deadline = None if None in key else connect + read + write  # type: ignore[operator]
            timeout = aiohttp.ClientTimeout(total=deadline, connect=connect, sock_connect=connect, sock_read=read)
            if len(self._timeouts) < 64:  # a handful of combinations in practice
                self._timeouts[key] = timeout
        return timeout

    @staticmethod
    def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
        """The request body: multipart when there are files (as httpx's `data=` + `files=`),
        otherwise the parameters url-encoded (JSON-encoded values, as PTB gives them)."""
        if request_data is None:
            return None, None
        if request_data.contains_files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            return form, None
        return request_data.url_encoded_parameters().encode("ascii"), {"Content-Type": FORM}

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`: (HTTP status, body), or `TimedOut`/`NetworkError`."""
        session, slots = self._session, self._slots
        if session is None or session.closed or slots is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        if read_timeout is self.DEFAULT_NONE:
            read_timeout = self._read_timeout
        if connect_timeout is self.DEFAULT_NONE:
            connect_timeout = self._connect_timeout
        if pool_timeout is self.DEFAULT_NONE:
            pool_timeout = self._pool_timeout
        if write_timeout is self.DEFAULT_NONE:
            write_timeout = self._media_write_timeout if uploads else self._write_timeout
        data, headers = self._body(request_data)
        proxy, proxy_headers, for_proxy = self._proxy(url)
        if for_proxy:
            headers = {**(headers or {}), **for_proxy}

        if slots.locked():  # all connections busy: wait for one, at most the pool timeout
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except TimeoutError as err:
                raise TimedOut(
                    "Pool timeout: All connections in the connection pool are occupied. Request was "
                    "*not* sent to Telegram. Consider adjusting the connection pool size or the pool "
                    "timeout.") from _not_sent(PoolTimeout, err)
        else:
            await slots.acquire()  # free: returns at once
        try:
            async with session.request(method, url, data=data, headers=headers, allow_redirects=False,
                                       proxy=proxy, proxy_headers=proxy_headers,
                                       timeout=self._timeout(connect_timeout, read_timeout, write_timeout)) as res:
                return res.status, await res.read()
        except _CONNECT_TIMEOUT as err:
            raise TimedOut(f"Connect timeout: no connection within {connect_timeout} s; the request was "
                           "*not* sent") from _not_sent(ConnectTimeout, err)
        except TimeoutError as err:  # the answer (or the rest of it) did not come in time
            raise TimedOut from err
        except aiohttp.ClientConnectorError as err:  # incl. proxy, DNS and TLS failures
            raise NetworkError(_described(err)) from _not_sent(ConnectFailed, err)
        except aiohttp.ClientError as err:
            raise NetworkError(_described(err)) from err
        finally:
            slots.release()
