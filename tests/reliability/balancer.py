"""A round-robin TCP balancer on loopback: what stands in front of ``routes serve`` replicas.

Each new client connection goes to the next upstream in turn and bytes are copied both ways
until either side closes, as a layer-4 load balancer does. Used by the reliability tests to
send one ``routes apply`` through two replicas.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


@contextmanager
def balanced(urls: list[str]) -> Iterator[tuple[str, Counter[str]]]:
    """A loopback URL spreading connections over ``urls``, and connections counted per url."""
    upstreams = itertools.cycle(urls)
    counted: Counter[str] = Counter()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    streams: set[asyncio.StreamWriter] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        url = next(upstreams)
        counted[url] += 1
        target = urlsplit(url)
        try:
            server_r, server_w = await asyncio.open_connection(target.hostname, target.port)
        except OSError:
            client_w.close()  # the upstream is down: the client sees a dropped connection
            return
        streams.update((client_w, server_w))
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        streams.difference_update((client_w, server_w))

    stop = asyncio.Event()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        started.set()
        await stop.wait()
        server.close()
        for stream in list(streams):  # every pipe then reads its end and finishes
            stream.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if others:
            await asyncio.wait(others, timeout=5)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("balancer did not start")
    try:
        yield f"http://127.0.0.1:{port[0]}", counted
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
