"""Loading many descriptor files on every core the process may use.

Parsing is most of a load and each file parses alone, so a load of many files that the
descriptor cache does not hold hands slices of them to worker processes (forked, so they
start with the files already read and the code already imported). Each worker loads its
files exactly as the main process would and hands back, per file, what the cache keeps for
it (``Collector.recorded``); meanwhile the main process loads the first slice itself, then
adds the workers' results in file order. The result is the one a single process gives,
diagnostics and all: the cache's own replay, which a property test holds equal to a parse.

Only on Linux, where forking is the platform's own way to start a process (on macOS a
forked child can hang in system libraries). A worker that fails or dies costs nothing but
time: its files are loaded here instead.
``ROUTES_LOAD_WORKERS`` sets how many processes load (``1``: this one only; anything but a
whole number from 1 is an error); the default is every CPU this process may run on,
at most ``MAX_WORKERS``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reconciler.descriptors.cache import Entry
from reconciler.descriptors.forms import Collector, load_file
from reconciler.errors import ConfigError
from reconciler.quoting import quote

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["MIN_FILES", "add_files", "workers"]

MIN_FILES = 256  # below this many files to parse, starting workers costs more than it saves
MAX_WORKERS = 8

Files = Sequence[tuple[str, bytes]]

# In a worker, the files of the load it serves (``_receive``).
_files: Files = ()


def workers() -> int:
    """How many processes a large load uses: ``ROUTES_LOAD_WORKERS`` or the usable CPUs."""
    wanted = os.environ.get("ROUTES_LOAD_WORKERS", "").strip()
    if wanted:
        if not (wanted.isascii() and wanted.isdigit() and int(wanted) >= 1):
            raise ConfigError(
                f"ROUTES_LOAD_WORKERS={quote(wanted)} is not a number of processes",
                hint=f"set it to 1 (this process only) up to {MAX_WORKERS}, or unset it",
            )
        return min(int(wanted), MAX_WORKERS)
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return max(1, min(usable, MAX_WORKERS))


def add_files(collector: Collector, files: Files) -> None:
    """``collector.add`` every file, in order, parsing on several processes when many need it."""
    count = workers()
    keys = [collector.cache_key(display, content) for display, content in files]
    to_parse = [i for i, key in enumerate(keys) if not collector.is_cached(key)]
    # Forked workers, where forking is the platform's own way (elsewhere it can hang).
    if count < 2 or len(to_parse) < MIN_FILES or not sys.platform.startswith("linux"):
        for (display, content), key in zip(files, keys, strict=True):
            collector.add(display, content, key)
        return
    # The main process also replays what the workers give, so it takes a smaller slice.
    own = len(to_parse) * 4 // (5 * count)
    slices = _split(to_parse[own:], count - 1)
    # Imported here: about 10 ms that a load of a few files (`--changed-since`) never needs.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fork = multiprocessing.get_context("fork")
    # A forked worker gets the files with its memory: handed to the initializer, not pickled.
    with ProcessPoolExecutor(count - 1, fork, initializer=_receive, initargs=(files,)) as pool:
        pending = {part[0]: (part, pool.submit(_load_slice, part)) for part in slices}
        index = 0
        while index < len(files):
            if index in pending:
                part, future = pending.pop(index)
                _add_slice(collector, files, keys, part, future)
                index = part[-1] + 1
                continue
            collector.add(*files[index], keys[index])
            index += 1


def _add_slice(
    collector: Collector,
    files: Files,
    keys: list[str | None],
    part: list[int],
    future: Future[list[Entry]],
) -> None:
    """Add files ``part[0]`` to ``part[-1]``: the worker's results for those it parsed."""
    try:
        loaded = dict(zip(part, future.result(), strict=True))
    except Exception:  # a failed or dead worker: load its files here instead
        loaded = {}
    for index in range(part[0], part[-1] + 1):
        display, content = files[index]
        entry = loaded.get(index)
        if entry is None:
            collector.add(display, content, keys[index])
        else:
            collector.add_loaded(display, content, entry, keys[index])


def _receive(files: Files) -> None:
    """In a worker, once: keep the files of the load."""
    global _files
    _files = files


def _load_slice(indices: list[int]) -> list[Entry]:
    """In a worker: load each file of ``indices`` alone, as the cache would record it."""
    collector = Collector()
    entries = []
    for index in indices:
        display, content = _files[index]
        docs, diags = len(collector.documents), len(collector.diagnostics)
        load_file(display, content, collector)
        entries.append(collector.recorded(docs, diags))
    return entries


def _split(items: list[int], parts: int) -> list[list[int]]:
    """``items`` in ``parts`` contiguous slices of nearly equal length (no empty one)."""
    size, extra = divmod(len(items), parts)
    slices, start = [], 0
    for part in range(parts):
        end = start + size + (part < extra)
        if end > start:
            slices.append(items[start:end])
        start = end
    return slices
