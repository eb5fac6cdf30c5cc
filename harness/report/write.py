"""Writing a run's report bundle: ``report.json`` (canonical), ``junit.xml`` and ``summary.md``.

Every file is written atomically (temporary file in the same directory, fsync, ``os.replace``),
so a CI job or a second run reading ``reports/<run>/`` sees either the old file or the new one,
never half of one, even if the harness is killed mid-write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.markdown import render_summary
from harness.report.schema import Report, parse_report, report_to_json

# Reports are not secret; mkstemp's 0600 would hide them from a CI artifact uploader running as
# another user.  An existing file keeps its mode.
_NEW_FILE_MODE = 0o644


def canonical_json(report: Report) -> str:
    """The one text form of a report: sorted keys, two-space indent, ASCII only, final newline.

    ASCII only (``ensure_ascii``) because payload text may hold lone surrogates or control
    characters; escaped, they survive any encoding and any transport.
    """
    return json.dumps(report_to_json(report), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_atomically(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one step; on any failure the old file is intact."""
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
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        # BaseException too: a Ctrl-C between mkstemp and replace must not leave litter behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
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


def write_report_bundle(directory: str | Path, report: Report) -> dict[str, Path]:
    """Write ``report.json``, ``junit.xml``, ``summary.md`` and ``report.html`` into ``directory``.

    The other files are rendered from the JSON text read back through the strict reader, so they
    show exactly what ``report.json`` holds, and a report the reader would reject (a non-string
    title, a NaN duration) is refused before anything is written.  Returns the paths by name.
    """
    directory = Path(directory)
    text = canonical_json(report)
    canonical = parse_report(json.loads(text), str(directory / "report.json"))
    rendered = {
        "report.json": text,
        "junit.xml": render_junit(canonical),
        "summary.md": render_summary(canonical),
        "report.html": render_html(canonical),
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, content in rendered.items():  # report.json first: it is the one that matters
        paths[name] = directory / name
        write_atomically(paths[name], content)
    return paths
