"""Writing a run's report bundle: ``report.json`` (canonical), ``junit.xml``, ``summary.md``, ``report.html``,
``report.ktap``.

Every file is written atomically (temporary file in the same directory, fsync, ``os.replace``),
so a reader sees either the old file or the new one, never half of one.  A run's bundle as a
whole is built in a staging directory beside its place, with a journal of the results streamed
in as they finish, and renamed into place at the end (:func:`open_bundle`): a full disk or a
kill loses at most the case in flight, and no directory ever holds files of two runs.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness.execute.lifetime import InChild, finish_in_child, kill_and_reap, start_in_child
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.ktap import render_ktap
from harness.report.markdown import render_summary
from harness.report.schema import Report, Result, parse_report, parse_result, report_to_json, result_to_json

# Reports are not secret; mkstemp's 0600 would hide them from a CI artifact uploader running as
# another user.  An existing file keeps its mode.
_NEW_FILE_MODE = 0o644
_NEW_DIRECTORY_MODE = 0o755

# report.json first: it matters most
BUNDLE_FILES = ("report.json", "junit.xml", "summary.md", "report.html", "report.ktap")
JOURNAL = "results.jsonl"  # one result per line, appended as each finishes (README: Reports)


def canonical_json(report: Report) -> str:
    """The one text form of a report: sorted keys, two-space indent, ASCII only, final newline.

    ASCII only (``ensure_ascii``) because payload text may hold lone surrogates or control
    characters; escaped, they survive any encoding and any transport.
    """
    return json.dumps(report_to_json(report), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_atomically(path: str | Path, text: str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one step; on any failure the old file is intact.

    ``durable``: the file and the rename are on disk when this returns (two fsyncs, ~5 ms on this
    machine's disk).  Without it a reader still sees the old file or the whole new one, and only a
    crash of the machine may lose the write (a fuzzing corpus entry, written many times a second).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        # BaseException too: a Ctrl-C between mkstemp and replace must not leave litter behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk (rename(2), fsync(2)).
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # not every platform or file system lets a directory be opened; the data is synced
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some file systems refuse fsync on directories (EINVAL); nothing more can be done
    finally:
        os.close(dir_fd)


# A report of this many results or more renders report.html and summary.md in a forked child, started
# before report.json is even formatted, while this process formats, reads back and renders the rest:
# the end of a whole run waits for all of it (5700 results, CPU: report.json 0.18 s, read back 0.12 s,
# html 0.34 s, junit 0.10 s, summary 0.02 s, ktap 0.02 s here), and a second CPU takes the html.  The
# child renders the report it was given; its files are used only when the report read back from
# report.json equals that report (otherwise, and when the child fails, this process renders them from
# what it read back).  A small report is not worth a fork.
RENDER_ASIDE_RESULTS = 1000
_RENDER_ASIDE_TIMEOUT = 600.0  # seconds; past it the child is killed and this process renders its part


def _render_aside(report: Report) -> InChild[tuple[str, str]] | None:
    """A forked child rendering summary.md and report.html of ``report`` (None: not worth it, or no fork)."""
    if len(report.results) < RENDER_ASIDE_RESULTS:
        return None
    with contextlib.suppress(OSError):  # no fork (EAGAIN, ENOMEM): all of it here
        return start_in_child(lambda: (render_summary(report), render_html(report)), _RENDER_ASIDE_TIMEOUT)
    return None


def _render(canonical: Report, aside: InChild[tuple[str, str]] | None) -> tuple[str, str, str, str]:
    """junit.xml, summary.md, report.html and report.ktap of ``canonical`` (the order of BUNDLE_FILES);
    ``aside``: the child rendering summary.md and report.html of a report equal to ``canonical``."""
    junit, ktap = render_junit(canonical), render_ktap(canonical)
    rendered = finish_in_child(aside).value if aside is not None else None
    # a child that died or raised: rendered here, where a renderer's exception propagates as it would have
    summary, html = rendered if rendered is not None else (render_summary(canonical), render_html(canonical))
    return junit, summary, html, ktap


def write_report_bundle(directory: str | Path, report: Report) -> dict[str, Path]:
    """Write ``report.json`` and the files rendered from it (BUNDLE_FILES) into ``directory``, file by file.

    The other files are rendered from the JSON text read back through the strict reader, so they
    show exactly what ``report.json`` holds, and a report the reader would reject (a non-string
    title, a NaN duration) is refused before anything is written.  Returns the paths by name.
    """
    directory = Path(directory)
    aside = _render_aside(report)
    try:
        text = canonical_json(report)
        canonical = parse_report(json.loads(text), str(directory / "report.json"))
    except BaseException:
        if aside is not None:
            _abandon(aside)
        raise
    if aside is not None and canonical != report:  # the child's files would not show what report.json holds
        _abandon(aside)
        aside = None
    rendered = dict(zip(BUNDLE_FILES, (text, *_render(canonical, aside)), strict=True))
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, content in rendered.items():
        paths[name] = directory / name
        write_atomically(paths[name], content)
    return paths


def _abandon(child: InChild[tuple[str, str]]) -> None:
    """Kill and reap a rendering child whose files are not wanted."""
    os.close(child.read_end)
    kill_and_reap(child.pid)


# ----------------------------------------------------------------------------------------------
# Crash-safe bundles: a journal of finished results, a staging directory renamed into place


_FSYNC_INTERVAL = 1.0  # seconds between fsyncs of the journal; every line is written through at once
_CLAIM_ATTEMPTS = 100
_INSTALL_ATTEMPTS = 3  # renames tried when concurrent --overwrite runs keep replacing the same directory


class OutputError(Exception):
    """An output could not be written (full disk, read-only file system, no permission, ...): one line."""


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into an :class:`OutputError` naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _unique_name(prefix: str) -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}{stamp}-{secrets.token_hex(3)}"


def claim_new_directory(parent: Path, prefix: str = "") -> Path:
    """Create ``parent/<prefix><UTC timestamp>-<random suffix>``, a directory no other run has.

    ``mkdir`` without ``exist_ok`` is the claim: of two runs that pick the same name (started in
    the same second, and the same suffix), one gets EEXIST and picks another name.
    """
    with writing(parent):
        parent.mkdir(parents=True, exist_ok=True)
        for _ in range(_CLAIM_ATTEMPTS):
            path = parent / _unique_name(prefix)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
    raise OutputError(f"cannot write {parent}: {_CLAIM_ATTEMPTS} new directory names in a row were taken")


class Journal:
    """Finished results as JSON lines (the ``results[]`` entries of ``report.json``), appended one by one.

    Each line goes to the kernel with its own ``write`` as soon as the result is in, so a killed
    run loses at most the case in flight; ``fsync`` follows at most a second later.  A write that
    fails part-way (ENOSPC) is cut back to the last whole line, so every line always parses.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0  # whole lines in the file
        self._size = 0
        self._synced = time.monotonic()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        self._fd: int | None = os.open(path, flags, _NEW_FILE_MODE)

    def record(self, result: Result) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the journal is closed")
        line = json.dumps(result_to_json(result), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
        data = memoryview(line.encode("ascii"))  # json.dumps escapes everything else (ensure_ascii)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
            if time.monotonic() - self._synced >= _FSYNC_INTERVAL:
                os.fsync(self._fd)
                self._synced = time.monotonic()
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # freeing space works on a full disk
            raise
        self._size += len(line)
        self.count += 1

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_journal(path: Path) -> list[Result]:
    """The results in a journal, each line through the strict reader (``path: line N: ...`` on error)."""
    with path.open(encoding="ascii") as lines:
        return [parse_result(json.loads(line), f"{path}: line {n}") for n, line in enumerate(lines, 1)]


class PendingBundle:
    """A report bundle under construction in a staging directory beside ``out``.

    :func:`open_bundle` checks ``out`` and creates the staging directory before any work starts;
    :meth:`record` streams each result into the journal there; :meth:`finish` writes the bundle
    files and renames the whole directory to ``out``.  A failure leaves ``out`` as it was (missing,
    empty or the previous bundle) and keeps the staging directory with its journal; the
    :class:`OutputError` says where.
    """

    def __init__(self, out: Path, staging: Path, *, overwrite: bool, claimed: bool) -> None:
        self.out = out
        self.staging = staging
        self.overwrite = overwrite
        self._claimed = claimed  # out is an empty directory this run created (the default name)
        self.journal = Journal(staging / JOURNAL)

    def record(self, result: Result) -> None:
        try:
            self.journal.record(result)
        except OSError as exc:
            raise self._failed(exc) from None

    def finish(self, report: Report) -> dict[str, Path]:
        """Write the bundle and move it into place as a whole; the paths by file name."""
        try:
            self.journal.close()
            write_report_bundle(self.staging, report)
            self._install()
        except OSError as exc:
            raise self._failed(exc) from None
        return {name: self.out / name for name in (*BUNDLE_FILES, JOURNAL)}

    def _install(self) -> None:
        """Rename the staging directory to ``out``; with overwrite, a bundle there is renamed away first."""
        displaced: list[Path] = []
        for attempt in range(1, _INSTALL_ATTEMPTS + 1):
            try:
                os.rename(self.staging, self.out)  # replaces a missing or empty directory (rename(2))
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                if not self.overwrite or attempt == _INSTALL_ATTEMPTS:
                    why = (
                        "another run put a bundle there meanwhile" if not self.overwrite else "other runs kept doing so"
                    )
                    raise OutputError(
                        f"cannot write {self.out}: {why} (this run's bundle is kept at {self.staging})"
                    ) from None
            displaced.extend(self._move_away())
        _fsync_directory(self.out.parent)
        for old in displaced:
            shutil.rmtree(old, ignore_errors=True)

    def _move_away(self) -> list[Path]:
        """Rename the bundle in ``out`` to a new hidden name beside it: [that name], or [] if it is gone."""
        old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
        try:
            os.rename(self.out, old)  # onto the empty directory just made: atomic, and the name is ours
        except FileNotFoundError:  # a concurrent run moved it away first
            os.rmdir(old)
            return []
        return [old]

    def _failed(self, exc: OSError) -> OutputError:
        if self._claimed:
            _release(self.out)
        return OutputError(
            f"cannot write {self.out}: {exc.strerror or exc} "
            f"(the journal with {self.journal.count} finished results is kept at {self.journal.path})"
        )


def open_bundle(out: Path | None, *, default_prefix: str = "", overwrite: bool = False) -> PendingBundle:
    """Check the bundle's place and create its staging directory (and journal), before any work.

    ``out`` None: a new ``reports/<prefix><UTC timestamp>-<suffix>``.  An existing ``out`` must be
    a directory, and empty unless ``overwrite``; even then it must hold nothing but a bundle, so
    that ``--overwrite`` cannot delete anything else.
    """
    claimed = out is None
    if out is None:
        out = claim_new_directory(Path("reports"), default_prefix)
    elif out.name in ("", ".", ".."):
        out = Path(os.path.abspath(out))
    _check_target(out, overwrite=overwrite)
    try:
        with writing(out):
            out.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
            try:
                os.chmod(staging, _NEW_DIRECTORY_MODE)
                return PendingBundle(out, staging, overwrite=overwrite, claimed=claimed)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except OutputError:
        if claimed:
            _release(out)
        raise


def _release(claimed: Path) -> None:
    """Remove a directory :func:`claim_new_directory` made for a bundle that will not come."""
    with contextlib.suppress(OSError):
        claimed.rmdir()  # only while empty


def _check_target(out: Path, *, overwrite: bool) -> None:
    if out.is_symlink():
        raise OutputError(f"{out} is a symbolic link: give the directory itself")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out} is not a directory")
    if os.path.ismount(out):
        raise OutputError(f"{out} is a mount point: give a directory inside it (the bundle is renamed into place)")
    with writing(out):
        entries = sorted(os.listdir(out))
    if entries and not overwrite:
        raise OutputError(f"{out} is not empty: pass --overwrite to replace the bundle in it, or give a new directory")
    strangers = [name for name in entries if name not in (*BUNDLE_FILES, JOURNAL)]
    if strangers:
        raise OutputError(
            f"{out} holds {strangers[0]!r}, which is not part of a report bundle: --overwrite only replaces a bundle"
        )
