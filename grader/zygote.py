"""Warm student processes: a zygote imports torch once, then forks one child per student.

A cold student process pays Python, ``import torch`` and the first optimizer's
``torch._dynamo`` import (about 3 s on 2 cores) before the submission is even read. In a batch,
or a server grading ``grade check`` after ``grade check``, the zygote pays them once:

    judge ──control socket──▶ zygote (in the sandbox, as the sandbox's user; no student code
                                      ever runs in it; it imported torch, numpy, dynamo and the
                                      grader's child side, then refused to be ptraced)
                                 └─ fork ─▶ the student's child (student_server.Server on the
                                            request socket the judge sent, its stdout on the
                                            pipe the judge sent)

The sandbox is the one of a cold start (:func:`grader.sandbox.build_launch`: the same
namespaces, allow-listed file system, uid drop, cgroups and rlimits), built once around the
zygote. What a cold start gets by being new, each child gets by the zygote's cleanup, done
before the next student's files are shown and the next child forked:

* **no process survives**: in the strong sandbox the zygote sends SIGKILL to every process of
  its pid namespace (``kill(-1)``: all it may signal, its own children, their daemons — the
  sandbox's init runs as root and stays), and waits until ``/proc`` lists none; in the basic
  one, the child's session (as a cold start's ``killpg``);
* **no file survives**: the private ``/tmp`` and ``/dev/shm`` are emptied (basic: the child's
  own scratch folder is removed); System V IPC objects are removed (``ipcrm --all``);
* **no memory, descriptor or modified module survives**: each student is a fresh fork of a
  process that never ran student code; the child's descriptors die with it, and the zygote
  holds none of a student's (it closes what it passes on);
* **no other student's data is there**: the submission folder the sandbox shows
  (``/submission``) is a folder of the judge's that holds only the current student's files,
  replaced between students, after the cleanup.

A child that kills or stops the zygote (it is the same user) only loses the warm start: the
judge sees the control socket fail, kills the whole sandbox and starts a new one. The zygote is
not dumpable, so a child cannot write into its memory through ``/proc`` or ``ptrace``.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader import sandbox

CONTROL_TIMEOUT_S = 20.0     # an answer to a control message (a kill waits for the cleanup)
START_TIMEOUT_S = 180.0      # the zygote's own imports
ZYGOTE_MEMORY = 2**29        # torch in the zygote: counted in the box's memory cgroup too


class ZygoteFailed(OSError):
    """The zygote did not answer (killed or stopped by a child, or it could not start)."""


class ChildLaunch:
    """What :class:`grader.student_process.StudentProcess` reads of a launch, for a forked child."""

    def __init__(self, zygote: "Zygote", submission_path: str):
        self.submission_path = submission_path
        self.cgroups: list[Path] = []
        self._zygote, self._failures = zygote, zygote.memory_failures()

    def memory_hit(self) -> bool:
        return self._zygote.memory_failures() > self._failures

    def cleanup(self) -> None:
        pass


class ZygoteChild:
    """The forked child as the judge sees it: the Popen methods StudentProcess uses."""

    def __init__(self, zygote: "Zygote", pid: int, stdout, generation: int):
        self.pid, self.stdout = pid, stdout
        self._zygote, self._generation = zygote, generation
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote._status(self, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self.returncode
        if code is None:
            code = self.returncode = self._zygote._status(self, timeout or 0.0)
        if code is None:
            raise subprocess.TimeoutExpired("student process", timeout)
        return code

    def kill_all(self) -> None:
        self._zygote._kill_all(self)
        if self.returncode is None:
            self.returncode = -signal.SIGKILL


class Zygote:
    """One warm sandbox; :meth:`spawn` gives a fresh child for a :class:`StudentProcess`.

    Pass it as ``spawner`` to StudentProcess (``judge.grade(..., spawner=zygote)``). One
    zygote serves one grading at a time (one batch worker's students, one after the other);
    its settings (isolation, limits, threads, hidden paths) are those of the assignment it was
    made for: :meth:`suits` tells whether another grading may use it.
    """

    def __init__(self, *, isolation: sandbox.Isolation, limits: sandbox.Limits, threads: int,
                 hidden_paths: list[Path]):
        self.isolation, self.threads = isolation, threads
        self.limits = limits
        self.hidden_paths = [Path(p) for p in hidden_paths]
        self.inbox = Path(tempfile.mkdtemp(prefix="grader-inbox-"))
        os.chmod(self.inbox, 0o755)  # the sandbox's user reads the submission it shows
        self.starts = self.forks = 0
        self._proc: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._launch: sandbox.Launch | None = None
        self._lock = threading.RLock()
        self._generation = 0

    def suits(self, isolation: sandbox.Isolation, limits: sandbox.Limits, threads: int,
              hidden_paths: list[Path]) -> bool:
        return (isolation.backend is self.isolation.backend and limits == self.limits
                and threads == self.threads
                and sorted(map(str, hidden_paths)) == sorted(map(str, self.hidden_paths)))

    # ---------------------------------------------------------------- the zygote itself

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the zygote (if it is not running) and wait until it has imported torch."""
        with self._lock:
            if self.alive:
                return
            self.destroy(keep_inbox=True)
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            from grader.student_process import _grader_parent

            argv = [sys.executable, "-I", "-u", "-c", _BOOT.format(path=_grader_parent()),
                    "--control-fd", str(child.fileno()), "--threads", str(self.threads),
                    "--cpu", str(self.limits.cpu_seconds),
                    "--fsize", str(self.limits.file_size_bytes)]
            backend = self.isolation.backend
            argv += backend.self_limits(self.limits)
            if backend.private_namespaces:
                argv += ["--private-namespaces"]
            box = sandbox.Limits(memory_bytes=self.limits.memory_bytes + ZYGOTE_MEMORY,
                                 cpu_seconds=self.limits.cpu_seconds,
                                 processes=self.limits.processes,
                                 file_size_bytes=self.limits.file_size_bytes,
                                 scratch_bytes=self.limits.scratch_bytes)
            launch = sandbox.build_launch(argv, self.inbox, limits=box, threads=self.threads,
                                          hidden=self.hidden_paths, isolation=self.isolation)
            try:
                proc = subprocess.Popen(launch.argv, env=launch.env, cwd=launch.cwd,
                                        pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
            except OSError:
                launch.cleanup()
                parent.close()
                child.close()
                raise
            child.close()
            self._proc, self._control, self._launch = proc, parent, launch
            self._generation += 1
            try:
                ready = self._receive(START_TIMEOUT_S)
            except ZygoteFailed:
                self.destroy(keep_inbox=True)
                raise
            self.dumpable = ready.get("dumpable")
            if ready.get("op") != "ready":
                self.destroy(keep_inbox=True)
                raise ZygoteFailed("the zygote did not start")
            self.starts += 1

    def destroy(self, keep_inbox: bool = False) -> None:
        """Kill the whole sandbox (the zygote and anything left in it)."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
                proc.wait()
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._launch is not None:
                self._launch.cleanup()
                self._launch = None
            if not keep_inbox:
                shutil.rmtree(self.inbox, ignore_errors=True)

    close = destroy

    def memory_failures(self) -> int:
        total = 0
        for group in (self._launch.cgroups if self._launch else []):
            try:
                total += int((group / "memory.failcnt").read_text().strip() or 0)
            except (OSError, ValueError):
                pass
        return total

    # ---------------------------------------------------------------- children

    def spawn(self, process) -> tuple[ZygoteChild, socket.socket, ChildLaunch]:
        """A fresh child for ``process`` (a StudentProcess), its submission in the inbox."""
        with self._lock:
            if not self.alive:
                self.start()
            self._show(process.source)
            judge_end, child_end = socket.socketpair()
            read_end, write_end = os.pipe()
            try:
                self._send({"op": "fork"}, [child_end.fileno(), write_end])
                reply = self._receive(CONTROL_TIMEOUT_S)
            except ZygoteFailed:
                judge_end.close()
                os.close(read_end)
                self.destroy(keep_inbox=True)
                raise
            finally:
                child_end.close()
                os.close(write_end)
            self.forks += 1
            submission_path = self.isolation.backend.inside_root(self.inbox)
            child = ZygoteChild(self, int(reply["pid"]), os.fdopen(read_end, "rb", buffering=0),
                                self._generation)
            return child, judge_end, ChildLaunch(self, submission_path)

    def _show(self, source) -> None:
        """The inbox holds this student's files and nothing else (hard links, else copies)."""
        for entry in list(self.inbox.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        root = Path(source.root).resolve()
        if source.alone:
            target = self.inbox / Path(source.path).resolve().relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(Path(source.path).resolve(), target)
            for folder in target.parents:
                if folder == self.inbox:
                    break
                os.chmod(folder, 0o755)
        else:
            shutil.copytree(root, self.inbox, symlinks=True, dirs_exist_ok=True,
                            copy_function=_link_or_copy,
                            ignore=shutil.ignore_patterns(*sandbox.JUDGE_ONLY_PATTERNS))

    def _status(self, child: ZygoteChild, timeout: float) -> int | None:
        with self._lock:
            if child._generation != self._generation or not self.alive:
                return -signal.SIGKILL  # its whole sandbox is gone
            try:
                self._send({"op": "wait", "pid": child.pid, "timeout": timeout})
                return self._receive(CONTROL_TIMEOUT_S + timeout).get("code")
            except ZygoteFailed:
                self.destroy(keep_inbox=True)
                return -signal.SIGKILL

    def _kill_all(self, child: ZygoteChild) -> None:
        """Every process of the child's, then its files: or the whole sandbox when the zygote
        does not answer."""
        with self._lock:
            if child._generation != self._generation:
                return  # its sandbox is already gone
            if not self.alive:  # the child killed the zygote: what is left goes with the box
                self.destroy(keep_inbox=True)
                return
            try:
                self._send({"op": "kill", "pid": child.pid})
                reply = self._receive(CONTROL_TIMEOUT_S)
                if reply.get("op") != "clean":
                    raise ZygoteFailed("the zygote could not clean up")
            except ZygoteFailed:
                self.destroy(keep_inbox=True)
            finally:
                try:
                    child.stdout.close()
                except OSError:
                    pass

    def _send(self, message: dict, fds: list[int] = ()) -> None:
        try:
            self._control.settimeout(CONTROL_TIMEOUT_S)
            socket.send_fds(self._control, [json.dumps(message).encode()], list(fds))
        except (OSError, AttributeError) as e:
            raise ZygoteFailed(f"the zygote is gone ({e})") from None

    def _receive(self, timeout: float) -> dict:
        try:
            self._control.settimeout(timeout)
            data = self._control.recv(65536)
        except (OSError, AttributeError) as e:
            raise ZygoteFailed(f"the zygote did not answer ({e})") from None
        if not data:
            raise ZygoteFailed("the zygote is gone")
        try:
            reply = json.loads(data)
        except ValueError:
            raise ZygoteFailed("the zygote answered nonsense") from None
        if not isinstance(reply, dict):
            raise ZygoteFailed("the zygote answered nonsense")
        return reply


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# ============================================================================================
# Inside the sandbox
# ============================================================================================

_BOOT = ("import sys; sys.path.insert(0, {path!r}); sys.argv[0] = 'zygote'; "
         "from grader.zygote import serve; serve(sys.argv[1:])")


def serve(argv: list[str]) -> None:  # pragma: no cover - runs in the sandbox
    from grader import student_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu", type=int)
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--address-space", type=int)
    parser.add_argument("--private-namespaces", action="store_true")
    args = parser.parse_args(argv)
    student_server._apply_limits(args)
    # What every child needs, imported once (and nothing run): torch, its optimizers' dynamo,
    # numpy, the child side of the grader.
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        import torch._dynamo  # noqa: F401  (the first optimizer imports it: 1.5 s)
        import torch.optim  # noqa: F401
    except Exception:  # noqa: BLE001 - a warm start only
        pass
    import grader.recipes  # noqa: F401
    import grader.training  # noqa: F401
    import grader.wire  # noqa: F401
    try:  # not ptraceable, /proc/<pid>/mem closed to the children (same user)
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass
    if args.private_namespaces:  # every child starts from the same empty /tmp (dynamo's cache dir too)
        _empty("/tmp")
    scratch_root = None if args.private_namespaces else Path(tempfile.mkdtemp(prefix="grader-zygote-"))
    control = socket.socket(fileno=args.control_fd)
    control.send(json.dumps({"op": "ready", "dumpable": _dumpable()}).encode())
    children: dict[int, int | None] = {}   # pid -> exit code once reaped
    scratch: dict[int, Path] = {}
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 65536, 4)
        except OSError:
            data, fds = b"", []
        if not data:
            _kill_everything(args.private_namespaces, children)
            os._exit(0)
        message = json.loads(data)
        op = message.get("op")
        if op == "fork":
            folder = None if scratch_root is None else Path(tempfile.mkdtemp(dir=scratch_root))
            pid = os.fork()
            if pid == 0:
                _child(fds[0], fds[1], control, folder, args.threads)
            for fd in fds:
                os.close(fd)
            children[pid] = None
            if folder is not None:
                scratch[pid] = folder
            reply = {"op": "forked", "pid": pid}
        elif op == "wait":
            pid, deadline = int(message["pid"]), time.monotonic() + float(message["timeout"])
            while True:
                code = _reap(children, pid)
                if code is not None or time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
            reply = {"op": "status", "code": code}
        elif op == "kill":
            _kill_everything(args.private_namespaces, children, int(message["pid"]))
            for folder in scratch.values():
                _remove(str(folder))
            scratch.clear()
            reply = {"op": "clean"}
        else:
            reply = {"op": "unknown"}
        control.send(json.dumps(reply).encode())


def _child(sock_fd: int, out_fd: int, control: socket.socket, scratch: Path | None,
           threads: int) -> None:  # pragma: no cover - runs in the forked child
    """The student's process: the zygote's imports, a new session, then the usual server."""
    try:
        control.close()
        os.setsid()
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        if scratch is not None:  # basic mode: a scratch folder of its own, as a cold start
            for key in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
                os.environ[key] = str(scratch)
            tempfile.tempdir = None
            os.chdir(scratch)
        from grader import student_server

        sys.meta_path.insert(0, student_server._RefuseGraderInternals())
        sys.stdin = io.StringIO()
        student_server.Server(socket.socket(fileno=sock_fd)).serve()
    finally:
        os._exit(0)


def _reap(children: dict[int, int | None], pid: int | None = None) -> int | None:
    """Collect exited children; the exit code of ``pid`` (Popen's convention) once known."""
    while True:
        try:
            done, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if done == 0:
            break
        children[done] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return children.get(pid) if pid is not None else None


def _kill_everything(namespaced: bool, children: dict[int, int | None],
                     pid: int | None = None) -> None:
    if namespaced:
        me = os.getpid()
        for _ in range(500):
            try:
                os.kill(-1, signal.SIGKILL)  # every process of this pid namespace we may signal
            except ProcessLookupError:
                pass
            _reap(children)
            if not _others_alive(me):
                break
            time.sleep(0.01)
        _empty("/tmp")
        _empty("/dev/shm")
        try:
            subprocess.run(["ipcrm", "--all"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
    else:
        for child in [p for p, code in children.items() if code is None]:
            try:
                os.killpg(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 5
        while any(code is None for code in children.values()) and time.monotonic() < deadline:
            _reap(children)
            time.sleep(0.01)
    for child in [p for p in children if p != pid]:
        children.pop(child, None)


def _others_alive(me: int) -> bool:
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def _empty(folder: str) -> None:
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for name in entries:
        _remove(os.path.join(folder, name))


def _remove(path: str) -> None:
    """Remove a file or a folder, even one its student made unreadable (same user)."""
    try:
        is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return
    if not is_dir:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    try:
        names = os.listdir(path)
    except OSError:
        names = []
    for name in names:
        _remove(os.path.join(path, name))
    try:
        os.rmdir(path)
    except OSError:
        pass


def _dumpable() -> int | None:  # pragma: no cover - runs in the sandbox
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
    except (OSError, AttributeError):
        return None
