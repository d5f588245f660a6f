"""The apply journal: one JSON-lines file per run under ``.routes/journal/``.

Every line is flushed as it is written (a batch's results together, right after the batch
is committed), so a run killed mid-way (even by SIGKILL) leaves every completed line
readable. Only names, versions, fingerprints, outcomes and
redacted data go in: never a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from reconciler.errors import PlanError
from reconciler.regular_files import read_regular

# json.dumps(ensure_ascii=True, default=str), made once: a line per route of an apply.
_LINE = json.JSONEncoder(ensure_ascii=True, default=str)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Journal:
    """An append-only JSON-lines event log; a ``None`` folder makes every call a no-op."""

    def __init__(self, folder: Path | None) -> None:
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        if folder is not None:
            self._open(folder)

    def _open(self, folder: Path) -> None:
        stamp = _utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for serial in range(1000):
                suffix = f"-{serial}" if serial else ""
                path = folder / f"{stamp}-{os.getpid()}{suffix}.jsonl"
                try:
                    # "x": one file per run, never appended to another run's journal
                    # 0600: a journal names routes and backends; nobody else needs to read it
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    self._file = os.fdopen(fd, "w", encoding="utf-8")
                except FileExistsError:
                    continue
                self.path = path
                return
        except OSError as exc:
            raise PlanError(
                f"cannot write the apply journal in {folder}: {exc.strerror or exc}",
                hint="make the folder writable, or point `journal:` in .routes.yaml elsewhere",
            ) from exc
        raise PlanError(f"cannot pick a new journal file name in {folder}")

    def event(self, kind: str, **fields: Any) -> None:
        """Append one event line (``event``, ``time`` and ``fields``) and flush it."""
        self.events([(kind, fields)])

    def events(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Append one line per (kind, fields), as ``event`` does, and flush them once."""
        if self._file is None or not events:
            return
        now = _utc_now().isoformat(timespec="milliseconds")
        # ASCII only: a value holding ESC, C1 or U+2028 is escaped, never raw in a terminal.
        text = "".join(
            _LINE.encode({"event": kind, "time": now, **fields}) + "\n" for kind, fields in events
        )
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(text)
                self._file.flush()
            except OSError:
                # A full disk must not turn written routes into failures: stop journaling.
                self._close_locked()

    def close(self) -> None:
        """Close the file; later events are dropped."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


# A journal line is a few hundred bytes; a file past this was not written by routes.
MAX_JOURNAL_BYTES = 64 * 1024 * 1024


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The events of a journal file; a torn last line (the run was killed) is skipped."""
    events: list[dict[str, Any]] = []
    for line in read_regular(path, limit=MAX_JOURNAL_BYTES).decode("utf-8").splitlines():
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def routes_applied_in_journal(folder: Path) -> set[str]:
    """Routes the journals in ``folder`` show as last written (created or updated, not deleted).

    Journals are read oldest first. What the finished ones (ending in ``run-end``) add up to
    is kept in ``applied-routes.json`` beside them, so a later call reads only the journals
    written since: drift costs the same with 5 journals or 5,000. A summary that does not
    match the folder (journals removed, a hand edit) is ignored and made again.
    """
    if not folder.is_dir():
        return set()
    names = sorted(path.name for path in folder.glob("*.jsonl"))
    covered, present = _summary(folder, names)
    summarised = set(present)
    finished = list(covered)
    for position, name in enumerate(names[len(covered) :], start=len(covered)):
        try:
            events = read_journal(folder / name)
        except (OSError, UnicodeDecodeError):
            events = []
        for event in events:
            if event.get("event") != "result" or event.get("outcome") not in (
                "applied",
                "already-applied",
            ):
                continue
            if event.get("action") == "delete":
                present.discard(str(event.get("route")))
            else:
                present.add(str(event.get("route")))
        # only an unbroken run of finished journals is summarised: a killed or running
        # apply's journal is read again next time, and so is everything after it
        if len(finished) == position and events and events[-1].get("event") == "run-end":
            finished.append(name)
            summarised = set(present)
    if len(finished) > len(covered):
        _write_summary(folder, finished, summarised)
    return present


SUMMARY_FILE = "applied-routes.json"


def _summary(folder: Path, names: list[str]) -> tuple[list[str], set[str]]:
    """The journals the summary covers (a prefix of ``names``) and the routes they leave."""
    try:
        summary = json.loads(read_regular(folder / SUMMARY_FILE, limit=MAX_JOURNAL_BYTES))
    except (OSError, ValueError, RecursionError):
        return [], set()
    if not isinstance(summary, dict):
        return [], set()
    covered, present = summary.get("journals"), summary.get("present")
    if (
        not isinstance(covered, list)
        or not isinstance(present, list)
        or names[: len(covered)] != covered
        or not all(isinstance(route, str) for route in present)
    ):
        return [], set()
    return covered, set(present)


def _write_summary(folder: Path, journals: list[str], present: set[str]) -> None:
    text = json.dumps({"journals": journals, "present": sorted(present)}, ensure_ascii=True)
    temporary = folder / f".{SUMMARY_FILE}.{os.getpid()}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, folder / SUMMARY_FILE)
    except OSError:  # a read-only folder: drift still works, it only reads everything again
        with contextlib.suppress(OSError):
            temporary.unlink()
