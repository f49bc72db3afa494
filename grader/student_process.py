"""The judge's side of the wall: start, talk to, time out and restart the student process.

:class:`StudentProcess` owns one sandboxed child running :mod:`grader.student_server`. Checks
use it through :class:`StudentModule` and :class:`Remote` proxies::

    model = student.MLP(hidden=(256,))        # built in the child; ``model`` is a handle
    out = model(torch.rand(4, 784))          # a plain tensor, decoded as data
    relu = student.lib("torch.nn.ReLU")      # a library object, passed by path

Every reply is decoded by :func:`grader.wire.loads` (size cap, weights-only unpickler, schema
check). A request that runs past its time limit kills the whole sandbox; the next request
starts a fresh child and reloads the submission, so only the check that timed out fails.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import mistakes, sandbox, wire
from grader import process_messages as say
from grader.failures import (BadReply, CheckFailure, MissingName, NotImplementedYet,
                             StudentCrashed, StudentError, StudentTimeout)
from grader.slicing import SlicePlan
from grader.student_server import MAX_MESSAGE
from grader.submission import Source

OUTPUT_CAP = 100_000


@dataclass
class LoadReport:
    """What loading the submission gave: the names it defines and the statements that failed."""

    defined: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# The two structured replies of the child, checked field by field: the child is untrusted, and
# the judge builds its messages from them.
# ------------------------------------------------------------------------------------------

MAX_FRAMES = 8  # the child keeps the last 8 student frames too; its MAX_MESSAGE cut as well


def error_report(error: Any) -> dict | None:
    """``{"type", "message", "frames": [[file, line, function, code]], "name"}`` with every
    field of the right type, strings cut to size; None when it is not that."""
    if not isinstance(error, dict):
        return None
    kind, message, frames = error.get("type"), error.get("message", ""), error.get("frames", [])
    if not (isinstance(kind, str) and isinstance(message, str) and isinstance(frames, list)):
        return None
    clean = []
    for frame in frames[-MAX_FRAMES:]:
        if not (isinstance(frame, (list, tuple)) and len(frame) == 4
                and [type(v) for v in frame] == [str, int, str, str]):
            return None
        clean.append([frame[0][:500], frame[1], frame[2][:200], frame[3][:500]])
    name = error.get("name")
    return {"type": kind[:100], "message": message[:MAX_MESSAGE], "frames": clean,
            "name": name[:200] if isinstance(name, str) else None}


def load_report(reply: Any, kept_lines: list[int] | None = None) -> LoadReport | None:
    """The load reply: the names defined, and an error report (plus its line) per failed
    top-level statement; None when it is not that.

    With ``kept_lines`` (the lines of the statements the child was asked to run), an error must
    be at one of them, once: the messages look errors up against each other, and 28,000 forged
    errors in a 1 MB reply kept the judge busy for half an hour."""
    if not isinstance(reply, dict):
        return None
    defined, errors = reply.get("defined"), reply.get("errors")
    if not (isinstance(defined, list) and all(isinstance(n, str) for n in defined)
            and isinstance(errors, list)):
        return None
    # `a = f(); b = g()` is two statements on one line: each line may fail as often as it has
    # statements kept.
    allowed = None if kept_lines is None else Counter(kept_lines)
    if allowed is not None and (len(errors) > len(kept_lines) or len(defined) > 100_000):
        return None
    clean = []
    for error in errors:
        report = error_report(error)
        if report is None or type(error.get("lineno")) is not int:
            return None
        if allowed is not None:
            if allowed[error["lineno"]] <= 0:
                return None
            allowed[error["lineno"]] -= 1
        clean.append({**report, "lineno": error["lineno"], "import": error.get("import") is True})
    return LoadReport(defined, clean)


class CappedOutput:
    """The child's stdout/stderr, kept up to a cap; never parsed for anything."""

    def __init__(self, cap: int = OUTPUT_CAP):
        self.cap, self.data, self.dropped = cap, bytearray(), 0
        self.lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        with self.lock:
            room = self.cap - len(self.data)
            self.data += chunk[:max(0, room)]
            self.dropped += max(0, len(chunk) - max(0, room))

    def text(self) -> str:
        with self.lock:
            text = self.data.decode("utf-8", "replace")
            if self.dropped:
                text += f"\n[... {self.dropped:,} more bytes of output dropped]"
            return text


class BudgetSpent(StudentTimeout):
    """The grading's whole time budget ran out during (or before) a request."""


@dataclass
class Stats:
    startups: int = 0
    startup_s: float = 0.0
    requests: int = 0
    request_s: float = 0.0


@dataclass
class RequestLimits:
    """Per-request time limits from what the reference's own requests cost on this machine.

    ``costs[check][function]``: the longest request to ``function`` in ``check`` when the
    reference was graded here (:mod:`grader.limits` measures and caches it). A request gets
    ``factor`` times that, never less than ``floor`` seconds: a slow machine does not fail
    honest code, a fast one does not wait minutes for an infinite loop. A request the
    reference never made keeps the check's own limit (its ``time_limit`` marker).
    """

    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    factor: float = 8.0
    floor: float = 10.0

    def limit(self, check: str, function: str, default: float) -> float:
        per_function = self.costs.get(check, {})
        cost = per_function.get(function)
        if cost is None and per_function:  # another call of that check: its costliest one
            cost = max(per_function.values())
        return default if cost is None else max(self.floor, self.factor * cost)


class StudentProcess:
    def __init__(self, source: Source, plan: SlicePlan, *, isolation: sandbox.Isolation,
                 limits: sandbox.Limits = sandbox.Limits(), threads: int = 1, seed: int = 0,
                 request_timeout: float = 30.0, load_timeout: float = 120.0,
                 hidden_paths: list[Path] | None = None,
                 max_reply_bytes: int = wire.DEFAULT_MAX_BYTES,
                 request_limits: RequestLimits | None = None, spawner=None):
        self.source, self.plan, self.isolation, self.limits = source, plan, isolation, limits
        self.threads, self.seed = threads, seed
        self.request_timeout, self.load_timeout = request_timeout, load_timeout
        self.budget: tuple[float, float] | None = None  # (deadline, seconds): see set_budget
        self.hidden_paths = hidden_paths or []
        self.max_reply_bytes = max_reply_bytes
        self.output = CappedOutput()
        self.stats = Stats()
        self.generation = 0
        self.load_report: LoadReport | None = None       # of the running child
        self.last_load_report: LoadReport | None = None  # kept after the child is gone
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._launch: sandbox.Launch | None = None
        self._reader: threading.Thread | None = None
        self._next_id = 0
        self._load_failure: CheckFailure | None = None
        self._spawned_at = 0.0
        self._inside_file = ""
        # Bounded hangs: the check now running (set by the judge), the functions that already
        # ran past their limit (function -> (check, seconds)): they are not called again, and
        # what each student function's requests cost per check (the calibration's measure).
        self.current_check = ""
        self.request_limits = request_limits
        self.timed_out: dict[str, tuple[str, float]] = {}
        self.request_costs: dict[str, dict[str, float]] = {}
        # Where children come from: None, a fresh sandbox per child (grader.sandbox); or a
        # warm zygote (grader.zygote) that forks them after importing torch.
        self.spawner = spawner

    # ---------------------------------------------------------------- life cycle

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> LoadReport:
        """Start the child (if needed) and load the submission; returns what got defined."""
        if self.running and self.load_report is not None:
            return self.load_report
        if self._load_failure is not None:  # do not pay for a doomed start-up again
            raise self._load_failure
        if not self.running:
            self.spawn()
        try:
            reply = self._request({
                "op": "load", "source": self.source.text, "filename": self._inside_file,
                "root": self._launch.submission_path, "module": self.source.module,
                "package": self.source.is_package, "kept": self.plan.kept,
                "watch": getattr(self, "watch", None)},  # grader.rules: what to observe
                timeout=self.load_timeout, what="loading the submission")
        except BudgetSpent as spent:
            self._load_failure = spent
            raise
        except StudentTimeout:  # the load is not retried: the next start would time out too
            self._load_failure = StudentTimeout(say.slow_load(self.load_timeout,
                                                              self._slow_load_culprits()))
            raise self._load_failure from None
        except CheckFailure as failure:
            self._load_failure = failure
            raise
        report = load_report(reply, self.plan.kept_lines)
        if report is None:
            self._stop()
            self._load_failure = BadReply(say.malformed_load_report())
            raise self._load_failure
        self.load_report = self.last_load_report = report
        self.stats.startups += 1
        self.stats.startup_s += time.perf_counter() - self._spawned_at
        return self.load_report

    def _slow_load_culprits(self) -> list[str]:
        """Loading runs imports, definitions and the top-level statements they need: the
        statements that compute something (`SCALE = train_model(150)`), the likely culprits."""
        work = [st for st in (self.plan.statements[i] for i in self.plan.kept)
                if st.kind not in ("import", "def", "class")]
        return [f"{self.source.where(st.lineno)}: `{st.summary}`" for st in work[:3]]

    def spawn(self) -> None:
        """Start a fresh child (it then imports torch and waits for the load request).

        Call it from a thread that outlives the child: bwrap's --die-with-parent (the kernel's
        parent-death signal) fires when the *thread* that started it exits.
        """
        self._stop()
        self._spawned_at = time.perf_counter()
        if self.spawner is not None:
            try:
                self._proc, self._sock, self._launch = self.spawner.spawn(self)
            except OSError as e:
                raise StudentCrashed(say.could_not_start(str(e))) from None
            self._started_child(self._proc)
            return
        parent_sock, child_sock = socket.socketpair()
        fd = child_sock.fileno()
        python_argv = [sys.executable, "-I", "-u", "-c", _BOOTSTRAP.format(path=_grader_parent()),
                       "--fd", str(fd), "--threads", str(self.threads),
                       "--cpu", str(self.limits.cpu_seconds),
                       "--fsize", str(self.limits.file_size_bytes)]
        python_argv += self.isolation.backend.self_limits(self.limits)
        launch = sandbox.build_launch(python_argv, self.source.root, limits=self.limits,
                                      threads=self.threads, hidden=self.hidden_paths,
                                      isolation=self.isolation,
                                      only=self.source.path if self.source.alone else None)
        try:
            proc = subprocess.Popen(launch.argv, env=launch.env, cwd=launch.cwd,
                                    pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as e:
            launch.cleanup()
            parent_sock.close()
            child_sock.close()
            raise StudentCrashed(say.could_not_start(str(e))) from None
        child_sock.close()
        self._proc, self._sock, self._launch = proc, parent_sock, launch
        self._started_child(proc)

    def _started_child(self, proc) -> None:
        self._inside_file = _inside_path(self.source.path, self.source.root,
                                         self._launch.submission_path)
        self._reader = threading.Thread(target=self._drain, args=(proc,), daemon=True)
        self._reader.start()
        self.generation += 1

    def close(self) -> None:
        self._stop()

    def _drain(self, proc: subprocess.Popen) -> None:
        stream = proc.stdout
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            self.output.feed(chunk)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and hasattr(proc, "kill_all"):  # a zygote's child: it kills the box
            proc.kill_all()
        elif proc is not None:
            if proc.poll() is None:
                try:  # the whole session: bwrap and everything under it (or the plain child)
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
                pass
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._launch is not None:
            self._launch.cleanup()
            self._launch = None
        self.load_report = None

    # ---------------------------------------------------------------- requests

    def request(self, op: str, *, timeout: float | None = None, what: str = "", **fields) -> Any:
        """Send one request, starting or restarting the child when needed."""
        if not self.running:
            self.start()
        return self._request({"op": op, **fields}, timeout=timeout or self.request_timeout,
                             what=what or op)

    def set_budget(self, seconds: float, started: float | None = None) -> None:
        """No request runs past ``started + seconds`` (``time.monotonic()``): the budget of the
        whole grading, which per-request limits alone overran (four checks each waiting for
        their own limit on an infinite loop: 321 s for a budget of 240 s)."""
        self.budget = ((time.monotonic() if started is None else started) + seconds, seconds)

    def _request(self, message: dict, *, timeout: float, what: str) -> Any:
        if self.budget is None:
            return self._exchange(message, timeout=timeout, what=what)
        end, seconds = self.budget
        left = end - time.monotonic()
        ran_out = BudgetSpent(say.budget_spent(what, seconds))
        if left <= 0:
            raise ran_out
        if left >= timeout:
            return self._exchange(message, timeout=timeout, what=what)
        try:
            return self._exchange(message, timeout=left, what=what)
        except StudentTimeout:
            raise ran_out from None

    def _exchange(self, message: dict, *, timeout: float, what: str) -> Any:
        self._next_id += 1
        message["id"] = self._next_id
        started = time.perf_counter()
        deadline = time.monotonic() + timeout  # one for the request: sending and the reply
        try:
            payload = wire.dumps(wire.to_wire(message))
            self._sock.settimeout(timeout)  # a child that stops reading must not block us
            try:
                wire.send_frame(self._sock, payload)
            except socket.timeout:
                self._stop()
                raise StudentTimeout(say.stopped_reading(what, timeout)) from None
            finally:
                if self._sock is not None:
                    self._sock.settimeout(None)
            frame = self._receive(deadline, timeout, what)
            reply = wire.loads(frame, max_bytes=self.max_reply_bytes)
        except wire.WireError as e:
            self._stop()
            raise BadReply(say.not_plain_data(what, str(e))) from None
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._died(what) from None
        finally:
            self.stats.requests += 1
            self.stats.request_s += time.perf_counter() - started
        if not isinstance(reply, dict) or reply.get("id") != message["id"]:
            self._stop()
            raise BadReply(say.out_of_turn(what))
        if "error" in reply:
            error = error_report(reply["error"])
            if error is None:
                self._stop()
                raise BadReply(say.malformed_error(what))
            raise self._student_error(what, error)
        return self._wrap(reply.get("ok"))

    def _receive(self, deadline: float, timeout: float, what: str) -> bytes:
        sock = self._sock
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop()
                raise StudentTimeout(say.timed_out(what, timeout))
            ready, _, _ = select.select([sock], [], [], remaining)
            if ready:
                break
        try:  # one deadline for the whole reply, however slowly its bytes come
            return wire.recv_frame(sock, max_bytes=self.max_reply_bytes, deadline=deadline)
        except socket.timeout:
            self._stop()
            raise StudentTimeout(say.slow_answer(what, timeout)) from None
        finally:
            if sock.fileno() != -1:  # not when _stop() closed it
                sock.settimeout(None)

    def _died(self, what: str) -> CheckFailure:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        memory_hit = self._launch is not None and _memory_limit_hit(self._launch)
        self._stop()
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            how = say.killed_by(name)
        elif code == 137 or memory_hit:
            how = say.killed_137()
        else:
            how = say.exited_with(code)
        tail = self.output.text().strip().splitlines()[-3:]
        limit = self.limits.memory_bytes / 2**30 if memory_hit else None
        return StudentCrashed(say.died(how, what, limit, tail))

    def _student_error(self, what: str, error: dict) -> StudentError:
        raw = [[f[0], f[1], f[2], self._code_line(f[0], f[1], f[3])] for f in error.get("frames", [])]
        frames = [f"{self._where(f[0], f[1])}, in {f[2]}\n    {f[3]}" if f[3]
                  else f"{self._where(f[0], f[1])}, in {f[2]}" for f in raw]
        kind, message = error.get("type", "Exception"), error.get("message", "")
        innermost = raw[-1][3] if raw else ""
        hint = ""
        name = error.get("name")
        if kind == "NotImplementedError" and raw and mistakes.is_starter_stub(innermost, message):
            filename, lineno, function = raw[-1][:3]
            return NotImplementedYet(what, "NotImplementedError", "", [], say.not_implemented(
                function, self._where(filename, lineno)), short=True)
        if kind == "NameError" and name in self.plan.only_in_skipped:
            line = self.plan.only_in_skipped[name]
            hint = say.defined_only_by_skipped(name, self.source.where(line))
        if kind == "NameError" and name and not hint:  # defined by a statement that failed
            from grader import missing

            hint = missing.failed_binding(name, self.source, self.plan, self.last_load_report)
        # A NotImplementedError from torch ("... not implemented for 'Long'") is a real error:
        # only the starter's own `raise` line above means "not written yet".
        hint = hint or mistakes.explain(kind, message, innermost)
        return StudentError(what, kind, message, frames, hint)

    def _code_line(self, filename: str, lineno: int, sent: str) -> str:
        """The student's line as the judge has it: for a notebook the child's linecache would
        read the raw .ipynb (JSON), and the judge holds the very source text it sent."""
        if filename and filename == self._inside_file:
            lines = re.split(r"\r\n|\r|\n", self.source.text)  # Python's line ends only
            if 1 <= lineno <= len(lines):
                return lines[lineno - 1].strip()[:500]
        return sent.strip()

    def _where(self, filename: str, lineno: int) -> str:
        if self._launch is not None and filename.startswith(self._launch.submission_path):
            inside = _inside_path(self.source.path, self.source.root, self._launch.submission_path)
            if filename == inside:
                return self.source.where(lineno)
            return f"{filename[len(self._launch.submission_path):].lstrip('/')}, line {lineno}"
        return f"{Path(filename).name}, line {lineno}"

    def _wrap(self, value):
        if isinstance(value, wire.Handle):
            return Remote(self, wire.Path(("handle", value.id)), self.generation, value.type,
                          value.repr)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._wrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        return value

    # ---------------------------------------------------------------- operations on proxies

    def call(self, target: "Remote", args: tuple, kwargs: dict, *, timeout: float | None = None) -> Any:
        self._check_alive(target)
        for value in list(args) + list(kwargs.values()):
            self._check_alive(value)
        what = describe_call(target, args, kwargs)
        function = function_called(target, args)
        # The student's functions this call runs: itself, or those a grader helper is given
        # (`train(model, ..., train_loop=student.train_loop)` runs the student's train_loop).
        runs = [name for name in (_student_function(v) for v in [*args, *kwargs.values()])
                if name] or [function]
        for name in [function, *runs]:
            if name in self.timed_out:  # an infinite loop is not waited for twice
                check, seconds = self.timed_out[name]
                raise StudentTimeout(say.timed_out_before(name, check, seconds))
        limit = timeout or self.request_timeout
        if self.request_limits is not None:
            limit = self.request_limits.limit(self.current_check, function, limit)
        if not self.running:
            self.start()  # a restart's load has its own limit: not this function's cost
        started = time.perf_counter()
        try:
            return self.request("call", path=target._path, args=_paths(args),
                                kwargs=_paths(kwargs), timeout=limit, what=what)
        except BudgetSpent:
            raise
        except StudentTimeout:
            for name in runs:
                self.timed_out[name] = (self.current_check, limit)
            raise
        finally:
            costs = self.request_costs.setdefault(self.current_check, {})
            costs[function] = max(costs.get(function, 0.0), time.perf_counter() - started)

    def get(self, target: "Remote", *, timeout: float | None = None) -> Any:
        self._check_alive(target)
        return self.request("get", path=target._path, timeout=timeout,
                            what=target._path.describe())

    def reseed(self, seed: int | None = None) -> None:
        if self.running:
            self.request("seed", seed=self.seed if seed is None else seed, threads=self.threads)

    def _check_alive(self, value) -> None:
        if isinstance(value, Remote) and value._path.root[0] == "handle" and (
                value._generation != self.generation or not self.running):
            raise StudentCrashed(say.handle_lost(repr(value)))


class Remote:
    """A student-side object (or a path to one). Attribute access builds the path lazily;
    calling it or :meth:`fetch` sends a request."""

    __slots__ = ("_process", "_path", "_generation", "_type", "_repr")

    def __init__(self, process: StudentProcess, path: wire.Path, generation: int,
                 type_name: str = "", text: str = ""):
        self._process, self._path, self._generation = process, path, generation
        self._type, self._repr = type_name, text

    def __getattr__(self, name: str) -> "Remote":
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Remote(self._process, wire.Path(self._path.root, self._path.attrs + (name,)),
                      self._generation, "", "")

    def __call__(self, *args, **kwargs):
        return self._process.call(self, args, kwargs)

    def call_with_timeout(self, timeout: float, *args, **kwargs):
        """Call with a time limit of its own (training runs get more than the default)."""
        return self._process.call(self, args, kwargs, timeout=timeout)

    def fetch(self):
        """The value at this path, as data (or a handle when it is not data)."""
        return self._process.get(self)

    @property
    def type_name(self) -> str:
        return self._type

    def __repr__(self) -> str:
        label = self._path.describe()
        if self._path.root[0] == "handle" and not self._path.attrs:
            label = f"{self._type or 'object'} object"
        return f"<student {label}>"


class StudentModule:
    """The submission's namespace as the checks see it: ``student.MLP``, ``student.fit``...

    A name the submission does not define fails the check with the names it does define
    ("did you mean ..."); a name whose definition raised says what went wrong, and where.
    """

    def __init__(self, process: StudentProcess):
        self._process = process

    @property
    def process(self) -> StudentProcess:
        return self._process

    def lib(self, dotted: str) -> Remote:
        """A library object in the child (``torch.nn.ReLU``, ``grader.recipes.predict``)."""
        return Remote(self._process, wire.Path(("lib", dotted)), 0)

    def has(self, name: str) -> bool:
        report = self._process.start()
        return name in report.defined

    def __getattr__(self, name: str) -> Remote:
        if name.startswith("__"):
            raise AttributeError(name)
        report = self._process.start()
        if name not in report.defined:
            raise MissingName(missing_name_message(name, self._process, report))
        return Remote(self._process, wire.Path(("module",), (name,)), 0)


def missing_name_message(name: str, process: StudentProcess, report: LoadReport) -> str:
    """One line: why ``name`` is not defined (a failed statement or import, a definition inside
    the `if __name__` block or another function, or absent: "did you mean")."""
    from grader import missing

    return missing.message(name, process.source, process.plan, report)


def call_as(what: str, function: Remote, *args, hint: str = "", **kwargs):
    """Call a grader helper that runs the student's code in the child, and report a student
    exception as raised by ``what`` — the student wrote ``update``, not ``apply_update``."""
    try:
        return function(*args, **kwargs)
    except NotImplementedYet:
        raise
    except StudentError as e:
        raise StudentError(what, e.type_name, e.message, e.where, hint or e.hint) from None


def describe_call(target: Remote, args: tuple, kwargs: dict) -> str:
    """``fit(Sequential, DataLoader, ...)``: how a call reads in a message to the student."""
    name = target._path.describe()
    if name == "grader.recipes.call_with_module_globals" and args:
        target, args = args[0], args[2:]  # the student's function, run with the grader's loops
        name = target._path.describe()
    elif name.startswith(("grader.", "practical.")):  # practical: the folder's child-side helpers
        name = name.rsplit(".", 1)[-1]
    parts = [_describe_arg(a) for a in args] + [f"{k}={_describe_arg(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def function_called(target: Remote, args: tuple) -> str:
    """The student function a call runs, named the same in every check: ``train_loop``,
        ``MLP.forward`` for a model's forward (a handle's number changes, its class does not)."""
    name = target._path.describe()
    if name == "grader.recipes.call_with_module_globals" and args and isinstance(args[0], Remote):
        target = args[0]
    if target._path.root[0] == "handle":  # model(x) runs the class's forward
        return ".".join([target._type or "object", *(target._path.attrs or ("forward",))])
    name = target._path.describe()
    return name.rsplit(".", 1)[-1] if name.startswith("grader.") else name


def _student_function(value) -> str | None:
    """``train_loop`` for ``student.train_loop`` passed as an argument; None otherwise."""
    if isinstance(value, Remote) and value._path.root == ("module",) and value._path.attrs:
        return value._path.describe()
    return None


def _describe_arg(value) -> str:
    import numpy as np
    import torch

    if isinstance(value, Remote):
        return value._type or value._path.describe()
    if isinstance(value, torch.Tensor):
        return f"<tensor {list(value.shape)}>"
    if isinstance(value, np.ndarray):
        return f"<array {list(value.shape)}>"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"<{type(value).__name__} of {len(value)}>"
    if isinstance(value, (list, tuple)):  # a batch list of (images, labels): shapes, not values
        inner = ", ".join(_describe_arg(v) for v in value)
        if isinstance(value, tuple):
            inner += "," if len(value) == 1 else ""
            return f"({inner})" if len(inner) <= 80 else f"<tuple of {len(value)}>"
        return f"[{inner}]" if len(inner) <= 80 else f"<list of {len(value)}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _paths(value):
    """Replace proxies by the paths the child resolves."""
    if isinstance(value, Remote):
        return value._path
    if isinstance(value, list):
        return [_paths(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_paths(v) for v in value)
    if isinstance(value, dict):
        return {k: _paths(v) for k, v in value.items()}
    return value


def _inside_path(path: Path, root: Path, inside_root: str) -> str:
    return str(Path(inside_root) / path.resolve().relative_to(root.resolve()))


def _grader_parent() -> str:
    import grader

    return str(Path(grader.__file__).resolve().parent.parent)


def _memory_limit_hit(launch: sandbox.Launch) -> bool:
    if hasattr(launch, "memory_hit"):  # a zygote's child: its box's failures since the fork
        return launch.memory_hit()
    for cg in launch.cgroups:
        failcnt = cg / "memory.failcnt"
        try:
            if failcnt.exists() and int(failcnt.read_text().strip() or 0) > 0:
                return True
        except (OSError, ValueError):
            pass
    return False


# The child imports the grader from where the judge has it, whatever the install layout, and
# refuses imports of what it must not see (the basic sandbox cannot hide the files).
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, {path!r}); sys.argv[0] = 'student_server'; "
    "from grader.student_server import main; main(sys.argv[1:])"
)
