"""Grading a whole class: discover submissions, grade them in parallel, write every result.

Each student is graded by a judge process apart from the batch: a warm worker
(:mod:`grader.worker`, one per parallel slot, reused from student to student; its student
processes fork from a warm zygote) or, with ``warm=False``, a fresh ``python -m grader.judge``.
A crash, a hang or a broken file costs that student a row with the reason, never the batch
(a worker that dies or hangs is replaced). With ``executor="dask"`` the students are graded on
the workers of a Dask cluster (:mod:`grader.dask_executor`), their results written here. Results are
written atomically the moment they are known (``<out>/<student>/grading.json`` first, then
the reports), so killing the batch loses nothing finished: rerunning skips every student whose
``grading.json`` exists, unless ``force``.

Submissions can be a folder of per-student folders or files, a zip of them, or a Moodle
"download all submissions" export (folders named ``Firstname Lastname_12345_assignsubmission_file_``).
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import io
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader import i18n, reports
from grader.assignment import Assignment
from grader.files import write_atomically
from grader.text import safe_line
from grader.results import GradingResult

MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assign(?P<kind>submission|feedback)_(?P<plugin>[a-z]+)_?$")
SOURCE_SUFFIXES = (".py", ".ipynb")
MAX_ZIP_BYTES = 2 * 2**30
RESULT_FILE = "grading.json"


class BatchError(Exception):
    """The batch itself cannot run (unreadable input, not a zip); one line for the user."""


@dataclass
class Submission:
    student: str              # as shown to people: "Ada Lovelace (12345)", "alice"
    key: str                  # folder name of its outputs: "12345", "alice"
    path: Path | None         # what to grade
    problem: str | None = None  # why it cannot be graded, when it cannot

    def __post_init__(self):
        # Shown in the progress bar, grades.csv and reports: a folder name with terminal
        # escapes in it must not reach the instructor's terminal as escapes.
        self.student = safe_line(self.student, 120)


# --------------------------------------------------------------------------------------------
# Discovering submissions
# --------------------------------------------------------------------------------------------

def discover(source: Path, workdir: Path) -> list[Submission]:
    """One Submission per student, sorted; zips are extracted into ``workdir`` first."""
    if not source.exists():
        raise BatchError(f"{source}: no such file or folder")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise BatchError(f"{source}: expected a folder of submissions or a .zip of them")
        source = extract_zip(source, workdir / "extracted")
    entries = [p for p in sorted(source.iterdir()) if not _ignored(p.name)]
    # A zip of a single folder: look inside it.
    if len(entries) == 1 and entries[0].is_dir() and not MOODLE.match(entries[0].name) and not any(
            f.suffix in SOURCE_SUFFIXES for f in entries[0].iterdir() if f.is_file()):
        return discover(entries[0], workdir)
    folders: dict[str, list[tuple[str, Path]]] = {}
    files: dict[str, list[Path]] = {}
    for entry in entries:
        if entry.is_dir():
            moodle = MOODLE.match(entry.name)
            if moodle:
                if moodle["kind"] != "submission" or moodle["plugin"] != "file":
                    continue  # feedback folders, online text: nothing to grade
                key, student = moodle["id"], f"{moodle['name']} ({moodle['id']})"
            else:  # one folder, one student: "Li Hua" and "Li-Hua" are two (keys made unique below)
                key, student = entry.name, entry.name
            folders.setdefault(key, []).append((student, entry))
        elif entry.suffix.lower() in SOURCE_SUFFIXES:
            files.setdefault(entry.stem.lower(), []).append(entry)
    submissions = []
    for group, found in folders.items():
        student, key = found[0][0], _safe_key(group)
        if len(found) > 1:
            names = ", ".join(p.name for _, p in found)
            submissions.append(Submission(student, key, None, f"two submissions for one student: {names}"))
        elif (link := _link_leaving(found[0][1])) is not None:
            submissions.append(Submission(student, key, None, f"`{link}` is a link to a file "
                                          "outside the submission: not read"))
        elif not any(p.is_file() for p in found[0][1].rglob("*")):
            submissions.append(Submission(student, key, None, "empty submission folder"))
        else:
            submissions.append(Submission(student, key, found[0][1]))
    folder_of = {entry.name.lower(): entry for found in folders.values() for _, entry in found}
    for stem, paths in files.items():
        key = _safe_key(paths[0].stem)
        if stem in folder_of:
            submissions.append(Submission(paths[0].stem, key + "-file", None,
                                          f"two submissions for one student: {paths[0].name} and "
                                          f"the folder {folder_of[stem].name}"))
        elif len(paths) > 1:
            submissions.append(Submission(paths[0].stem, key, None, "two submissions for one "
                                          f"student: {', '.join(p.name for p in paths)}"))
        elif _link_leaving(paths[0]) is not None:
            submissions.append(Submission(paths[0].stem, key, None, f"`{paths[0].name}` is a "
                                          "link to a file outside the submissions: not read"))
        else:
            submissions.append(Submission(paths[0].stem, key, paths[0]))
    return sorted(_unique_keys(submissions), key=lambda s: s.key)


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in ("__MACOSX", "__pycache__")


def _safe_key(name: str) -> str:
    """The folder of a student's results, from the name alone: the same name gives the same
    key in every run, whoever else is in the class (a rerun skips the students it finds done,
    so a key must never pass from one student to another). A name that had to be changed to
    make a folder name carries a short hash of itself: "Li Hua" and "Li  Hua" are two keys."""
    # \w keeps letters and digits of every script: 李华 and 王小明 are two students, not "student".
    key = re.sub(r"[^\w.-]+", "-", name).strip("-.")
    if key.lower() in CLASS_OUTPUTS:  # a student called grades.csv must not become the class's
        key = "student-" + key
    key = key or "student"
    return key if key == name else f"{key}-{_short_hash(name)}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


CLASS_OUTPUTS = {"grades.csv", "summary.html"}  # next to the students' folders in --out


def _unique_keys(submissions: list[Submission]) -> list[Submission]:
    """Keys that differ only by case ("Alice", "alice": one folder on a case-insensitive file
    system) each get the hash of their own name, never a number that depends on who else
    is in the listing."""
    by_folder: dict[str, list[Submission]] = {}
    for s in submissions:
        by_folder.setdefault(s.key.lower(), []).append(s)
    for group in by_folder.values():
        if len(group) > 1:
            for s in group:
                s.key = f"{s.key}-{_short_hash(s.key)}"
    return submissions


def _link_leaving(folder: Path) -> str | None:
    """A symbolic link in a submission that leads outside it (to /etc/passwd, to another
    student, to the hidden checks): the judge reads submissions as the instructor, so it must
    not follow it. Returns the link's name."""
    if folder.is_symlink():  # a whole submission that is a link: whose files are those?
        return folder.name
    if folder.is_file():
        return None
    inside = folder.resolve()
    for path in folder.rglob("*"):
        if path.is_symlink():
            target = path.resolve()
            if target != inside and inside not in target.parents:
                return str(path.relative_to(folder))
    return None


def extract_zip(path: Path, dest: Path) -> Path:
    """Extract safely: no path escapes the destination, no absurd total size."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise BatchError(f"{path}: not a readable zip ({e})") from None
    with archive:
        total = sum(info.file_size for info in archive.infolist())
        if total > MAX_ZIP_BYTES:
            raise BatchError(f"{path}: {total:,} bytes once extracted, more than {MAX_ZIP_BYTES:,}")
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        root = dest.resolve()
        for info in archive.infolist():
            target = (dest / info.filename).resolve()
            if root not in target.parents and target != root:
                # `alice/../../x` or `/etc/x`: never written. The student whose folder holds
                # the entry gets an error row; one with no folder of its own is left out.
                _mark_escaping(dest, info.filename)
                continue
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                # One corrupt member (bad data, a file and a folder of one name...): that
                # student gets an error row, the others are graded.
                _mark_corrupt(target, e)
    return dest


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------

def error_result(assignment: Assignment, submission: Submission, reason: str) -> GradingResult:
    import grader

    return GradingResult(assignment=assignment.name, title=assignment.title,
                         submission=str(submission.path or ""), student=submission.student,
                         hidden_included=True, grader_version=grader.__version__,
                         checks_hash=assignment.checks_hash(True), error=reason).make_safe()


def _mark_corrupt(target: Path, error: Exception) -> None:
    marker = target.parent / f".corrupt-{target.name}"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{target.name} is corrupt in the zip and could not be extracted "
                          f"({type(error).__name__})")
        if not target.exists():
            target.write_bytes(b"")
    except OSError:  # a path the archive made impossible (a file where a folder must be)
        pass


def _mark_escaping(dest: Path, name: str) -> None:
    """The folders an entry names before it climbs out (``alice/../../x``: ``alice``) belong
    to the student who sent it: that student gets an error row."""
    owner = []
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            break
        if part not in ("", "."):
            owner.append(part)
    if name.startswith(("/", "\\")) or not owner or ":" in owner[0]:
        return
    folder = dest.joinpath(*owner)  # what comes before a `..` is a folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".corrupt-entry").write_text(
            f"the zip entry `{safe_line(name, 120)}` leads outside the student's folder: "
            "not extracted (the submission was not graded)")
    except OSError:
        pass


def _corrupt_member(path: Path) -> str | None:
    """Why a file of this submission was not extracted (see extract_zip), if one was not."""
    marker = (path.parent / f".corrupt-{path.name}") if path.is_file() else next(
        path.rglob(".corrupt-*"), None)
    if marker is None or not marker.is_file():
        return None
    return marker.read_text(errors="replace")[:500] or f"{marker.name} is corrupt in the zip"


JUDGE_ADDRESS_SPACE = 16 * 2**30  # torch maps ~3.4 GB; replies are capped at 256 MiB each


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """The judge process dies with the batch (so a killed batch leaves nothing running), and
    its memory is bounded: it reads what a student sent, and one student's judge must not
    take the memory of the machine grading the others."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (JUDGE_ADDRESS_SPACE, JUDGE_ADDRESS_SPACE))
    except (ValueError, OSError):
        pass


class WorkerFailed(Exception):
    """A warm worker died or ran past its time; the message is the student's row reason."""


class JudgeWorker:
    """One warm judge process (``python -P -m grader.worker``), started on first use."""

    def __init__(self, cwd: Path, log: Path):
        self.cwd, self.log = cwd, log
        self.proc: subprocess.Popen | None = None
        self._buffer = b""

    def run(self, job: dict, timeout: float) -> dict:
        self.start()
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            raise WorkerFailed(self._death()) from None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise WorkerFailed(f"grading did not finish within {timeout:g} s")
            proc = self.proc
            if proc is None:  # closed meanwhile: the batch is over (a warm-up still waiting)
                raise WorkerFailed("the grading process was stopped")
            try:
                ready, _, _ = select.select([proc.stdout], [], [], left)
                chunk = os.read(proc.stdout.fileno(), 65536) if ready else None
            except (OSError, ValueError):  # its pipe closed by close() from another thread
                raise WorkerFailed("the grading process was stopped") from None
            if chunk is not None:
                if not chunk:
                    raise WorkerFailed(self._death())
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            self.close()
            raise WorkerFailed("the grading process answered nonsense") from None
        return reply if isinstance(reply, dict) else {"error": "the grading process answered nonsense"}

    def start(self) -> None:
        """Start the process, unless it is running."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.close()
        self.cwd.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **i18n.environment())  # the judges write in the batch's language
        env["PYTHONUNBUFFERED"] = "1"
        env.update(ONE_THREAD)
        with open(self.log, "ab") as log:
            # -P and a folder of ours as cwd: a student's `pytest.py` next to the batch is
            # never imported by the judge (see grade_one).
            self.proc = subprocess.Popen(
                [sys.executable, *_SAFE_PATH, "-m", "grader.worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, cwd=self.cwd, env=env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        self._buffer = b""

    def _death(self) -> str:
        code = self.proc.wait() if self.proc is not None else None
        self.proc = None
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            lines = []
        last = lines[-1] if lines else ""
        return f"the grading process stopped (exit code {code}){': ' + last if last else ''}"

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()  # its zygote's sandbox dies with it (--die-with-parent)
            proc.wait()


class WorkerPool:
    """``size`` warm judges, each grading one student at a time; the per-request limits are
    measured (grader.limits) by the first worker before any student is graded."""

    def __init__(self, size: int, workdir: Path, calibrated_limits: bool = True):
        self.idle: queue.Queue[JudgeWorker] = queue.Queue()
        self.workers = [JudgeWorker(workdir, workdir / f"worker-{n}.log")
                        for n in range(max(1, size))]
        for worker in self.workers:
            self.idle.put(worker)
        self.calibrated_limits = calibrated_limits
        self._calibration = threading.Lock()
        self._calibrated = not calibrated_limits

    def warm_up(self, assignment: Assignment, job: dict, timeout: float) -> None:
        """Start every worker now, side by side, and let each prepare (its zygote, its first
        optimizer step) in the background: a worker is handed out once it is ready. Without
        this, each worker started on its first student, the second one only after the first
        had calibrated — in a batch on 2 cores, one worker's start-up lost."""
        from grader import limits

        if limits.measured(assignment):  # nothing to wait for before grading
            self._calibrated = True
        preparing = []
        while True:
            try:
                preparing.append(self.idle.get_nowait())
            except queue.Empty:
                break
        for worker in preparing:
            # Started from this thread: a worker dies with the thread that started it
            # (_die_with_parent), and this one lasts as long as the batch.
            worker.start()
            threading.Thread(target=self._prepare, args=(worker, job, timeout),
                             daemon=True).start()

    def _prepare(self, worker: "JudgeWorker", job: dict, timeout: float) -> None:
        try:
            worker.run({**job, "prepare": True}, timeout)
        except Exception:  # noqa: BLE001 - a warm-up only: started again on its first student,
            pass           # whose row says why if it fails again
        finally:
            self.idle.put(worker)

    def run(self, job: dict, timeout: float) -> dict:
        worker = self.idle.get()
        try:
            if not self._calibrated:
                with self._calibration:
                    if not self._calibrated:
                        self._calibrated = True
                        try:  # a reference grading: the time of one student, once per machine
                            worker.run({**job, "calibrate": True}, timeout)
                        except WorkerFailed:
                            pass
            return worker.run({**job, "calibrated_limits": self.calibrated_limits}, timeout)
        finally:
            self.idle.put(worker)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


# A judge of a batch computes on one thread: each worker slot is one core, shared by the judge
# and its student process, which take turns. With torch's default (a thread per core), the
# judge's OpenMP threads spin after each of its small computations and take the other slot's
# core: measured on 2 cores, each grading 36 % slower with 2 workers than alone, 1.39 speed-up.
# (Dask's nanny sets the same for its workers, which is how it showed.)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

_SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else []


def grade_one(assignment: Assignment, submission: Submission, out: Path, *,
              hidden_dir: str | None = None, data_source: str = "offline",
              require_isolation: bool = False, pool: WorkerPool | None = None) -> GradingResult:
    """Grade one student in a warm worker of ``pool``, else in a fresh judge process; any
    failure becomes a result with a reason."""
    folder = out / submission.key
    folder.mkdir(parents=True, exist_ok=True)
    if submission.problem:
        return error_result(assignment, submission, submission.problem)
    corrupt = _corrupt_member(submission.path)
    if corrupt:
        return error_result(assignment, submission, corrupt)
    target = folder / f".{RESULT_FILE}.judge"
    target.unlink(missing_ok=True)
    if pool is not None:
        return _grade_in_worker(assignment, submission, target, pool, hidden_dir=hidden_dir,
                                data_source=data_source, require_isolation=require_isolation)
    # `python -m` puts the current folder first on sys.path, and instructors run batches from
    # the submissions folder: a student's `pytest.py` would be imported by the judge, outside
    # any sandbox. -P (3.11+) keeps it off; the judge also runs from the student's results
    # folder, which holds only our files (all paths are absolute for that).
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    argv = [sys.executable, *safe_path, "-m", "grader.judge", os.path.abspath(submission.path),
            "--assignment", assignment.name, "--hidden", "--student", submission.student,
            "--json-out", os.path.abspath(target), "--data", data_source]
    if hidden_dir:
        argv += ["--hidden-dir", os.path.abspath(hidden_dir)]
    if require_isolation:
        argv += ["--require-isolation"]
    env = dict(os.environ, **i18n.environment())  # the judge writes in the batch's language
    env["GRADER_ASSIGNMENTS"] = os.path.abspath(assignment.folder.parent)
    env.update(ONE_THREAD)
    timeout = assignment.time_budget_s * 2 + 120
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=folder, preexec_fn=_die_with_parent if sys.platform == "linux"
                              else None)
    except subprocess.TimeoutExpired:
        return error_result(assignment, submission, f"grading did not finish within {timeout:g} s")
    if proc.returncode != 0 or not target.is_file():
        lines = [line for line in (proc.stderr or "").strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"the judge exited with code {proc.returncode}"
        return error_result(assignment, submission, reason.removeprefix("error: "))
    try:
        result = GradingResult.load(target)
    except (OSError, ValueError, TypeError) as e:
        return error_result(assignment, submission, f"unreadable result: {e}")
    finally:
        target.unlink(missing_ok=True)
    result.student = submission.student
    return result


def worker_job(assignment: Assignment, *, hidden_dir: str | None, data_source: str,
               require_isolation: bool) -> dict:
    """What every job of a batch says to a worker, whoever the student."""
    return {"assignment": assignment.name,
            "hidden_dir": os.path.abspath(hidden_dir) if hidden_dir else None,
            "data": data_source, "require_isolation": require_isolation}


def _grade_in_worker(assignment: Assignment, submission: Submission, target: Path,
                     pool: WorkerPool, **options) -> GradingResult:
    job = {**worker_job(assignment, **options), "submission": os.path.abspath(submission.path),
           "student": submission.student, "json_out": os.path.abspath(target)}
    try:
        reply = pool.run(job, assignment.time_budget_s * 2 + 120)
    except WorkerFailed as e:
        return error_result(assignment, submission, str(e))
    if "error" in reply or not target.is_file():
        return error_result(assignment, submission, str(reply.get("error") or
                                                         "the grading process wrote no result"))
    try:
        result = GradingResult.load(target)
    except (OSError, ValueError, TypeError) as e:
        return error_result(assignment, submission, f"unreadable result: {e}")
    finally:
        target.unlink(missing_ok=True)
    result.student = submission.student
    return result


def write_student(result: GradingResult, folder: Path) -> None:
    """Reports first, ``grading.json`` last: its presence means "this student is done".

    A report that cannot be rendered (a bug of ours on data nobody foresaw) is replaced by a
    one-line note, and the result is saved all the same: the grade is never lost to a report.
    """
    folder.mkdir(parents=True, exist_ok=True)
    renderings = {"report.html": lambda: reports.render(result, "html"),
                  "report.md": lambda: reports.render(result, "md"),
                  "results.json": lambda: json.dumps(result.to_gradescope(), indent=2)}
    for name, render in renderings.items():
        try:
            text = render()
        except Exception as e:
            text = (f"This report could not be rendered ({type(e).__name__}); the grade is in "
                    f"{RESULT_FILE}: score {result.score:g} / {result.max_score:g}.\n")
        write_atomically(folder / name, text)
    result.save(folder / RESULT_FILE)


@dataclass
class BatchSummary:
    graded: int
    skipped: int
    errors: int
    out: Path
    not_written: list[str] = field(default_factory=list)  # results that could not be saved


def run_batch(assignment: Assignment, source: Path, out: Path, *, workers: int = 2,
              force: bool = False, hidden_dir: str | None = None, data_source: str = "offline",
              require_isolation: bool = False,
              progress: Callable[[str, int, int], None] | None = None,
              executor: str = "local", scheduler: str | None = None, warm: bool = True,
              calibrated_limits: bool = True) -> BatchSummary:
    """Grade every submission of ``source`` into ``out``. ``executor``: "local" (``workers``
    judges on this machine: warm workers, or fresh judge processes when not ``warm``) or
    "dask" (one task per student on the cluster at ``scheduler``). ``calibrated_limits``:
    per-request limits from the reference's costs on the grading machine (grader.limits)."""
    out.mkdir(parents=True, exist_ok=True)
    submissions = discover(source, out / ".work")
    todo = [s for s in submissions if force or not _already_graded(out, s)]
    skipped = len(submissions) - len(todo)
    done = 0
    failures: list[str] = []
    if progress:
        progress("start", skipped, len(submissions))
    options = dict(hidden_dir=hidden_dir, data_source=data_source,
                   require_isolation=require_isolation)
    if executor == "dask":
        from grader import dask_executor

        graded = dask_executor.grade_all(assignment, todo, out, scheduler=scheduler,
                                         calibrated_limits=calibrated_limits, **options)
    elif executor == "local":
        graded = _grade_locally(assignment, todo, out, workers=workers, warm=warm,
                                calibrated_limits=calibrated_limits, **options)
    else:
        raise BatchError(f"unknown executor `{executor}`: local or dask")
    for submission, result in graded:  # each written the moment it is known
        try:
            write_student(result, out / submission.key)
            from grader.similarity import save_kept_code  # for `grade similarity`

            save_kept_code(assignment, submission.path, out / submission.key)
            write_grades(out, submissions)
        except Exception as e:  # a full disk, a bug of ours: the next students go on
            failures.append(f"{submission.student}: results not written ({type(e).__name__}: {e})")
        done += 1
        if progress:
            progress(submission.student, skipped + done, len(submissions))
    write_grades(out, submissions)
    results = [r for r in _load_results(out, submissions) if r is not None]
    from grader.similarity import summary_section  # a similarity run stays linked

    write_atomically(out / "summary.html", reports.render_summary(
        assignment.title, _rows(out, submissions), [r for r in results if r.error is None],
        similarity=summary_section(out)))
    errors = sum(1 for r in results if r.error)
    return BatchSummary(graded=len(todo), skipped=skipped, errors=errors, out=out,
                        not_written=failures)


def _grade_locally(assignment: Assignment, todo: list[Submission], out: Path, *, workers: int,
                   warm: bool, calibrated_limits: bool, **options):
    """(submission, result) pairs as they finish, graded by ``workers`` judges here."""
    pool = WorkerPool(workers, out / ".work", calibrated_limits) if warm and todo else None
    try:
        if pool is not None:
            pool.warm_up(assignment, worker_job(assignment, **options),
                         assignment.time_budget_s * 2 + 120)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
            futures = {threads.submit(grade_one, assignment, s, out, pool=pool, **options)
                       if pool is not None else
                       threads.submit(grade_one, assignment, s, out, **options): s for s in todo}
            for future in as_completed(futures):
                submission = futures[future]
                try:
                    result = future.result()
                except Exception as e:  # a bug of ours must not stop the batch either
                    result = error_result(assignment, submission,
                                          f"grader error: {type(e).__name__}: {e}")
                yield submission, result
    finally:
        if pool is not None:
            pool.close()


def _already_graded(out: Path, submission: Submission) -> bool:
    """This student's result is there, and it is this student's: the same submission path and
    name (a key reused by someone else, or a folder moved, is graded again)."""
    path = out / submission.key / RESULT_FILE
    try:
        result = GradingResult.load(path)
    except (OSError, ValueError, TypeError, KeyError):
        return False
    graded, current = result.submission, GradingResult.shown_path(submission.path)
    # The judge records the file it graded: the submission itself, or a file inside its folder.
    same = graded == current or (current != "" and graded.startswith(current.rstrip("/") + "/"))
    return same and result.student == submission.student


def _load_results(out: Path, submissions: list[Submission]) -> list[GradingResult | None]:
    loaded = []
    for s in submissions:
        path = out / s.key / RESULT_FILE
        try:
            loaded.append(GradingResult.load(path) if path.is_file() else None)
        except (OSError, ValueError, TypeError):
            loaded.append(None)
    return loaded


def _rows(out: Path, submissions: list[Submission]) -> list[dict]:
    rows = []
    for s, result in zip(submissions, _load_results(out, submissions)):
        if result is None:
            rows.append({"student": s.student, "key": s.key, "score": 0.0, "max_score": 0.0,
                         "note": "not graded yet", "graded": False, "report": None})
            continue
        rows.append({"student": s.student, "key": s.key, "score": result.score,
                     "max_score": result.max_score, "graded": result.error is None,
                     "note": result.error or result.summary_line(),
                     "report": f"{s.key}/report.html"})
    return rows


def _cell(text: str) -> str:
    """Text a spreadsheet will not run: a student named `=HYPERLINK(...)` or a message starting
    with `-` becomes a formula in Excel or LibreOffice unless quoted (OWASP's CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_grades(out: Path, submissions: list[Submission]) -> Path:
    """``grades.csv``: one row per student, one column per check, the total and any reason."""
    results = _load_results(out, submissions)
    names = list(dict.fromkeys(c.name for r in results if r is not None for c in r.checks))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "id", "total", "max", "status", "reason", *map(_cell, names)])
    for s, result in zip(submissions, results):
        if result is None:
            writer.writerow([_cell(s.student), _cell(s.key), "", "", "pending", "",
                             *[""] * len(names)])
            continue
        scores = {c.name: c.score for c in result.checks}
        status = "error" if result.error else "graded"
        writer.writerow([_cell(s.student), _cell(s.key), f"{result.score:g}",
                         f"{result.max_score:g}", status, _cell(result.error or ""),
                         *[f"{scores[n]:g}" if n in scores else "" for n in names]])
    path = out / "grades.csv"
    write_atomically(path, buffer.getvalue())
    from grader.late_policy import add_late_columns  # `grade late` was run: keep its columns

    add_late_columns(out)
    return path

