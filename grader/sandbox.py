"""How the student process is walled off, strongest available layers first.

Strong (root with bubblewrap, the course machines and CI)::

    sh -c 'echo $$ > <cgroup>/cgroup.procs; exec "$@"'            memory + pids cgroup
      bwrap --unshare-{pid,net,ipc,uts,cgroup} --die-with-parent --new-session
            --ro-bind <only what Python needs> ... --tmpfs /tmp (size-capped)
            --ro-bind <the submission> /submission  --clearenv ...
        setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs   a real uid drop
          prlimit --cpu --nproc --fsize --core=0 [--as]
            python -I -m grader.student_server

bwrap runs first, as root, so it can bind Python from a root-only home (``/root/.pyenv``);
the uid drop happens inside. Without a user namespace the drop is real (``bwrap --uid`` alone
is not, for root). The file system is an allow-list: the grader's tests, hidden checks,
reference solutions, data caches and other students' work are simply not there.

Unprivileged users with bubblewrap get the same namespaces and allow-list (their uid is
already unprivileged). Without bubblewrap the child is a plain subprocess in its own session
with rlimits and a cleared environment: ``isolation: basic``, said in every report;
``--require-isolation`` refuses to grade instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from grader.i18n import N_

NOBODY = 65534
GiB = 2**30
MiB = 2**20
# `import torch` (a CUDA build) maps about 3.4 GB of address space before doing anything, so an
# address-space limit must leave that much on top of the memory the student may really use.
TORCH_ADDRESS_SPACE = 6 * GiB
SANDBOX_SUBMISSION = "/submission"
# Files of a submission folder that only the judge reads (grader.experiments' results: the
# replay of an experiment must not be able to read the numbers it is compared with).
JUDGE_ONLY_PATTERNS = ("*.experiments.json",)
CPU_PERIOD_US = 100_000


class IsolationUnavailable(RuntimeError):
    """Strong isolation was required but a layer is missing; the message says which."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 4 * GiB
    cpu_seconds: int = 900
    processes: int = 256         # per child (pids cgroup); RLIMIT_NPROC is per uid, see below
    file_size_bytes: int = 64 * MiB
    scratch_bytes: int = 256 * MiB

    @property
    def address_space_bytes(self) -> int:
        return self.memory_bytes + TORCH_ADDRESS_SPACE


@dataclass
class Isolation:
    """What this machine offers; ``level`` is "strong" or "basic" (the name of its backend,
    :data:`BACKENDS`: what differs between the levels is asked of the backend, never of the
    level string)."""

    level: str
    layers: list[str]
    missing: list[str] = field(default_factory=list)

    @property
    def backend(self) -> "Backend":
        return BACKENDS[self.level]

    def describe(self) -> str:
        from grader.i18n import _  # layers are stored in English (N_), shown translated

        text = _("isolation: {level} ({layers})").format(
            level=self.level, layers=", ".join(_(layer) for layer in self.layers))
        if self.missing:
            text += _("; unavailable: {missing}").format(
                missing=", ".join(_(m) for m in self.missing))
        return text


@dataclass
class Launch:
    """A ready-to-run child: argv, environment, where the submission appears inside, cleanup."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    submission_path: str          # the submission root as the child sees it
    scratch: Path | None          # judge-side scratch dir (basic mode), removed by cleanup
    cgroups: list[Path]

    def cleanup(self) -> None:
        for cg in self.cgroups:
            _remove_cgroup(cg)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Probing
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def probe() -> Isolation:
    """Find which layers work here by running them once (cached for the process)."""
    layers, missing = [], []
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    root = os.geteuid() == 0
    if bwrap and _bwrap_works(bwrap, root) and _python_starts_inside():
        layers.append(N_("bwrap namespaces pid/net/ipc/uts, read-only allow-listed file system, "
                         "private size-capped /tmp"))
        if root:
            if setpriv:
                layers.append(f"uid {NOBODY} (setpriv, no-new-privs)")
            else:
                missing.append(N_("setpriv (uid drop)"))
        else:
            layers.append(f"unprivileged uid {os.geteuid()}")
    else:
        missing.append(N_("bubblewrap (`apt-get install bubblewrap`)") if not bwrap
                       else N_("bubblewrap (it could not start Python in a sandbox here)"))
    if _cgroup_root("memory") is not None:
        layers.append(N_("cgroup memory limit"))
    if _cgroup_root("pids") is not None:
        layers.append(N_("cgroup pids limit"))
    if _cgroup_root("cpu") is not None:
        layers.append(N_("cgroup cpu share"))
    layers.append("rlimits cpu/fsize/core/nproc" + ("" if _cgroup_root("memory") else "/as"))
    strong = bool(bwrap) and not any(m.startswith("bubblewrap") for m in missing) and (
        not root or setpriv is not None)
    return Isolation("strong" if strong else "basic", layers, missing)


def _bwrap_works(bwrap: str, root: bool) -> bool:
    argv = [bwrap, *_namespace_args(root), "--ro-bind", "/", "/", "--proc", "/proc",
            "--dev", "/dev", "true"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _python_starts_inside() -> bool:
    """The whole strong launch, once: does our Python find torch and the grader in there?"""
    import grader

    parent = str(Path(grader.__file__).resolve().parent.parent)
    code = (f"import sys; sys.path.insert(0, {parent!r}); import importlib.util as u; "
            "sys.exit(0 if u.find_spec('torch') and u.find_spec('grader.wire') else 3)")
    launch = build_launch([sys.executable, "-I", "-c", code], Path(tempfile.gettempdir()),
                          limits=Limits(), threads=1, hidden=[],
                          isolation=Isolation("strong", []))
    try:
        return subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        launch.cleanup()


def _namespace_args(root: bool) -> list[str]:
    # As root, no user namespace: the uid drop inside must be real. Unprivileged users need one.
    common = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    return common if root else ["--unshare-user", *common]


# --------------------------------------------------------------------------------------------
# cgroups (v1, as on the course machines; v2 works the same way through cgroup.procs)
# --------------------------------------------------------------------------------------------

def _cgroup_root(controller: str) -> Path | None:
    """Our own cgroup directory for a controller, if we may create children in it."""
    if os.geteuid() != 0:
        return None
    base = Path("/sys/fs/cgroup") / controller
    if not base.is_dir():
        return None
    own = ""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                own = path.lstrip("/")
    except OSError:
        return None
    folder = base / own if (base / own).is_dir() else base
    return folder if os.access(folder, os.W_OK) else None


def _make_cgroup(controller: str, settings: dict[str, str]) -> Path | None:
    parent = _cgroup_root(controller)
    if parent is None:
        return None
    _reap_stale_cgroups(parent)
    # The judge's pid in the name: a judge killed outright (a batch's time-out) cannot remove
    # its groups; the next judge removes those whose judge is gone (see _reap_stale_cgroups).
    path = parent / f"grader-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
        for name, value in settings.items():
            if (path / name).exists():
                (path / name).write_text(value)
        return path
    except OSError:
        _remove_cgroup(path)
        return None


@functools.lru_cache(maxsize=None)
def _reap_stale_cgroups(parent: Path) -> None:
    """Remove, once per judge, the empty groups of judges that no longer run."""
    for group in parent.glob("grader-*"):
        parts = group.name.split("-")
        if len(parts) != 3 or not parts[1].isdigit() or Path(f"/proc/{parts[1]}").exists():
            continue
        _remove_cgroup(group)  # rmdir: refused while a process is still in it


def _remove_cgroup(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# Building the command
# --------------------------------------------------------------------------------------------

def child_environment(threads: int, home: str) -> dict[str, str]:
    """The whole environment of the child: nothing of the judge's leaks in."""
    n = str(threads)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "CUDA_VISIBLE_DEVICES": "",       # grade on the CPU: same results everywhere
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home,
    }


def python_paths() -> list[Path]:
    """Folders the child's Python needs: its prefixes, site-packages and the grader package."""
    import grader

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent, Path(grader.__file__).parent}
    for p in site.getsitepackages() + [site.getusersitepackages()]:
        paths.add(Path(p))
    return sorted(p.resolve() for p in paths if p.exists())


def build_launch(python_argv: list[str], submission_root: Path, *, limits: Limits, threads: int,
                 hidden: list[Path], isolation: Isolation, only: Path | None = None) -> Launch:
    """The command that starts ``python_argv`` (a ``python -m ...`` line) for this submission,
    walled off by the isolation's backend.

    ``only``: the submission is this one file of ``submission_root``, and nothing else of that
    folder is shown. A batch of one file per student keeps the whole class in one folder, and
    ``grade check some/dir/file.py`` names one file: its neighbours are not the submission.
    """
    return isolation.backend.launch(python_argv, submission_root.resolve(), limits=limits,
                                    threads=threads, hidden=hidden, only=only)


# --------------------------------------------------------------------------------------------
# Backends: one class per way of walling the child off
# --------------------------------------------------------------------------------------------

class Backend:
    """One isolation backend. Everything the engine does differently by isolation goes
    through these members (a new backend — a container runtime, nsjail — is one subclass
    added to :data:`BACKENDS`)."""

    level = ""
    strong = False             # meets ``--require-isolation``
    private_namespaces = False  # pid/ipc/mount namespaces of its own: a warm zygote may kill
    #                             every process it sees and empty /tmp (grader.zygote)

    def launch(self, python_argv: list[str], submission_root: Path, *, limits: Limits,
               threads: int, hidden: list[Path], only: Path | None) -> Launch:
        raise NotImplementedError

    def self_limits(self, limits: Limits) -> list[str]:
        """Arguments of the child's own rlimits (grader.student_server._apply_limits) for
        what the backend does not enforce from outside."""
        return []

    def inside_root(self, submission_root: Path) -> str:
        """Where the child sees the folder ``submission_root`` that launch() showed it."""
        raise NotImplementedError


class PlainProcessBackend(Backend):
    """``isolation: basic``: a plain subprocess in its own session, a cleared environment, a
    scratch folder of its own and self-imposed rlimits (address space included)."""

    level = "basic"

    def launch(self, python_argv, submission_root, *, limits, threads, hidden, only) -> Launch:
        scratch = Path(tempfile.mkdtemp(prefix="grader-scratch-"))
        env = child_environment(threads, str(scratch))
        return Launch(python_argv, env, str(scratch), str(submission_root), scratch, [])

    def self_limits(self, limits: Limits) -> list[str]:
        return ["--address-space", str(limits.address_space_bytes)]

    def inside_root(self, submission_root: Path) -> str:
        return str(submission_root.resolve())


class BubblewrapBackend(Backend):
    """``isolation: strong``: bubblewrap namespaces, the allow-listed read-only file system,
    the uid drop, cgroups and rlimits (the module's docstring)."""

    level = "strong"
    strong = True
    private_namespaces = True

    def inside_root(self, submission_root: Path) -> str:
        return SANDBOX_SUBMISSION

    def launch(self, python_argv, submission_root, *, limits, threads, hidden, only) -> Launch:
        return _bubblewrap_launch(python_argv, submission_root, limits=limits, threads=threads,
                                  hidden=hidden, only=only)


BACKENDS: dict[str, Backend] = {b.level: b for b in (BubblewrapBackend(), PlainProcessBackend())}


def _bubblewrap_launch(python_argv: list[str], submission_root: Path, *, limits: Limits,
                       threads: int, hidden: list[Path], only: Path | None) -> Launch:
    root = os.geteuid() == 0
    cgroups = []
    memory = _make_cgroup("memory", {"memory.limit_in_bytes": str(limits.memory_bytes),
                                     "memory.memsw.limit_in_bytes": str(limits.memory_bytes),
                                     "memory.max": str(limits.memory_bytes)})
    pids = _make_cgroup("pids", {"pids.max": str(limits.processes)})
    # One CPU share per sandbox, whatever it runs: 100 busy processes of one student weigh as
    # much as a neighbour's one training, and together get at most `threads` cores.
    quota = max(1, threads) * CPU_PERIOD_US
    cpu = _make_cgroup("cpu", {"cpu.shares": "1024", "cpu.cfs_period_us": str(CPU_PERIOD_US),
                               "cpu.cfs_quota_us": str(quota), "cpu.weight": "100",
                               "cpu.max": f"{quota} {CPU_PERIOD_US}"})
    cgroups = [c for c in (memory, pids, cpu) if c is not None]

    # Private /tmp first: binds below it (a virtualenv in /tmp/...) are mounted on top.
    args = ["bwrap", *_namespace_args(root), "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(64 * MiB), "--tmpfs", "/dev/shm",
            "--perms", "1777", "--size", str(limits.scratch_bytes), "--tmpfs", "/tmp"]
    created: set[Path] = {Path("/"), Path("/tmp"), Path("/dev"), Path("/proc")}
    bound: list[Path] = []             # folders visible inside, read-only

    def covered(path: Path) -> bool:
        return any(path == b or b in path.parents for b in bound)

    def make_parents(target: Path) -> None:
        # bwrap creates missing parents mode 0700, which a dropped uid cannot traverse.
        for parent in reversed(target.parents):
            if parent not in created and not covered(parent):
                args.extend(["--perms", "0755", "--dir", str(parent)])
                created.add(parent)

    for system in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"):
        path = Path(system)
        if path.is_symlink():  # merged /usr: /bin -> usr/bin
            args.extend(["--symlink", os.readlink(system), system])
        elif path.exists():
            args.extend(["--ro-bind", system, system])
            bound.append(path)
    for path in python_paths():
        if covered(path):
            continue
        make_parents(path)
        args.extend(["--ro-bind", str(path), str(path)])
        bound.append(path)
    # Hide what an allow-listed folder may still contain (a non-editable install puts the
    # reference solutions in site-packages; a virtualenv may sit inside the repository).
    for secret in hidden:
        secret = secret.resolve()
        if secret.is_dir() and covered(secret):
            args.extend(["--tmpfs", str(secret)])
    if only is not None:
        inside = Path(SANDBOX_SUBMISSION) / only.resolve().relative_to(submission_root)
        make_parents(inside)
        args.extend(["--ro-bind", str(only.resolve()), str(inside)])
    else:
        args.extend(["--ro-bind", str(submission_root), SANDBOX_SUBMISSION])
        # Files the judge reads but the student's code must not (the recorded experiments: a
        # replay that could read them could answer with the recorded numbers) read as empty.
        for secret in judge_only_files(submission_root):
            inside = Path(SANDBOX_SUBMISSION) / secret.relative_to(submission_root)
            args.extend(["--ro-bind", "/dev/null", str(inside)])
    args.extend(["--chdir", "/tmp", "--clearenv"])
    for key, value in child_environment(threads, "/tmp").items():
        args.extend(["--setenv", key, value])
    if root:
        args.extend(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                     "--no-new-privs", "--"])
    if shutil.which("prlimit"):
        # RLIMIT_NPROC counts every process of the uid, all children of a batch together: it
        # is a fork-bomb stop; the per-child bound is the pids cgroup.
        args.extend(["prlimit", f"--cpu={limits.cpu_seconds}", "--nproc=4096",
                     f"--fsize={limits.file_size_bytes}", "--core=0"])
        if memory is None:
            args.append(f"--as={limits.address_space_bytes}")
        args.append("--")
    args.extend(python_argv)
    if cgroups:
        attach = " && ".join(f'echo $$ > "{cg}/cgroup.procs"' for cg in cgroups)
        args = ["sh", "-c", f'{attach} && exec "$@"', "sh", *args]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return Launch(args, env, "/", SANDBOX_SUBMISSION, None, cgroups)


def judge_only_files(submission_root: Path, limit: int = 100) -> list[Path]:
    """The files of ``submission_root`` matching :data:`JUDGE_ONLY_PATTERNS` (regular files,
    links not followed; at most ``limit``: a folder of thousands is refused earlier)."""
    root = Path(submission_root).resolve()
    found: list[Path] = []
    for pattern in JUDGE_ONLY_PATTERNS:
        for path in root.rglob(pattern):
            if path.is_file() and not path.is_symlink():
                found.append(path)
                if len(found) >= limit:
                    return found
    return found
