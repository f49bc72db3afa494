"""Assignments: one folder each, its settings in ``assignment.toml``, its checks as pytest files.

::

    assignments/mlp_pixels/
        assignment.toml        # points, thresholds, time budget, required names
        reference/mlp_pixels.py  # the reference solution (never exported, never in the sandbox)
        starter/               # the starter files, generated from the reference
        public/test_*.py       # what students run with `grade check`
        hidden/                # instructor grading only (test_*.py and hidden-only scenarios)
        mlp_pixels_checks.py   # scenarios shared by public and hidden checks
        student_side.py        # optional: helpers run in the student process (``practical.*``)
        calibration.py         # optional: ``calibrate(seed)``, the accuracies of the reference
        corpus/                # the bug corpus: bugs.py and valid variants, one folder each

An instructor copies a folder, edits the TOML and the tests, and has a new assignment: the
grader reads everything from the folder (``docs/authoring.md``). Hidden checks can also live outside the repository
(``--hidden-dir DIR`` or ``$GRADER_HIDDEN_DIR``, holding ``DIR/<assignment>/test_*.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.i18n import _

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ASSIGNMENTS_ENV = "GRADER_ASSIGNMENTS"
HIDDEN_ENV = "GRADER_HIDDEN_DIR"
SETTINGS_FILE = "assignment.toml"
MARKER_FILE = ".grader-assignment"   # a starter folder names its assignment in this file
# An assignment is named, never located, by what a submission says: a plain folder name of the
# assignments root. Anything else (`../x`, an absolute path, `/proc/self/cwd/...`) would make the
# judge import a student's own `assignment.toml` and checks, unsandboxed.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
REFERENCE_DIR = "reference"
STARTER_DIR = "starter"
CORPUS_DIR = "corpus"
STUDENT_SIDE_FILE = "student_side.py"   # imported in the student process as ``practical``
CALIBRATION_FILE = "calibration.py"
# What never leaves the instructor's side: not exported to students, not mounted in the sandbox.
PRIVATE = ("hidden", REFERENCE_DIR, CORPUS_DIR, CALIBRATION_FILE)


class AssignmentError(Exception):
    """Unknown assignment, or a broken assignment folder; the message says which."""


@dataclass
class Assignment:
    name: str
    title: str
    folder: Path
    module: str                         # the module name students write (``mlp_pixels``)
    files: list[str]                    # file names accepted for a submission
    required: list[str]                 # names the submission must define
    reference_path: Path | None         # the reference solution (reference/<module>.py)
    time_budget_s: float = 300.0        # the whole grading run
    request_timeout_s: float = 30.0     # default per request to the student process
    threads: int = 1
    seed: int = 0
    memory_gib: float = 4.0
    points: dict[str, float] = field(default_factory=dict)  # per-check overrides
    settings: dict[str, Any] = field(default_factory=dict)  # thresholds etc., read by checks
    hidden_root: Path | None = None     # where hidden checks live, if not in the folder

    @property
    def reference(self) -> str | None:
        """The reference solution's file, as text (None when the folder has none)."""
        return str(self.reference_path) if self.reference_path else None

    @property
    def starter_dir(self) -> Path:
        return self.folder / STARTER_DIR

    @property
    def corpus_dir(self) -> Path:
        return self.folder / CORPUS_DIR

    @property
    def student_side(self) -> Path | None:
        """The practical's child-side helpers, when it has some."""
        path = self.folder / STUDENT_SIDE_FILE
        return path if path.is_file() else None

    def load_reference(self):
        """The reference solution as a module of the judge (never of the student process)."""
        if self.reference_path is None or not self.reference_path.is_file():
            raise AssignmentError(f"{self.folder / REFERENCE_DIR}: no reference solution "
                                  f"`{self.module}.py`")
        return load_module_file(f"grader_reference_{self.name}", self.reference_path)

    @property
    def public_dir(self) -> Path:
        return self.folder / "public"

    @property
    def hidden_dir(self) -> Path:
        if self.hidden_root is not None:
            return self.hidden_root / self.name
        return self.folder / "hidden"

    def check_files(self, hidden: bool) -> list[Path]:
        dirs = [self.public_dir] + ([self.hidden_dir] if hidden else [])
        return [p for d in dirs if d.is_dir() for p in sorted(d.glob("test_*.py"))]

    def has_hidden_checks(self) -> bool:
        return self.hidden_dir.is_dir() and any(self.hidden_dir.glob("test_*.py"))

    def checks_hash(self, hidden: bool) -> str:
        """sha256 over the settings and the check files that ran: which checks gave a score."""
        digest = hashlib.sha256()
        for path in [self.folder / SETTINGS_FILE, *self.check_files(hidden)]:
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]


def assignments_root() -> Path:
    """``$GRADER_ASSIGNMENTS``; else ``assignments/`` next to the grader package (a checkout of
    the course repository); else the copy bundled in the student distribution."""
    env = os.environ.get(ASSIGNMENTS_ENV)
    if env:
        return Path(env).expanduser().resolve()
    import grader

    package = Path(grader.__file__).resolve().parent
    checkout = package.parent / "assignments"
    return checkout if checkout.is_dir() else package / "_bundled" / "assignments"


def hidden_root(explicit: str | os.PathLike | None = None) -> Path | None:
    value = explicit or os.environ.get(HIDDEN_ENV)
    return Path(value).expanduser().resolve() if value else None


def list_assignments(root: Path | None = None) -> list[Assignment]:
    root = root or assignments_root()
    if not root.is_dir():
        return []
    return [load_folder(p) for p in sorted(root.iterdir()) if (p / SETTINGS_FILE).is_file()]


def load_assignment(name: str, root: Path | None = None,
                    hidden_dir: str | os.PathLike | None = None) -> Assignment:
    root = root or assignments_root()
    if not NAME_PATTERN.fullmatch(name):
        raise AssignmentError(_("`{name}` is not an assignment name (letters, digits, `_` and "
                                "`-` only; see `grade list`)").format(name=_shown(name)))
    folder = root / name
    if not (folder / SETTINGS_FILE).is_file():
        known = [a.name for a in list_assignments(root)]
        from grader.slicing import did_you_mean

        close = did_you_mean(name, known)
        hint = _(" — did you mean `{name}`?").format(name=close[0]) if close else ""
        raise AssignmentError(_("unknown assignment `{name}`; known: {known} (in {root}){hint}").format(
            name=name, known=", ".join(known) or _("none"), root=root, hint=hint))
    assignment = load_folder(folder)
    assignment.hidden_root = hidden_root(hidden_dir)
    return assignment


def load_folder(folder: Path) -> Assignment:
    path = folder / SETTINGS_FILE
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise AssignmentError(f"{path}: {e}") from None
    meta = data.get("assignment", {})
    try:
        module = meta["module"]
        return Assignment(
            name=meta.get("name", folder.name), title=meta.get("title", folder.name),
            folder=folder.resolve(), module=module,
            files=list(meta.get("files", [f"{module}.py", f"{module}.ipynb"])),
            required=list(meta.get("required", [])),
            reference_path=(folder / meta.get("reference", f"{REFERENCE_DIR}/{module}.py")).resolve(),
            time_budget_s=float(meta.get("time_budget_s", 300)),
            request_timeout_s=float(meta.get("request_timeout_s", 30)),
            threads=int(meta.get("threads", 1)), seed=int(meta.get("seed", 0)),
            memory_gib=float(meta.get("memory_gib", 4)),
            points={k: float(v) for k, v in data.get("points", {}).items()},
            settings=dict(data.get("settings", {})))
    except KeyError as e:
        raise AssignmentError(f"{path}: [assignment] needs a `{e.args[0]}` entry") from None
    except (TypeError, ValueError) as e:
        raise AssignmentError(f"{path}: {e}") from None


def load_module_file(name: str, path: Path):
    """Import ``path`` as module ``name`` (cached: one module object per file and name)."""
    import importlib.util
    import sys

    path = Path(path).resolve()
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # A practical's modules import their own folder's (`import diy_mistakes as known`), as they
    # do in the judge, which puts the folder on sys.path while the checks run.
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    return module


def detect_assignment(path: Path, root: Path | None = None,
                      hidden_dir: str | os.PathLike | None = None) -> Assignment:
    """Which assignment a file or folder is for: a marker file, else the file names."""
    assignments = list_assignments(root)
    folder = path if path.is_dir() else path.parent
    marker = folder / MARKER_FILE
    if marker.is_file() and not marker.is_symlink():
        # The student's folder says which practical it is; only a name of the known ones counts.
        try:
            name = marker.read_text(errors="replace")[:200].strip()
        except OSError as e:
            raise AssignmentError(_("{marker}: unreadable ({reason}); pass --assignment NAME").format(
                marker=marker, reason=e.strerror))
        known = {a.name: a for a in assignments}
        if name not in known:
            raise AssignmentError(_(
                "{marker} names the assignment `{name}`, which is not one of {known}; fix the file "
                "or pass --assignment NAME").format(marker=marker, name=_shown(name),
                                                     known=", ".join(sorted(known)) or _("none")))
        return load_assignment(name, root, hidden_dir)
    names = [path.name] if path.is_file() else [
        p.name for p in path.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts]
    lowered = {n.lower() for n in names}
    matches = [a for a in assignments
               if any(f.lower() in lowered for f in a.files + [f"{a.module}.py", f"{a.module}.ipynb"])]
    if len(matches) == 1:
        matches[0].hidden_root = hidden_root(hidden_dir)
        return matches[0]
    known = ", ".join(a.name for a in assignments)
    if not matches:
        raise AssignmentError(_("cannot tell which assignment {path} is for (no file named like "
                                "one of theirs); pass --assignment NAME ({known})").format(
                                    path=path, known=known))
    raise AssignmentError(_("{path} matches several assignments ({names}); pass --assignment "
                            "NAME").format(path=path, names=", ".join(a.name for a in matches)))


def _shown(text: str) -> str:
    """A name from a student's file, safe to print: one short line of printable characters."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 60 else text[:57] + "..."
