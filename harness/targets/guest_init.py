"""The init of a user-mode Linux guest: ``python -I -S guest_init.py SPEC.json`` as process 1.

It mounts what the kernel does not (``/proc``, ``/sys``, ``/dev/pts``, ``/dev/shm``; only ``/`` over
hostfs and devtmpfs ``/dev`` are there), runs the command of the spec with the caller's environment
and working directory (not init's: unknown kernel arguments such as ``mem=`` land in it), its
stdout and stderr in files on the host filesystem, writes its exit status to a file, syncs (hostfs
writes can be lost otherwise) and powers off.  Measured on UML 6.1.176 (Debian 6.1um4+b13).

Only the standard library is imported: the file runs as a script under ``python -I -S``.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

RB_POWER_OFF = 0x4321FEDC  # glibc's reboot(howto)
MOUNTS = (  # source, target, type, options
    ("proc", "/proc", "proc", ""),
    ("sysfs", "/sys", "sysfs", ""),
    ("devpts", "/dev/pts", "devpts", "mode=620,ptmxmode=666"),
    ("tmpfs", "/dev/shm", "tmpfs", "mode=1777"),
)
_libc = ctypes.CDLL(None, use_errno=True)


def _mount_all() -> None:
    for source, target, fstype, options in MOUNTS:
        os.makedirs(target, exist_ok=True)
        if _libc.mount(source.encode(), target.encode(), fstype.encode(), 0, options.encode() or None) != 0:
            err = ctypes.get_errno()
            print(f"scm-harness guest: mount {target}: {os.strerror(err)}", file=sys.stderr, flush=True)


def _write_status(path: str, status: int) -> None:
    with open(path + ".tmp", "w") as file:
        file.write(f"{status}\n")
    os.rename(path + ".tmp", path)


def _run(spec: dict[str, object]) -> None:
    _mount_all()
    argv = [str(word) for word in spec["argv"]]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in spec["env"].items()}  # type: ignore[attr-defined]
    with open(str(spec["stdout"]), "wb") as out, open(str(spec["stderr"]), "wb") as err:
        child = subprocess.run(
            argv, cwd=str(spec["cwd"]), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False
        )
    status = child.returncode if child.returncode >= 0 else 128 - child.returncode
    _write_status(str(spec["status"]), status)


def main() -> None:
    try:
        with open(sys.argv[1]) as file:
            _run(json.load(file))
    except BaseException as exc:  # process 1 must not exit: report and power off whatever happened
        print(f"scm-harness guest: init failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        os.sync()
        _libc.reboot(RB_POWER_OFF)
        os._exit(1)  # reboot(2) failed: the kernel panics ("Attempted to kill init"), which the host reports


if __name__ == "__main__":
    main()
