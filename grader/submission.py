"""Finding and reading a submission: a ``.py`` file, a notebook, or a folder.

Reading never executes anything. Notebooks are read with nbformat and turned into a script by
nbconvert's ``PythonExporter`` after IPython magics and ``!shell`` lines are removed; the
line → cell map lets messages say "cell 7, line 3" instead of a line of a script the student
never saw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.i18n import _, gettext

MAX_SOURCE_BYTES = 5 * 2**20  # a notebook with embedded plots can be big; its code is not
# The code itself is parsed and analysed in the judge (ast, symtable) before any time budget:
# 4 MiB of one-line statements took 3 minutes and 2.7 GB there. A practical's code is a few
# hundred lines; these bounds are far above any real one.
MAX_CODE_BYTES = 1 * 2**20
MAX_CODE_LINES = 20_000
# Notebooks are parsed in the judge (nbformat + nbconvert), before any time budget applies:
# 100,000 cells took 32 s there. A real practical has a few hundred cells and a few MB.
MAX_NOTEBOOK_BYTES = 100 * 2**20
MAX_CELLS = 5_000


class SubmissionError(Exception):
    """The submission cannot be found or read; the message says what was expected."""


@dataclass
class Source:
    """The Python text to grade and where it came from."""

    path: Path                     # the file the student wrote (.py or .ipynb)
    module: str                    # the module name it is loaded as (``mlp_pixels``)
    text: str                      # Python source (a notebook's code cells, magics removed)
    kind: str                      # "py", "ipynb" or "package"
    root: Path                     # folder put on sys.path (sibling modules importable)
    # notebooks: (script line, cell number, that line's number in the cell), one per code cell
    cells: list[tuple[int, int, int]] = field(default_factory=list)
    is_package: bool = False
    alone: bool = False            # a file was named: its folder's other files are not shown

    @property
    def display_name(self) -> str:
        return self.path.name

    def where(self, lineno: int | None) -> str:
        """Human location of a line: ``mlp_pixels.py, line 12`` or ``MLP.ipynb, cell 4, line 2``."""
        if lineno is None:
            return self.display_name
        if self.kind == "ipynb" and self.cells:
            cell, line = None, 1
            for start, number, first in self.cells:
                if start <= lineno:
                    cell, line = number, first + lineno - start
            if cell is not None:
                return _("{file}, cell {cell}, line {line}").format(
                    file=self.display_name, cell=cell, line=line)
        return _("{file}, line {line}").format(file=self.display_name, line=lineno)


def candidate_names(module: str, patterns: list[str]) -> list[str]:
    """File names accepted for a module: the assignment's patterns plus module.py/.ipynb."""
    names = list(patterns) + [f"{module}.py", f"{module}.ipynb"]
    return list(dict.fromkeys(names))


def find_submission_file(path: Path, module: str, patterns: list[str]) -> Path:
    """The file to grade inside ``path`` (or ``path`` itself when it is a file)."""
    if path.is_file():
        return path
    if not path.exists():
        raise SubmissionError(_("{path}: no such file or folder").format(path=path))
    accepted = candidate_names(module, patterns)
    lowered = {n.lower() for n in accepted}
    package = path / module / "__init__.py"
    if package.is_file():
        return _not_a_link_out(package, path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not _ignored(p, path))
    matches = [p for p in files if p.name.lower() in lowered]
    # Shallowest first; between a .py and a notebook (a starter folder holds both) the one the
    # student worked on last, i.e. modified most recently; on a tie, the .py.
    matches.sort(key=lambda p: (len(p.relative_to(path).parts), -p.stat().st_mtime,
                                p.suffix != ".py", str(p)))
    if matches:
        return _not_a_link_out(matches[0], path)
    found = [str(p.relative_to(path)) for p in files if p.suffix in (".py", ".ipynb")]
    hint = (_("; found {files}").format(files=", ".join(found[:8])) if found
            else _("; the folder has no .py or .ipynb file"))
    from grader.slicing import did_you_mean
    close = did_you_mean(accepted[0], [Path(f).name for f in found])
    if close:
        hint += _(" — did you mean to name {found} {expected}?").format(found=close[0],
                                                                         expected=accepted[0])
    raise SubmissionError(_("no {names} in {path}{hint}").format(
        names=_(" or ").join(accepted), path=path, hint=hint))


def _not_a_link_out(file: Path, folder: Path) -> Path:
    """The file, unless it is a symbolic link to something outside the submission folder: the
    grader may run as the instructor, and must not show a student the start of another file."""
    root, target = folder.resolve(), file.resolve()
    if root not in target.parents:
        raise SubmissionError(_("{file} in {folder} is a link to a file outside the submission "
                                "folder; submit the file itself").format(
                                    file=file.relative_to(folder), folder=folder))
    return file


def _ignored(p: Path, root: Path) -> bool:
    parts = p.relative_to(root).parts
    return any(part.startswith(".") or part in ("__pycache__", "__MACOSX") for part in parts) or (
        ".ipynb_checkpoints" in parts)


def read_source(file: Path, module: str) -> Source:
    """Read a .py file, a package's ``__init__.py`` or a notebook as Python text."""
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise SubmissionError(_("{file}: cannot be read ({reason})").format(
            file=file, reason=e.strerror or e)) from None
    notebook = file.suffix == ".ipynb"
    limit = MAX_NOTEBOOK_BYTES if notebook else MAX_SOURCE_BYTES
    if len(raw) > limit:
        message = (_("{file}: {size} bytes, more than the {limit} a notebook may have (clear its "
                     "outputs)") if notebook
                   else _("{file}: {size} bytes, more than the {limit} a source file may have"))
        raise SubmissionError(message.format(file=file, size=f"{len(raw):,}", limit=f"{limit:,}"))
    # `grade check` reads the file to refuse an unreadable one in one line, then grades it:
    # the same bytes are converted once (a big notebook costs seconds in nbconvert).
    key = (str(file.resolve()), module, hashlib.sha256(raw).digest())
    if _last_read[0] == key:
        return dataclasses.replace(_last_read[1])
    source = _read_source(raw, file, module)
    _check_code_size(source)
    _last_read[:] = [key, source]
    return dataclasses.replace(source)


_last_read: list = [None, None]


def _check_code_size(source: Source) -> None:
    _refuse_big_code(source.path, source.text, "")


def _refuse_big_code(file: Path, code: str, where: str) -> None:
    size, lines = len(code), code.count("\n") + 1
    if size > MAX_CODE_BYTES or lines > MAX_CODE_LINES:
        raise SubmissionError(_(
            "{file}: {where}{lines} lines, {size} characters of code, more than a practical may "
            "have ({max_lines} lines, {max_size} characters): keep data and generated code out of "
            "it").format(file=file, where=where, lines=f"{lines:,}", size=f"{size:,}",
                         max_lines=f"{MAX_CODE_LINES:,}", max_size=f"{MAX_CODE_BYTES:,}"))


def _read_source(raw: bytes, file: Path, module: str) -> Source:
    if file.suffix == ".ipynb":
        text, cells = notebook_to_python(raw, file)
        return Source(file, module, text, "ipynb", file.parent, cells)
    text = _decode(raw, file)
    if file.name == "__init__.py":
        return Source(file, module, text, "package", file.parent.parent, is_package=True)
    return Source(file, module, text, "py", file.parent)


def _decode(raw: bytes, file: Path) -> str:
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SubmissionError(gettext("{file}: not a text file").format(file=file))  # pragma: no cover - latin-1 never fails


# --------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------

_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}


def strip_magics(code: str) -> str:
    """Remove IPython syntax from one code cell, keeping line numbers.

    ``%line`` magics, ``!shell`` lines, ``x = !cmd`` and ``obj?`` help lines become ``pass``
    (keeping the indentation, so a magic inside an ``if`` leaves valid code). A cell that
    starts with a cell magic keeps its body when the magic runs Python (``%%time``,
    ``%%capture``) and is dropped otherwise (``%%bash``, ``%%writefile``).
    """
    lines = re.split(r"\r\n|\r|\n", code)  # Python's newlines only: not \x0c or \u2028
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split()[0] if lines[0].lstrip()[2:].split() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines)
        lines[0] = ""
    out: list[str] = []
    scanner = _StatementScanner()
    for line in lines:
        # A magic starts a statement: `% (epoch, loss)` or `!= b` inside brackets or after a
        # backslash continue the statement above, and a line inside a string is text.
        if _looks_like_magic(line) and not scanner.inside:
            indent = line[: len(line) - len(line.lstrip())]
            line = indent + "pass"
        scanner.feed(line)
        out.append(line)
    return "\n".join(out)


class _StatementScanner:
    """Whether the lines fed so far end in the middle of a statement: an open bracket, an open
    triple-quoted string, a backslash continuation. One pass over each line: tokenizing the
    cell from its top for every magic line was quadratic (8,000 `!` lines took 183 s in the
    judge, before any time budget)."""

    def __init__(self) -> None:
        self.depth = 0            # open brackets
        self.string = ""          # the open triple quote, if any
        self.continued = False    # the last line ended with a backslash

    @property
    def inside(self) -> bool:
        return self.depth > 0 or bool(self.string) or self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            if self.string:  # inside a triple-quoted string: look for its end
                end = line.find(self.string, i)
                while end >= 0 and _escaped(line, end):
                    end = line.find(self.string, end + 1)
                if end < 0:
                    return
                i, self.string = end + 3, ""
                continue
            c = line[i]
            if c == "#":
                return
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c in "'\"":
                if line.startswith(c * 3, i):
                    self.string, i = c * 3, i + 3
                    continue
                i += 1  # a one-line string: skip to its closing quote (or the end of the line)
                while i < n and line[i] != c:
                    i += 2 if line[i] == "\\" else 1
            elif c == "\\" and i == n - 1:
                self.continued = True
            i += 1


def _escaped(line: str, index: int) -> bool:
    """Whether the character at ``index`` follows an odd number of backslashes."""
    backslashes = 0
    while index - backslashes - 1 >= 0 and line[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _looks_like_magic(line: str) -> bool:
    s = line.strip()
    if s.startswith(("%", "!")):
        return True
    if re.match(r"^\w+\s*=\s*!", s):
        return True
    # help syntax: `obj?` or `?obj` — but not a conditional expression or a string with "?"
    return bool(re.match(r"^\??[\w.]+\??$", s)) and "?" in s


def notebook_to_python(raw: bytes, file: Path) -> tuple[str, list[tuple[int, int, int]]]:
    """A notebook's code cells as one script (nbconvert), and where each cell starts."""
    import nbformat
    from nbconvert import PythonExporter

    try:
        with warnings.catch_warnings():  # "Cell is missing an id field": not the student's
            warnings.simplefilter("ignore")  # business, and stderr noise in their terminal
            nb = nbformat.reads(raw.decode("utf-8-sig"), as_version=4)
    except Exception as e:
        reason = " ".join(str(e).split())[:200]
        raise SubmissionError(gettext("{file}: not a readable notebook ({reason})").format(
            file=file, reason=reason)) from None
    if len(nb.cells) > MAX_CELLS:
        raise SubmissionError(gettext("{file}: {cells} cells, more than the {limit} a notebook "
                                      "may have").format(file=file, cells=f"{len(nb.cells):,}",
                                                         limit=f"{MAX_CELLS:,}"))
    # Before nbconvert, which takes seconds per MiB: the code cells' size alone decides.
    _refuse_big_code(file, "\n".join(c.get("source") for c in nb.cells if c.get("cell_type") == "code"
                                     and isinstance(c.get("source"), str)), gettext("its code cells hold "))
    code_cells = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") == "code":
            if not isinstance(cell.get("source"), str):
                raise SubmissionError(gettext("{file}: not a readable notebook (cell {number} "
                                              "has no source text)").format(file=file,
                                                                            number=number))
            cell.source = strip_magics(cell.source)
            code_cells.append(number)
    try:
        with warnings.catch_warnings():  # "IPython is needed to transform IPython syntax":
            warnings.simplefilter("ignore")  # there is none left, strip_magics removed it
            script, _ = PythonExporter(exclude_markdown=True, exclude_raw=True).from_notebook_node(nb)
    except Exception as e:
        raise SubmissionError(gettext("{file}: nbconvert could not export it ({reason})").format(
            file=file, reason=" ".join(str(e).split())[:200])) from None
    return script, _cell_map(script, [(number, nb.cells[number - 1].source)
                                      for number in code_cells])


_LINE_END = re.compile(r"\r\n|\r|\n")  # what Python counts as a new line, and nothing else


def _cell_map(script: str, cells: list[tuple[int, str]]) -> list[tuple[int, int, int]]:
    """Where each code cell's code is in nbconvert's script: (script line, cell number, line in
    the cell). nbconvert writes the cells in order, each trimmed of the blank lines around it;
    each is found after the previous one, so a cell line that starts with "# In[" or a cell
    opening with blank lines still maps to the line the student sees in the cell."""
    out: list[tuple[int, int, int]] = []
    position, line = 0, 1
    for number, source in cells:
        body = source.strip()
        if not body:
            continue
        found = script.find(body, position)
        if found < 0:  # nbconvert changed the text: leave the cell out rather than guess
            continue
        line += len(_LINE_END.findall(script, position, found))
        first = len(_LINE_END.findall(source[:len(source) - len(source.lstrip())])) + 1
        out.append((line, number, first))
        # the next cell is searched after this one: `y = 2` is not the end of `x = 1; y = 2`
        line += len(_LINE_END.findall(body))
        position = found + len(body)
    return out
