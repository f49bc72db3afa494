"""Writing files where students can plant things.

``grade check`` writes its report next to the submission, in a folder the student controls: a
plain ``open(path, "w")`` follows a symbolic link planted there (``mlp_pixels.report.html ->
~/.ssh/authorized_keys``) or creates the file a dangling link points to (a ``.pth`` in
site-packages, whose ``import`` lines Python runs at start-up). :func:`write_atomically`
writes a fresh file (``O_EXCL``, a random name, in the target's folder) and renames it over the
target: a link at the target is replaced, never followed, and a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike, data: str | bytes) -> Path:
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a report from its reader
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
