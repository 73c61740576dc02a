"""A memory cgroup around one process, so a test can make the kernel's out-of-memory killer end
that process, and only it, without exhausting the host.

Needs write access to a cgroup memory controller (root, or a delegated cgroup): v1
(``memory.limit_in_bytes``) or v2 (``memory.max``). ``cage_supported`` says whether this host
gives it; tests skip otherwise.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path


def _memory_cgroup_dir(pid: int) -> tuple[Path, str] | None:
    """The folder of ``pid``'s memory cgroup and the file that limits it; None if unknown."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    v1 = next((m.split()[1] for m in mounts
               if m.split()[2] == "cgroup" and "memory" in m.split()[3].split(",")), None)
    v2 = next((m.split()[1] for m in mounts if m.split()[2] == "cgroup2"), None)
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if v1 and "memory" in controllers.split(","):
            return Path(v1 + path), "memory.limit_in_bytes"
        if v2 and controllers == "" and not v1:
            folder = Path(v2 + path)
            if "memory" in (folder / "cgroup.subtree_control").read_text().split():
                return folder, "memory.max"
    return None


def cage_supported() -> bool:
    try:
        found = _memory_cgroup_dir(os.getpid())
    except OSError:
        return False
    return found is not None and os.access(found[0], os.W_OK)


@contextlib.contextmanager
def memory_cage(pid: int, limit_bytes: int) -> Iterator[Path]:
    """Move ``pid`` into a new child cgroup holding at most ``limit_bytes``; remove it after.
    A process still alive at the end goes back to its former cgroup first."""
    found = _memory_cgroup_dir(pid)
    if found is None:
        raise RuntimeError("no writable memory cgroup on this host")
    parent, limit_file = found
    cage = parent / f"bench-test-{uuid.uuid4().hex[:8]}"
    cage.mkdir()
    try:
        (cage / limit_file).write_text(str(limit_bytes))
        (cage / "cgroup.procs").write_text(str(pid))
        yield cage
    finally:
        for left in (cage / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # it may have ended meanwhile
                (parent / "cgroup.procs").write_text(left)
        deadline = time.monotonic() + 10
        while True:  # a killed process leaves its cgroup a moment after it ends
            try:
                cage.rmdir()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
