"""Rules of the exercise: what the graded code must not use (the DIY framework is NumPy only,
the perceptron computes its gradient by hand).

Declared per practical in ``assignment.toml``, one ``[[rules]]`` table each::

    [[rules]]
    check = "Module NumPy only"   # the check's name, an element first (scope "all"); "each":
                                  # "<element> <check>" for each element
    scope = "all"                 # "all": one check; "each": one check per element
    elements = "*"                # "*": all the graded code; or ["update", "forward"]
    points = 3                    # of the check (each check, with scope "each")
    modules = ["torch"]           # forbidden modules (and everything in them)
    calls = ["*.backward"]        # forbidden calls (dotted names, fnmatch patterns)
    attributes = ["requires_grad"]  # forbidden attributes (and keyword arguments)
    message = "the DIY framework computes gradients by hand, with NumPy only"
    description = "..."           # what the check verifies (optional)

Enforced on every grading, in the judge, on the code the grader kept (the AST after slicing:
a forbidden call in a top-level experiment that never runs does not count), for the elements
in scope and the top-level helpers they use. What a static reading can miss
(``__import__("to" + "rch")``, ``getattr(t, name)``, ``importlib``) is also observed in the
student process while the graded functions run (:class:`RuntimeWatch`): the child reports
the forbidden modules and functions its code called. The child is untrusted, so its record
can only add a violation, never clear one the judge found.

A violation fails the rule's own check, with the points the practical gives it; the other
checks of the element still run. A rule check gives no points to an element that is still a
stub (``raise NotImplementedError``, ``pass``): the starter scores 0.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import sys
from dataclasses import dataclass, field

MAX_REPORTED = 3          # violations quoted in one message
MAX_RUNTIME_RECORDS = 50  # what the child may report (it is untrusted: capped)


@dataclass
class Rule:
    check: str
    points: float
    scope: str = "all"
    elements: list[str] | str = "*"
    modules: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    message: str = ""
    description: str = ""
    allowed: list[str] = field(default_factory=list)  # exceptions (fnmatch): torch.no_grad

    def forbids_module(self, dotted: str) -> str | None:
        if any(fnmatch.fnmatchcase(dotted, pattern) for pattern in self.allowed):
            return None
        for module in self.modules:
            if dotted == module or dotted.startswith(module + "."):
                return module
        return None

    def forbids_call(self, dotted: str) -> bool:
        return any(fnmatch.fnmatchcase(dotted, pattern) for pattern in self.calls)


def load_rules(folder) -> list[Rule]:
    """The ``[[rules]]`` of a practical's ``assignment.toml`` (none: an empty list)."""
    from pathlib import Path

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from grader.assignment import AssignmentError

    path = Path(folder) / "assignment.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return []
    rules = []
    for number, table in enumerate(data.get("rules", []), start=1):
        try:
            rule = Rule(check=str(table["check"]), points=float(table["points"]),
                        scope=table.get("scope", "all"), elements=table.get("elements", "*"),
                        modules=list(table.get("modules", [])), calls=list(table.get("calls", [])),
                        attributes=list(table.get("attributes", [])),
                        message=str(table.get("message", "")),
                        description=str(table.get("description", "")),
                        allowed=list(table.get("allowed", [])))
        except (KeyError, TypeError, ValueError) as e:
            raise AssignmentError(f"{path}: rule {number} needs `check` and `points` ({e})") from None
        if rule.scope not in ("all", "each"):
            raise AssignmentError(f"{path}: rule {number}: scope must be `all` or `each`")
        rules.append(rule)
    return rules


# --------------------------------------------------------------------------------------------
# The static reading (judge side)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    where: str      # "Linear.backward", "update", "helper (used by forward)"
    what: str       # "torch.autograd.grad", ".backward()", "requires_grad"
    line: int       # in the graded source (a notebook's converted script)
    runtime: bool = False  # seen by the student process while the code ran


def _aliases(nodes) -> dict[str, str]:
    """Names bound to modules or their objects by imports and plain assignments
    (``import torch as tt``, ``from torch import autograd``, ``T = torch``), flow-insensitive."""
    aliases: dict[str, str] = {}
    for _round in range(3):  # `a = torch`, then `b = a.autograd`
        for node in (n for top in nodes for n in ast.walk(top)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                value = _resolve(node.value, aliases)
                if value is not None:
                    aliases[node.targets[0].id] = value
    return aliases


def _constant(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _resolve(node, aliases: dict[str, str]) -> str | None:
    """The dotted name an expression stands for, when it can be read without running it."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call):
        func = _resolve(node.func, aliases) or (node.func.id if isinstance(node.func, ast.Name)
                                                 else None)
        first = _constant(node.args[0]) if node.args else None
        if func in ("__import__", "importlib.import_module") and first:
            return first
        if func == "getattr" and len(node.args) >= 2:
            base, name = _resolve(node.args[0], aliases), _constant(node.args[1])
            return f"{base}.{name}" if base and name else None
    return None


DYNAMIC = {"__import__", "importlib.import_module", "importlib.__import__", "eval", "exec"}


def _scan(rule: Rule, node, where: str, aliases: dict[str, str]) -> list[Violation]:
    found: list[Violation] = []
    local = {**aliases, **_aliases([node])}
    reported_lines: set[tuple[int, str]] = set()

    def add(what: str, line: int) -> None:
        if (line, what) not in reported_lines:
            reported_lines.add((line, what))
            found.append(Violation(where, what, line))

    # A chain is reported once, whole: `torch.autograd.grad`, not `torch` and `torch.autograd`.
    inner = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    for sub in ast.walk(node):
        line = getattr(sub, "lineno", 0)
        if isinstance(sub, ast.Import):
            for alias in sub.names:
                if rule.forbids_module(alias.name):
                    add(f"import {alias.name}", line)
        elif isinstance(sub, ast.ImportFrom) and sub.module and rule.forbids_module(sub.module):
            add(f"from {sub.module} import ...", line)
        elif isinstance(sub, (ast.Attribute, ast.Name)):
            if isinstance(sub, ast.Attribute) and sub.attr in rule.attributes:
                add(f".{sub.attr}", line)
            if id(sub) not in inner and not (isinstance(sub, ast.Name) and
                                             not isinstance(sub.ctx, ast.Load)):
                dotted = _resolve(sub, local)
                if dotted and rule.forbids_module(dotted):
                    add(dotted, line)
        elif isinstance(sub, ast.keyword) and sub.arg in rule.attributes:
            add(f"{sub.arg}=", getattr(sub.value, "lineno", line))
        if isinstance(sub, ast.Call):
            dotted = _resolve(sub.func, local)
            name = sub.func.attr if isinstance(sub.func, ast.Attribute) else (
                sub.func.id if isinstance(sub.func, ast.Name) else "")
            target = dotted or (sub.func.id if isinstance(sub.func, ast.Name) else f"?.{name}")
            if rule.calls and (rule.forbids_call(target) or rule.forbids_call(f"?.{name}")):
                add(f"{target.removeprefix('?.')}()", line)
            resolved = _resolve(sub, local)
            if target in DYNAMIC or (isinstance(sub.func, ast.Name) and sub.func.id in DYNAMIC):
                if resolved and rule.forbids_module(resolved):
                    add(f"{name}({resolved!r})", line)
                elif rule.modules and not resolved:
                    add(f"{name}(...) (a module or code chosen at run time)", line)
            elif name == "getattr" and len(sub.args) >= 2:
                attr = _constant(sub.args[1])
                if attr in rule.attributes:
                    add(f"getattr(..., {attr!r})", line)
                elif resolved and rule.forbids_module(resolved):
                    add(resolved, line)
    return found


def _members(statement: ast.stmt) -> list[tuple[str, ast.AST]]:
    """(where, node) for each part of a top-level definition a message names."""
    if isinstance(statement, ast.ClassDef):
        parts: list[tuple[str, ast.AST]] = []
        rest = []
        for node in statement.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                parts.append((f"{statement.name}.{node.name}", node))
            else:
                rest.append(node)
        parts += [(statement.name, node) for node in rest + statement.bases + statement.keywords]
        return parts
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [(statement.name, statement)]
    return [("", statement)]


def is_stub(statement: ast.stmt) -> bool:
    """A definition the student has not written yet: every function body is only a
    docstring, ``pass``, ``...`` or ``raise NotImplementedError``."""
    functions = [statement] if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
        n for n in getattr(statement, "body", []) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        return not isinstance(statement, ast.ClassDef)

    def empty(node) -> bool:
        if isinstance(node, ast.Pass):
            return True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return True  # docstring, `...`
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
        return False

    return all(all(empty(n) for n in f.body) for f in functions)


@dataclass
class Scope:
    name: str                       # the check's name
    elements: list[str]             # the required names it is about
    statements: list[int]           # top-level statement indices it reads
    written: bool                   # one of its elements is more than a stub


def _scopes(rule: Rule, tree: ast.Module, plan, given: dict[str, str]) -> list[Scope]:
    """``given``: the starter's definitions (ast.dump), as handed out: not the student's work."""
    kept = [i for i in plan.kept if plan.statements[i].kind != "import"]
    by_name: dict[str, int] = {}
    for i in kept:
        for name in plan.statements[i].binds:
            by_name[name] = i
    required = list(plan.required)
    elements = required if rule.elements == "*" else [e for e in rule.elements if e in required]

    def closure(start: list[int]) -> list[int]:
        seen, todo = set(), list(start)
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            todo += [by_name[n] for n in plan.statements[i].uses if n in by_name]
        return sorted(seen)

    def written(names: list[str]) -> bool:
        return any(name in by_name and not is_stub(tree.body[by_name[name]])
                   and ast.dump(tree.body[by_name[name]]) != given.get(name) for name in names)

    if rule.scope == "each":
        return [Scope(f"{e} {rule.check}", [e], closure([by_name[e]]) if e in by_name else [],
                      written([e])) for e in elements]
    start = kept if rule.elements == "*" else [by_name[e] for e in elements if e in by_name]
    return [Scope(rule.check, elements, closure(start), written(elements))]


def static_violations(rule: Rule, tree: ast.Module, plan, scope: Scope) -> list[Violation]:
    aliases = _aliases([tree.body[i] for i in plan.kept])
    found = []
    for index in scope.statements:
        statement = tree.body[index]
        top = plan.statements[index]
        for where, node in _members(statement):
            if not where:  # a kept top-level statement (`DEVICE = torch.device(...)`)
                where = (f"line {top.lineno}")
            elif where.split(".")[0] not in scope.elements:
                where = f"{where} (used by {', '.join(scope.elements[:3])})" \
                    if len(scope.elements) <= 3 else where
            found += _scan(rule, node, where, aliases)
    return sorted(set(found), key=lambda v: (v.line, v.where, v.what))


# --------------------------------------------------------------------------------------------
# What the student process saw (child side: no judge imports here)
# --------------------------------------------------------------------------------------------

class RuntimeWatch:
    """Installed in the student process around each call of the judge's requests: records
    every call made while a frame of the submission is on the stack into a watched module
    (``torch``), or of a watched function name (``backward``). A profile hook, so a
    submission can remove it: its record only ever adds violations."""

    def __init__(self, modules: list[str], names: list[str], is_student_file):
        self.modules = tuple(modules)
        self.names = set(names)
        self.is_student_file = is_student_file
        self.seen: dict[tuple[str, str, int], None] = {}
        self._student: list = []        # the submission's frames now running

    def _watched(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self.modules)

    def _record(self, what: str) -> None:
        if len(self.seen) < 200 and self._student:
            frame = self._student[-1]
            self.seen.setdefault((what, frame.f_code.co_name, frame.f_lineno), None)

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if self.is_student_file(code.co_filename):
                self._student.append(frame)
            elif self._student:
                module = frame.f_globals.get("__name__", "") or ""
                if self._watched(module) or code.co_name in self.names:
                    self._record(f"{module}.{code.co_name}")
        elif event == "return":
            if self._student and self._student[-1] is frame:
                self._student.pop()
        elif event == "c_call" and self._student:
            module = getattr(arg, "__module__", None) or ""
            owner = getattr(arg, "__self__", None)
            name = getattr(arg, "__name__", "")
            if not module and owner is not None:  # a method: torch.Tensor.numpy
                kind = type(owner)
                module = f"{getattr(kind, '__module__', '') or ''}.{kind.__name__}"
            if self._watched(module) or name in self.names:
                self._record(f"{module}.{name}" if module else name)

    def run(self, function, *args, **kwargs):
        previous = sys.getprofile()
        sys.setprofile(self)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setprofile(previous)
            self._student.clear()

    def report(self) -> list[dict]:
        return [{"what": what, "function": function, "line": line}
                for what, function, line in list(self.seen)[:MAX_RUNTIME_RECORDS]]


def listed_checks(assignment) -> list[tuple[str, float, str]]:
    """(name, points, visibility) of the rule checks, for `grade list` and the collected total."""
    listed = []
    for rule in load_rules(assignment.folder):
        if rule.scope == "each":
            elements = assignment.required if rule.elements == "*" else [
                e for e in rule.elements if e in assignment.required]
            listed += [(f"{e} {rule.check}", rule.points, "public") for e in elements]
        else:
            listed.append((rule.check, rule.points, "public"))
    return listed


def watch_config(rules: list[Rule]) -> dict | None:
    """What the student process watches (sent with the load request)."""
    modules = sorted({m for r in rules for m in r.modules})
    names = sorted({p.rsplit(".", 1)[-1] for r in rules for p in r.calls
                    if "*" not in p.rsplit(".", 1)[-1]} | {a for r in rules for a in r.attributes})
    return {"modules": modules, "names": names} if modules or names else None


def runtime_records(process) -> list[dict]:
    """The child's record (validated: a list of short strings and ints), [] when none."""
    if process is None or not process.running:
        return []
    try:
        reply = process.request("rules_seen", timeout=5.0, what="reading what the code called")
    except Exception:  # noqa: BLE001 - a dead or lying child: the static reading stands
        return []
    records = []
    if isinstance(reply, list):
        for item in reply[:MAX_RUNTIME_RECORDS]:
            if (isinstance(item, dict) and isinstance(item.get("what"), str)
                    and isinstance(item.get("function"), str) and isinstance(item.get("line"), int)):
                records.append({"what": item["what"][:120], "function": item["function"][:80],
                                "line": item["line"]})
    return records


def _runtime_violations(rule: Rule, records: list[dict], scope: Scope, tree, plan
                        ) -> list[Violation]:
    found = []
    lines = {i: (plan.statements[i].lineno, plan.statements[i].end_lineno)
             for i in scope.statements}
    for record in records:
        what, line = record["what"], record["line"]
        module = what.rsplit(".", 1)[0] if "." in what else ""
        name = what.rsplit(".", 1)[-1]
        if not (rule.forbids_module(module) or name in rule.attributes or rule.forbids_call(what)
                or rule.forbids_call(f"?.{name}")):
            continue
        if not any(start <= line <= end for start, end in lines.values()):
            continue  # not in this scope's code
        where = record["function"]
        for index in scope.statements:  # named as the static reading names it: TanH.forward
            for member, node in _members(tree.body[index]):
                if member and node.lineno <= line <= getattr(node, "end_lineno", node.lineno):
                    where = member
        found.append(Violation(where, what, line, runtime=True))
    return found


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------

def _starter_definitions(assignment) -> dict[str, str]:
    from grader.similarity import starter_code

    try:
        tree = ast.parse(starter_code(assignment))
    except SyntaxError:
        return {}
    return {node.name: ast.dump(node) for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _message(found: list[Violation], source, rule: Rule) -> str:
    """One line per place at fault (its first line, what it uses), then the rule's reason:
    ``Linear.backward_delta uses torch.tensor, import torch (diy.py, line 222): ...``."""
    from grader.i18n import _

    by_where: dict[str, list[Violation]] = {}
    for v in found:
        by_where.setdefault(v.where, []).append(v)
    lines = []
    for where, group in list(by_where.items())[:MAX_REPORTED]:
        whats = list(dict.fromkeys(v.what for v in group))
        used = ", ".join(whats[:3]) + (", ..." if len(whats) > 3 else "")
        if all(v.runtime for v in group):
            lines.append(_("{where} calls {what} when it runs ({file})").format(
                where=where, what=used, file=source.where(group[0].line)))
        else:
            lines.append(_("{where} uses {what} ({file})").format(
                where=where, what=used, file=source.where(group[0].line)))
    more = len(by_where) - MAX_REPORTED
    if more > 0:
        lines.append(_("... and {n} more").format(n=more))
    return ";\n".join(lines) + ": " + rule.message


def rule_checks(assignment, source, plan, records: list[dict] | None = None,
                only: str | None = None) -> list:
    """One CheckResult per rule (per element with scope "each")."""
    from grader.i18n import _
    from grader.results import FAILED, PASSED, PUBLIC, CheckResult

    rules = load_rules(assignment.folder)
    if not rules:
        return []
    checks = []
    given = _starter_definitions(assignment)
    tree = None
    if source is not None and plan is not None:
        try:
            tree = ast.parse(source.text)
        except SyntaxError:
            tree = None
    for rule in rules:
        # The rule's own words, in the catalogue when the course translated them.
        rule = dataclasses.replace(rule, message=_(rule.message) if rule.message else "",
                                   description=_(rule.description) if rule.description else "")
        description = rule.description or _("The graded code follows the practical's rule: "
                                            "{message}").format(message=rule.message)
        if tree is None:
            names = ([f"{e} {rule.check}" for e in (plan.required if plan else assignment.required)]
                     if rule.scope == "each" else [rule.check])
            checks += [CheckResult(n, 0.0, rule.points, FAILED, _("not judged: the submission "
                                   "could not be read"), PUBLIC, description) for n in names]
            continue
        for scope in _scopes(rule, tree, plan, given):
            if only is not None and scope.name.split()[0] != only:
                continue  # `--only X`: the checks named after X, as for the others
            check = CheckResult(scope.name, 0.0, rule.points, FAILED, "", PUBLIC, description)
            try:
                found = static_violations(rule, tree, plan, scope)
                found += [v for v in _runtime_violations(rule, records or [], scope, tree, plan)
                          if v.line not in {f.line for f in found}]
            except Exception as e:  # noqa: BLE001 - a bug of ours: said as such, never a crash
                check.message = f"this check broke ({type(e).__name__}: {e}); tell your instructor"
                check.grader_error = True
                checks.append(check.make_safe())
                continue
            if found:
                check.message = _message(found, source, rule)
            elif not scope.written:
                check.message = _("not judged: the code this rule is about is not implemented "
                                  "yet ({elements}: still as the starter gives them)").format(
                    elements=", ".join(scope.elements[:4]) + ("..." if len(scope.elements) > 4
                                                              else ""))
            else:
                check.score, check.status = rule.points, PASSED
            checks.append(check.make_safe())
    return checks
