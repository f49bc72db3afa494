"""Languages: every message a student or instructor reads, in French or in English.

The course is taught in French; the grader's messages are written in English in the code and
translated with gettext catalogues (Babel): ``grader/locale/<lang>/LC_MESSAGES/grader.po``.

Use in code::

    from grader.i18n import _, ngettext
    raise CheckFailure(_("{name}: expected {expected}, got {got}").format(
        name=name, expected=expected, got=got))

Placeholders are named (``{expected}``, never ``{}`` or ``%s``) so a translation may put them
in another order. ``_()`` translates at call time into the current language; a message built
at import time (a table of module-level strings) is marked with :func:`N_` and translated
where it is shown (``_(TABLE[key])``), or made with :func:`lazy_gettext`.

The current language, first found wins:

1. an explicit choice: ``grade ... --lang fr`` (:func:`set_language`), or ``$GRADER_LANG`` —
   the variable through which the choice travels to the processes the grader starts (the
   judge of ``grade batch``, ``python -m grader.judge``, the notebook's check): the CLI
   exports it (:func:`export_language`);
2. the course's default, ``language = "fr"`` in the ``[assignment]`` table of
   ``assignment.toml`` (:func:`use_course_default`, called once the assignment is known);
3. the locale: ``$LC_ALL``, ``$LC_MESSAGES``, ``$LANG`` (``fr_FR.UTF-8`` → French);
4. English.

Check names, JSON keys and ``grades.csv`` columns are identifiers and are never translated.

The ``.mo`` files are build products, not in git: a catalogue is compiled from its ``.po``
the first time it is needed when the ``.mo`` is missing or older (written next to it when the
package folder is writable, else kept in memory), so an edited ``.po`` is used at once.
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import io
import os
from pathlib import Path
from typing import Iterator

DOMAIN = "grader"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "fr")        # English: the msgids themselves
SOURCE_LANGUAGE = "en"
LANG_ENV = "GRADER_LANG"
LOCALE_ENVS = ("LC_ALL", "LC_MESSAGES", "LANG")

_explicit: str | None = None    # set_language(): --lang, a test, a report re-rendered
_course: str | None = None      # use_course_default(): the assignment's setting
_catalogues: dict[str, _gettext.NullTranslations] = {}


class LanguageError(ValueError):
    """A language the grader has no catalogue for; the message lists the known ones."""


def normalize(value: str | None) -> str | None:
    """``fr``, ``fr_FR.UTF-8``, ``FR``, ``fr-CA`` → ``fr``; ``C``, ``POSIX``, empty → None."""
    if not value:
        return None
    code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].strip().lower()
    return None if code in ("", "c", "posix") else code


def checked(value: str) -> str:
    """``value`` as one of :data:`LANGUAGES`, or :class:`LanguageError` naming them."""
    code = normalize(value)
    if code not in LANGUAGES:
        raise LanguageError(f"unknown language `{value}`: choose one of {', '.join(LANGUAGES)}")
    return code


def locale_language(environ: dict | None = None) -> str | None:
    """The language of the user's locale when the grader has it, else None. The first of
    ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set decides, as for any gettext program."""
    environ = os.environ if environ is None else environ
    for name in LOCALE_ENVS:
        value = environ.get(name)
        if value:
            code = normalize(value)
            return code if code in LANGUAGES else None
    return None


def current() -> str:
    """The language messages are written in now (see the module's docstring for the order)."""
    if _explicit is not None:
        return _explicit
    env = normalize(os.environ.get(LANG_ENV))
    if env in LANGUAGES:
        return env
    return _course or locale_language() or SOURCE_LANGUAGE


def set_language(value: str | None) -> None:
    """Choose the language explicitly (``--lang``); None goes back to the defaults."""
    global _explicit
    _explicit = None if value is None else checked(value)


def export_language(value: str) -> None:
    """Choose ``value`` here and in every process this one starts from now on."""
    set_language(value)
    os.environ[LANG_ENV] = checked(value)


def environment() -> dict[str, str]:
    """What a process this one starts needs to write in the same language: ``{GRADER_LANG}``
    (set explicitly, it wins over the child's own defaults, as --lang would)."""
    return {LANG_ENV: current()}


def use_course_default(value: str | None) -> None:
    """The assignment's ``language`` setting: used when no language was chosen explicitly."""
    global _course
    _course = None if value is None else checked(value)


def course_language(folder: str | os.PathLike) -> str | None:
    """The ``language`` of ``folder/assignment.toml``'s ``[assignment]`` table, if any."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads((Path(folder) / "assignment.toml").read_text())
    except (OSError, ValueError):
        return None  # the assignment loader reports a broken file, with its path
    value = data.get("assignment", {}).get("language")
    if value is None:
        return None
    try:
        return checked(str(value))
    except LanguageError as e:  # a broken assignment: reported as the loader reports one
        from grader.assignment import AssignmentError

        raise AssignmentError(f"{Path(folder) / 'assignment.toml'}: {e}") from None


@contextlib.contextmanager
def language(value: str | None) -> Iterator[str]:
    """``with language("fr"):`` messages in French inside the block (reports, tests);
    ``language(None)`` changes nothing."""
    global _explicit
    before = _explicit
    if value is not None:
        set_language(value)
    try:
        yield current()
    finally:
        _explicit = before


# ---------------------------------------------------------------------------------------------
# Catalogues
# ---------------------------------------------------------------------------------------------

def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compiled(lang: str) -> bytes:
    """The ``.mo`` of ``lang`` compiled from its ``.po`` with Babel (fuzzy entries left out,
    as msgfmt does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(po_path(lang), "rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def _load(lang: str) -> _gettext.NullTranslations:
    if lang == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    po = po_path(lang)
    mo = po.with_suffix(".mo")
    try:
        if mo.stat().st_mtime >= po.stat().st_mtime:
            with open(mo, "rb") as f:
                return _gettext.GNUTranslations(f)
    except OSError:
        pass  # no .mo yet
    data = compiled(lang)
    try:  # a read-only install (the sandbox, site-packages) compiles in memory each time
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, mo)
    except OSError:
        pass
    return _gettext.GNUTranslations(io.BytesIO(data))


def translations(lang: str | None = None) -> _gettext.NullTranslations:
    lang = lang or current()
    if lang not in _catalogues:
        _catalogues[lang] = _load(lang)
    return _catalogues[lang]


# ---------------------------------------------------------------------------------------------
# What code calls (Babel's default keywords extract all of them but lazy_gettext, which the
# extraction adds: see babel.cfg)
# ---------------------------------------------------------------------------------------------

def gettext(message: str) -> str:
    """``message`` in the current language (itself when it has no translation)."""
    if not message:
        return message  # gettext("") is the catalogue's header
    return translations().gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """``ngettext("{n} check", "{n} checks", n).format(n=n)``: the form for ``n``."""
    return translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it: for strings built at
    import time, translated where they are shown with ``_(value)``."""
    return message


def lazy_gettext(message: str):
    """A string that translates itself each time it is used (module-level constants)."""
    from babel.support import LazyProxy

    return LazyProxy(gettext, message, enable_cache=False)


def extract_checks(fileobj, keywords, comment_tags, options):
    """Babel extraction method for check files (``babel.cfg``): the ``_()`` calls, as Babel's
    Python extractor finds them, and each check's description — the first paragraph of a
    ``test_*`` function's docstring, whitespace folded, exactly as the plugin shows it and
    translates it (:func:`check_description`)."""
    import ast

    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
                "test_"):
            text = description_text(ast.get_docstring(node, clean=False) or "")
            if text:
                yield node.lineno, None, text, ["check description"]


def extract_settings(fileobj, keywords, comment_tags, options):
    """Babel extraction method for ``assignment.toml``: the practical's title (reports and
    ``grade list`` show it translated)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    text = fileobj.read().decode("utf-8")
    title = tomllib.loads(text).get("assignment", {}).get("title")
    if title:
        line = next((i for i, row in enumerate(text.splitlines(), 1)
                     if row.lstrip().startswith("title")), 1)
        yield line, None, title, ["assignment title"]


def description_text(doc: str) -> str:
    """A check's docstring as its one-line description: the first paragraph, spaces folded."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def check_description(doc: str) -> str:
    """The description of a check from its docstring, in the current language."""
    return gettext(description_text(doc))


# ---------------------------------------------------------------------------------------------
# The catalogue's upkeep (a checkout of the course repository, where babel.cfg is)
# ---------------------------------------------------------------------------------------------

REPOSITORY = Path(__file__).resolve().parent.parent
KEYWORDS = ("lazy_gettext",)   # beyond Babel's defaults (_, gettext, ngettext, N_...)


def extract(root: Path = REPOSITORY):
    """Every message of the grader, its check files and its report templates, as
    ``pybabel extract -F babel.cfg -k lazy_gettext`` finds them: a Babel ``Catalog``."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(root / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f, str(root / "babel.cfg"))
    keywords = dict(DEFAULT_KEYWORDS, **{k: None for k in KEYWORDS})
    catalog = Catalog(domain=DOMAIN, project="dl-grader")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map, keywords=keywords):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def read_catalogue(lang: str):
    from babel.messages.pofile import read_po

    with open(po_path(lang), "rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def untranslated(lang: str = "fr", root: Path = REPOSITORY) -> list[str]:
    """The extracted messages ``lang``'s catalogue does not translate (missing, empty or
    fuzzy — a fuzzy guess is not used), as ``file:line: message``."""
    catalog = read_catalogue(lang)
    missing = []
    for message in extract(root):
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        strings = [] if found is None else (
            list(found.string) if isinstance(found.string, (list, tuple)) else [found.string])
        if found is None or found.fuzzy or not strings or not all(strings):
            where = message.locations[0] if message.locations else ("?", 0)
            text = message.id[0] if isinstance(message.id, tuple) else message.id
            missing.append(f"{where[0]}:{where[1]}: {text}")
    return missing


def update_catalogue(lang: str = "fr", root: Path = REPOSITORY) -> None:
    """``pybabel update``: add the new messages to ``lang``'s ``.po`` (untranslated), mark
    the obsolete ones, keep the translations."""
    from babel.messages.pofile import write_po

    catalog = read_catalogue(lang)
    catalog.update(extract(root), no_fuzzy_matching=True)
    with open(po_path(lang), "wb") as f:
        write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True,
                 include_previous=False, sort_output=False)


if __name__ == "__main__":  # python -m grader.i18n [update]: the messages French lacks
    import sys

    if sys.argv[1:] == ["update"]:
        update_catalogue()
    for line in untranslated():
        print(line)
