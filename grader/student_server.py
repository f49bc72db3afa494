"""The student process: loads a submission and answers the judge's requests with data.

Run as ``python -I -m grader.student_server --fd N`` inside the sandbox. It is the only place
where student code runs. Requests arrive on the socket ``N`` (never stdin/stdout, which the
judge captures and never parses); every reply is a wire tree (:mod:`grader.wire`): values
that are not data stay here and are sent as numbered handles.

Nothing here is trusted by the judge: a submission can rewrite this module's behaviour at
will, and all it could gain is to send other data, which the judge checks like any reply.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import io
import linecache
import os
import re
import resource
import socket
import sys
import traceback
import types

# "practical": the practical's own child-side helpers, sent by the judge (grader.recipes.install_practical).
ALLOWED_LIBRARIES = ("torch", "numpy", "math", "grader.training", "grader.recipes", "practical")
MAX_MESSAGE = 2000


class MissingModule:
    """Stands for a module whose import failed; using it raises a clear ImportError."""

    def __init__(self, name: str, error: str, lineno: int):
        self._grader_missing = (name, error, lineno)

    def _fail(self, *_, **__):
        name, error, lineno = self._grader_missing
        raise ModuleNotFoundError(
            f"`{name}` (imported at line {lineno}) is not available in the grading environment "
            f"({error}); the graded code cannot use it")

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self._fail()

    # `class Linear(Module):` with Module a placeholder: without this, Python would take the
    # placeholder's type as the metaclass and turn the class itself into a placeholder, whose
    # every use then names the class's __dict__ instead of the failed import.
    def __mro_entries__(self, bases):
        self._fail()

    __call__ = _fail


class Server:
    def __init__(self, sock: socket.socket):
        from grader import wire

        self.wire = wire
        self.sock = sock
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}      # id(obj) -> handle number
        self.module: types.ModuleType | None = None
        self.filename = ""
        self.root = ""
        self.lines: list[str] = []

    # ---------------------------------------------------------------- protocol

    def serve(self) -> None:
        wire = self.wire
        while True:
            try:
                payload = wire.recv_frame(self.sock, max_bytes=1 << 40)
            except EOFError:
                return
            request = wire.loads(payload, max_bytes=1 << 40)
            reply = {"id": request.get("id")}
            try:
                value = getattr(self, "op_" + request["op"])(request)
                reply["ok"] = wire.to_wire(value, on_object=self.store)
            except BaseException as exc:  # noqa: BLE001 - SystemExit from student code included
                if isinstance(exc, KeyboardInterrupt):
                    raise
                reply = {"id": request.get("id"), "error": self.describe(exc)}
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                data = wire.dumps(reply)
            except Exception as exc:  # noqa: BLE001 - e.g. a tensor torch cannot serialise
                data = wire.dumps({"id": request.get("id"), "error": self.describe(exc)})
            wire.send_frame(self.sock, data)

    def store(self, obj) -> dict:
        number = self.ids.get(id(obj))
        if number is None:
            number = len(self.objects) + 1
            self.objects[number] = obj
            self.ids[id(obj)] = number
        return self.wire.to_wire(self.wire.Handle(number, _type_name(obj), _safe_repr(obj)))

    def describe(self, exc: BaseException) -> dict:
        frames = []
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            code = frame.f_code
            if self._is_student_file(code.co_filename):
                line = self._line(code.co_filename, lineno)
                name = getattr(code, "co_qualname", code.co_name)  # MLP.__init__ (3.11+)
                frames.append([code.co_filename, lineno, name, line])
        if isinstance(exc, SystemExit):
            message = f"the code called sys.exit({exc.code!r})"
        else:
            try:
                message = str(exc)
            except Exception:  # noqa: BLE001 - a student's broken __str__
                message = "<unprintable message>"
        name = getattr(exc, "name", None)
        return {"type": type(exc).__name__, "message": message[:MAX_MESSAGE],
                "frames": frames[-8:], "name": name if isinstance(name, str) else None}

    def _line(self, filename: str, lineno: int) -> str:
        # The submission's own lines come from the source it was loaded from: a notebook's
        # file on disk is JSON, and linecache would quote that.
        if filename == self.filename and 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1].strip()
        return linecache.getline(filename, lineno).strip()

    def _is_student_file(self, filename: str) -> bool:
        return bool(self.root) and (filename == self.filename or filename.startswith(self.root + "/"))

    # ---------------------------------------------------------------- resolving objects

    def resolve(self, path):
        kind = path.root[0]
        if kind == "module":
            if self.module is None:
                raise RuntimeError("no submission loaded")
            obj = self.module
        elif kind == "handle":
            if path.root[1] not in self.objects:
                raise LookupError(f"object #{path.root[1]} no longer exists")
            obj = self.objects[path.root[1]]
        elif kind == "lib":
            obj = _import_library_object(path.root[1])
        else:
            raise ValueError(f"unknown root {kind!r}")
        for attr in path.attrs:
            obj = getattr(obj, attr)
        return obj

    def materialise(self, value):
        """Turn paths inside request arguments into the objects they name."""
        if isinstance(value, self.wire.Path):
            return self.resolve(value)
        if isinstance(value, list):
            return [self.materialise(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.materialise(v) for v in value)
        if isinstance(value, dict):
            return {k: self.materialise(v) for k, v in value.items()}
        return value

    # ---------------------------------------------------------------- operations

    def op_ping(self, request):
        return "pong"

    def op_seed(self, request):
        from grader.training import seed_everything

        seed_everything(int(request["seed"]), int(request["threads"]))
        return None

    def op_load(self, request):
        """Run the kept top-level statements of the submission in a fresh module."""
        self.filename, self.root = request["filename"], request["root"]
        self.lines = re.split(r"\r\n|\r|\n", request["source"])  # Python's line ends only
        if self.root not in sys.path:
            sys.path.insert(0, self.root)
        module = types.ModuleType(request["module"])
        module.__file__ = self.filename
        if request["package"]:
            module.__path__ = [os.path.dirname(self.filename)]
            module.__package__ = request["module"]
        else:
            module.__package__ = ""
        sys.modules[request["module"]] = module
        self.module = module
        self.watch = None
        if request.get("watch"):  # grader.rules: calls the practical forbids, seen as they run
            from grader.rules import RuntimeWatch

            self.watch = RuntimeWatch(request["watch"]["modules"], request["watch"]["names"],
                                      self._is_student_file)
        tree = ast.parse(request["source"], filename=self.filename)
        errors = []
        for index in request["kept"]:
            node = tree.body[index]
            code = compile(ast.Module(body=[node], type_ignores=[]), self.filename, "exec")
            try:
                exec(code, module.__dict__)  # noqa: S102 - this is the sandboxed student process
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                if isinstance(node, (ast.Import, ast.ImportFrom)) and isinstance(exc, ImportError):
                    self._bind_missing(node, module, exc)
                    errors.append({"lineno": node.lineno, "import": True, **self.describe(exc)})
                else:
                    errors.append({"lineno": node.lineno, "import": False, **self.describe(exc)})
        defined = sorted(k for k in module.__dict__ if not k.startswith("__"))
        return {"defined": defined, "errors": errors}

    def _bind_missing(self, node, module, exc) -> None:
        for alias in node.names:
            if alias.name == "*":
                continue
            bound = alias.asname or (alias.name if isinstance(node, ast.ImportFrom)
                                     else alias.name.split(".")[0])
            source = ("." * node.level + (node.module or "") if isinstance(node, ast.ImportFrom)
                      else alias.name)
            if bound not in module.__dict__:
                module.__dict__[bound] = MissingModule(source or alias.name, str(exc), node.lineno)

    def op_get(self, request):
        return self.resolve(request["path"])

    def op_call(self, request):
        target = self.resolve(request["path"])
        args = self.materialise(request.get("args", []))
        kwargs = self.materialise(request.get("kwargs", {}))
        if getattr(self, "watch", None) is not None:
            return self.watch.run(target, *args, **kwargs)
        return target(*args, **kwargs)

    def op_rules_seen(self, request):
        return self.watch.report() if getattr(self, "watch", None) is not None else []

    def op_release(self, request):
        for number in request["ids"]:
            obj = self.objects.pop(number, None)
            if obj is not None:
                self.ids.pop(id(obj), None)
        return None


def _import_library_object(dotted: str):
    if not any(dotted == lib or dotted.startswith(lib + ".") for lib in ALLOWED_LIBRARIES):
        raise PermissionError(f"{dotted} is not a library the judge may use in the student process")
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _type_name(obj) -> str:
    cls = type(obj)
    return str(getattr(cls, "__qualname__", cls.__name__))[:200]


def _safe_repr(obj) -> str:
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - a student's broken __repr__
        return ""
    return text if len(text) <= 300 else text[:297] + "..."


def _apply_limits(args) -> None:
    """Self-imposed rlimits, before any student code runs (the basic mode's only walls)."""
    for name, value in (("RLIMIT_CPU", args.cpu), ("RLIMIT_FSIZE", args.fsize),
                        ("RLIMIT_CORE", 0), ("RLIMIT_AS", args.address_space)):
        if value is None:
            continue
        limit = getattr(resource, name)
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


class _RefuseGraderInternals:
    """Meta-path finder refusing the grader's own secrets (reference solutions, checks).

    The strong sandbox does not even mount them; in basic mode this stops the obvious
    ``from reference.mlp_pixels import *`` (a determined submission can still read files:
    that is what "isolation: basic" in the report means).
    """

    BLOCKED = ("reference", "assignments", "tests")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"`{name}` is not available to submissions", name=name)
        return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--cpu", type=int)
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--address-space", type=int)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    _apply_limits(args)
    sys.meta_path.insert(0, _RefuseGraderInternals())
    sock = socket.socket(fileno=args.fd)
    sys.stdin = io.StringIO()
    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    Server(sock).serve()


if __name__ == "__main__":
    main()
