"""Slicing a submission's top level: run what the graded names need, skip the rest.

A notebook or script usually trains, plots and downloads at the top level. The grader must not
re-run that: it keeps only

* the definitions the assignment asks for (``MLP``, ``train_loop``, ...),
* and, transitively, every top-level statement that binds a global name those definitions use
  (``DEVICE = torch.device("cpu")`` used in ``forward``, ``import torch``, a helper function),

and lists everything else as skipped. Loops at the top level and ``if __name__ ==
"__main__":`` blocks are never run. The analysis is static (``ast`` + ``symtable``): nothing is
executed here, so it is safe to run in the judge.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import re
import symtable
import sys
from dataclasses import dataclass, field

from grader.i18n import N_


class SubmissionSyntaxError(Exception):
    """The submission does not parse; carries the student's line."""

    def __init__(self, filename: str, lineno: int | None, offset: int | None, msg: str, text: str):
        self.filename, self.lineno, self.offset, self.msg = filename, lineno, offset, msg
        self.text = (text or "").rstrip("\n")
        where = f"{filename}, line {lineno}" if lineno else filename
        lines = [f"syntax error in {where}: {msg}"]
        if self.text.strip():
            code = self.text.lstrip()
            indent = len(self.text) - len(code)
            lines += ["    " + code, "    " + " " * max(0, (offset or 1) - 1 - indent) + "^"]
        super().__init__("\n".join(lines))


@dataclass
class Statement:
    """One top-level statement of the submission."""

    index: int
    lineno: int
    end_lineno: int
    kind: str            # "import", "def", "class", "assign", "loop", "main-guard", "expression", ...
    summary: str         # its first line, shortened
    binds: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)
    star_import: bool = False


@dataclass
class SlicePlan:
    """Which top-level statements to run, and why the others are skipped."""

    statements: list[Statement]
    kept: list[int]                          # statement indices, in source order
    skipped: list[tuple[Statement, str]]     # statement and the reason it is skipped
    defined: dict[str, str]                  # top-level name -> kind of its (last) definition
    missing: list[str]                       # required names that nothing defines
    only_in_skipped: dict[str, int]          # global name -> line of a skipped statement binding it
    required: list[str] = field(default_factory=list)
    # def/class not at the top level -> (its kind, its line, index of the top-level statement
    # holding it): `def init_params` inside `if __name__ == "__main__":` or inside `def main()`
    inner: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    @property
    def kept_lines(self) -> list[int]:
        return [self.statements[i].lineno for i in self.kept]

    def statement_at(self, lineno: int) -> Statement | None:
        """The top-level statement starting at ``lineno`` (a dict lookup: messages look up
        every load error's statement)."""
        by_line = self.__dict__.get("_by_line")
        if by_line is None:
            by_line = self.__dict__["_by_line"] = {}
            for st in self.statements:
                by_line.setdefault(st.lineno, st)
        return by_line.get(lineno)

    def suggestions(self, name: str) -> list[str]:
        """Top-level definitions of the kind ``name`` asks for (a class for `Cnn`, a function
        for `update`) that may be it under another name."""
        if name[:1].isupper() and not any(c.islower() for c in name):  # SGD: either kind
            return suggest_definitions(name, ("class", "def"), self.defined, exclude=self.required)
        kind = "class" if name[:1].isupper() else "def"
        return suggest_definitions(name, (kind,), self.defined, exclude=self.required)

    def container(self, name: str) -> Statement | None:
        """The top-level statement inside which ``name`` is defined, when it is not defined at
        the top level: the `if __name__ == "__main__":` block, a `def main():`, a loop."""
        if name in self.defined or name not in self.inner:
            return None
        return self.statements[self.inner[name][2]]

    @property
    def main_guard(self) -> Statement | None:
        """The `if __name__ == "__main__":` block holding required definitions, if any."""
        for name in self.required:
            st = self.container(name)
            if st is not None and st.kind == "main-guard":
                return st
        return None


def did_you_mean(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Close matches for a missing name: case-insensitive equality first, then difflib's."""
    same_case = [c for c in candidates if c.lower() == name.lower() and c != name]
    lowered = {c.lower(): c for c in candidates}
    close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)]
    out: list[str] = []
    for c in same_case + close:
        if c not in out and c != name:
            out.append(c)
    return out[:n]



# ------------------------------------------------------------------------------------------
# "Did you mean": a definition of the right kind whose name means the same thing. Students
# name the practical's `Cnn` `CNNModel`, `ConvNeuralNet` or `LeNet5`, and `count_parameters`
# `count_params`: names are compared on the words that carry meaning, not letter by letter
# (`DeepNet` and `LeNet5` share "net", which says nothing; `Cnn` and the import alias `nn`
# share two letters).
# ------------------------------------------------------------------------------------------

# word -> the concept it stands for, in the course's vocabulary
_SYNONYMS = {
    "conv": ("cnn", "conv", "convo", "convolution", "convolutional", "convnet", "lenet"),
    "mlp": ("mlp", "perceptron", "multilayer", "feedforward", "dense", "fc"),
    "shallow": ("shallow", "simple", "small"),
    "deep": ("deep", "deeper"),
    "param": ("param", "parameter", "weight", "weights"),
    "init": ("init", "initialize", "initialise", "initialization", "initialisation"),
    "count": ("count", "nb", "num", "number", "nparams"),
    "train": ("train", "training", "trainer"),
    "valid": ("valid", "validation", "validate", "val", "eval", "evaluate", "evaluation"),
    "perf": ("perf", "performance", "test", "testing"),
    "loop": ("loop", "epoch"),
    "optim": ("optim", "optimizer", "optimiser", "opt", "optimization", "optimisation"),
    "early": ("early",),
    "stop": ("stop", "stopping", "stopper"),
    "accuracy": ("accuracy", "acc"),
    "crossentropy": ("crossentropy", "cross", "entropy", "ce", "xent"),
    "sequential": ("sequential", "sequentiel", "seq"),
    "linear": ("linear", "lin"),
    "sigmoid": ("sigmoid", "sigmoide"),
    "maxpool": ("maxpool", "maxpooling"),
    "avgpool": ("avgpool", "avgpooling", "averagepool", "averagepooling", "meanpool"),
    "pool": ("pool", "pooling"),
    "batchnorm": ("batchnorm", "bn", "batchnormalization", "batchnormalisation"),
    "lr": ("lr", "learningrate"),
    "decay": ("decay", "decayed", "schedule", "scheduler"),
    "penalty": ("penalty", "reg", "regularization", "regularisation", "regularizer"),
    "rmsprop": ("rmsprop", "rms"),
    "step": ("step", "update"),
    "forward": ("forward", "fwd"),
    "flatten": ("flatten", "flat"),
}
_CONCEPT = {word: concept for concept, words in _SYNONYMS.items() for word in words}
# Words that say nothing about what a definition is ("my", "net", "model", "loss" — the DIY
# losses differ by their other word: MSELoss, BCELoss).
_GENERIC = {"net", "network", "neural", "nn", "model", "module", "my", "the", "a", "an", "of",
            "custom", "class", "fn", "func", "function", "impl", "new", "old", "final", "get",
            "make", "build", "create", "compute", "calc", "calculate", "do", "run", "loss",
            "layer", "tp", "v"}
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+[dD]?")


def name_words(name: str) -> list[str]:
    """``CNNModel`` → ``['cnn', 'model']``, ``LeNet5`` → ``['lenet', '5']``, ``l2_penalty`` →
    ``['l2', 'penalty']``: words, lower case, known compounds joined again."""
    words: list[str] = []
    parts = [w.lower() for chunk in re.split(r"[_\W]+", name) for w in _WORD.findall(chunk)]
    i = 0
    while i < len(parts):
        for width in (3, 2):  # `RM`+`Sprop`, `rms`+`prop`, `Le`+`Net`, `Max`+`Pool`: one word
            joined = "".join(parts[i:i + width])
            if i + width <= len(parts) and joined in _CONCEPT:
                words.append(joined)
                i += width
                break
        else:
            word = parts[i]
            if len(word) == 1 and i + 1 < len(parts) and parts[i + 1].isdigit():
                word, i = word + parts[i + 1], i + 1  # l2, f1
            words.append(word)
            i += 1
    return words


def _concepts(name: str) -> set[str]:
    out = set()
    for word in name_words(name):
        if word.isdigit() or word in _GENERIC:
            continue
        if word.endswith("s") and not word.endswith("ss") and word[:-1] in _CONCEPT:
            word = word[:-1]
        out.add(_CONCEPT.get(word, word))
    return out


def _same(a: str, b: str) -> bool:
    """Two meaning-bearing words are the same, allowing a typo in longer ones (trian, train)."""
    return a == b or (min(len(a), len(b)) >= 4
                      and difflib.SequenceMatcher(None, a, b).ratio() >= 0.8)


def suggest_definitions(name: str, kinds: tuple[str, ...], definitions: dict[str, str],
                        exclude: tuple[str, ...] | list[str] = (), n: int = 3) -> list[str]:
    """Definitions of ``kinds`` ("class", "def") that could be the missing ``name``, best
    first: the same name in another case or without underscores, then names sharing its
    meaning-bearing words. Never an import or a variable, never a name in ``exclude`` (the
    practical's other names: `train_loop` is not what a missing `fit` is called)."""
    flat = name.lower().replace("_", "")
    pool = [c for c, k in definitions.items() if k in kinds and c != name and (
        c not in exclude or c.lower().replace("_", "") == flat)]
    ranked: list[tuple[float, float, str]] = []
    wanted = _concepts(name)
    for candidate in pool:
        letters = difflib.SequenceMatcher(None, flat, candidate.lower().replace("_", "")).ratio()
        if candidate.lower().replace("_", "") == flat:
            ranked.append((2.0, letters, candidate))
            continue
        have = _concepts(candidate)
        if wanted and have:
            shared = sum(any(_same(w, h) for h in have) for w in wanted)
            extra = sum(not any(_same(h, w) for w in wanted) for h in have)
            score = shared / (len(wanted) + extra)
            if score >= 0.5:  # `count_params` is not `init_params`: one shared word in three
                ranked.append((score, letters, candidate))
            continue
        if not wanted and letters >= 0.75:  # `Net` and friends: only the letters can tell
            ranked.append((letters / 2, letters, candidate))
    ranked.sort(key=lambda r: (-r[0], -r[1], r[2]))
    return [c for _, _, c in ranked[:n]]


def parse(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as e:
        raise SubmissionSyntaxError(filename, e.lineno, e.offset, e.msg, e.text or "") from None
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
        raise SubmissionSyntaxError(filename, None, None, f"cannot be parsed ({e})", "") from None


def top_level_statements(tree: ast.Module) -> list[ast.stmt]:
    return list(tree.body)


def plan(source: str, filename: str, required: list[str]) -> SlicePlan:
    """Decide which top-level statements run so that ``required`` names get defined."""
    tree = parse(source, filename)
    # The analysis walks the tree recursively: a long `a + b + ...` chain (valid Python, 600
    # terms) is 600 levels deep. Allow deep trees; a tree deeper still is a clear error.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return _plan(tree, source, filename, required)
    except RecursionError:
        raise SubmissionSyntaxError(filename, None, None, "cannot be analysed: an expression is "
                                    "nested too deeply (split it into several statements)",
                                    "") from None
    finally:
        sys.setrecursionlimit(limit)


def _plan(tree: ast.Module, source: str, filename: str, required: list[str]) -> SlicePlan:
    lines = source.splitlines()
    scope_globals = _child_scope_globals(source, filename)
    statements = [_describe(i, node, lines, scope_globals) for i, node in enumerate(tree.body)]

    defined: dict[str, str] = {}
    for st in statements:
        if st.kind in ("loop", "main-guard"):
            continue
        for name in st.binds:
            defined[name] = st.kind

    needed = {name for name in required if name in defined}
    keep: set[int] = {st.index for st in statements if st.star_import}
    frontier = list(needed)
    for st in statements:
        if st.star_import:
            frontier.extend(st.uses)
    while frontier:
        name = frontier.pop()
        for st in statements:
            if st.index in keep or st.kind in ("loop", "main-guard") or name not in st.binds:
                continue
            keep.add(st.index)
            for used in st.uses - needed:
                needed.add(used)
                frontier.append(used)

    kept = sorted(keep)
    skipped = [(st, _reason(st)) for st in statements
               if st.index not in keep and st.kind != "docstring"]
    bound_by_kept = set().union(*(statements[i].binds for i in kept)) if kept else set()
    only_in_skipped: dict[str, int] = {}
    for st, _ in skipped:
        for name in st.binds - bound_by_kept:
            only_in_skipped.setdefault(name, st.lineno)
    missing = [name for name in required if name not in defined]
    inner: dict[str, tuple[str, int, int]] = {}
    for index, node in enumerate(tree.body):
        for sub in ast.walk(node):
            if sub is not node and isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                    ast.ClassDef)):
                kind = "class" if isinstance(sub, ast.ClassDef) else "def"
                inner.setdefault(sub.name, (kind, sub.lineno, index))
    return SlicePlan(statements, kept, skipped, defined, missing, only_in_skipped,
                     list(required), inner)


def _reason(st: Statement) -> str:
    # Kept in English in results (grader.results ranks them by these words); the reports
    # translate them when they show them (N_: in the catalogue).
    return {
        "main-guard": N_("`if __name__ == \"__main__\"` block"),
        "loop": N_("top-level loop (training runs are not re-run)"),
        "expression": N_("top-level expression (calls, plots and prints are not re-run)"),
    }.get(st.kind, N_("not needed by the graded names"))


def _describe(index: int, node: ast.stmt, lines: list[str], scope_globals) -> Statement:
    first = lines[node.lineno - 1].strip() if node.lineno - 1 < len(lines) else ""
    summary = first if len(first) <= 70 else first[:67] + "..."
    st = Statement(index, node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno,
                   _kind(node), summary)
    st.binds = _bound_names(node)
    st.uses = _module_level_loads(node) | scope_globals(st.lineno, st.end_lineno)
    st.star_import = isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
    return st


def _kind(node: ast.stmt) -> str:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "def"
    if isinstance(node, ast.ClassDef):
        return "class"
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return "assign"
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return "loop"
    if isinstance(node, ast.If) and _is_main_guard(node.test):
        return "main-guard"
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
            node.value.value, str):
        return "docstring"
    if isinstance(node, ast.Expr):
        return "expression"
    return type(node).__name__.lower()


def _is_main_guard(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    names = [test.left, test.comparators[0]]
    return (any(isinstance(n, ast.Name) and n.id == "__name__" for n in names)
            and any(isinstance(n, ast.Constant) and n.value == "__main__" for n in names))


def _bound_names(node: ast.stmt) -> set[str]:
    """Global names a top-level statement binds (assignment targets, defs, imports...)."""
    names: set[str] = set()

    class Binder(ast.NodeVisitor):
        def visit_FunctionDef(self, n):
            names.add(n.name)  # do not look inside: its locals are not globals

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_ClassDef(self, n):
            names.add(n.name)

        def visit_Lambda(self, n):
            pass

        def visit_Import(self, n):
            for alias in n.names:
                names.add(alias.asname or alias.name.split(".")[0])

        def visit_ImportFrom(self, n):
            for alias in n.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name)

        def visit_Name(self, n):
            if isinstance(n.ctx, (ast.Store, ast.Del)):
                names.add(n.id)

        def visit_NamedExpr(self, n):
            if isinstance(n.target, ast.Name):
                names.add(n.target.id)
            self.visit(n.value)

        def visit_ExceptHandler(self, n):
            if n.name:
                names.add(n.name)
            self.generic_visit(n)

    Binder().visit(node)
    return names


def _module_level_loads(node: ast.stmt) -> set[str]:
    """Names read at module level by a statement (not inside function or class bodies)."""
    names: set[str] = set()

    class Loader(ast.NodeVisitor):
        def visit_FunctionDef(self, n):
            for d in n.decorator_list:
                self.visit(d)
            self.visit(n.args)  # default values are evaluated at definition time
            if n.returns:
                self.visit(n.returns)

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_arg(self, n):
            if n.annotation:
                self.visit(n.annotation)

        def visit_ClassDef(self, n):
            for part in n.decorator_list + n.bases + [k.value for k in n.keywords]:
                self.visit(part)

        def visit_Lambda(self, n):
            self.visit(n.args)

        def visit_Name(self, n):
            if isinstance(n.ctx, ast.Load):
                names.add(n.id)

    Loader().visit(node)
    return names


def _child_scope_globals(source: str, filename: str):
    """A lookup: line range -> global names read by function/class scopes starting there."""
    try:
        table = symtable.symtable(source, filename, "exec")
    except (SyntaxError, RecursionError, ValueError):
        return lambda start, end: set()
    scopes: list[tuple[int, set[str]]] = []

    def collect(t) -> set[str]:
        found = {s.get_name() for s in t.get_symbols() if s.is_global() and not _is_module(t)}
        for child in t.get_children():
            found |= collect(child)
        return found

    def _is_module(t) -> bool:
        return t.get_type() == "module"

    for child in table.get_children():
        scopes.append((child.get_lineno(), collect(child)))
    scopes.sort(key=lambda scope: scope[0])
    starts = [lineno for lineno, _ in scopes]

    def lookup(start: int, end: int) -> set[str]:
        # Bisect to the scopes in [start, end]: a scan of all of them for every statement was
        # quadratic (20,000 one-line functions: 25 s in the judge).
        out: set[str] = set()
        for _, names in scopes[bisect.bisect_left(starts, start):bisect.bisect_right(starts, end)]:
            out |= names
        return out

    return lookup
