"""What the fake API servers share: an aiohttp app on 127.0.0.1:0 and a client session."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

import aiohttp
from aiohttp import web


class FakeServer:
    """Start/stop an aiohttp app on 127.0.0.1:0 plus a client session for outgoing posts."""

    host: str
    url: str
    _runner: web.AppRunner | None
    _session: aiohttp.ClientSession | None

    async def start(self) -> Self:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @staticmethod
    async def _cancel(task: asyncio.Task | None) -> None:
        """Cancel a background task (a webhook worker) and wait for it to end."""
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _start_app(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def _stop_app(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST raw bytes; return the HTTP status, or 0 when the connection failed."""
        assert self._session is not None, f"{type(self).__name__} is not started"
        try:
            async with self._session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0
