"""LaTeX in paper text to Unicode, for every source: accents and text-mode commands are converted
(`Koll\\'ar` -> `Kollár`), math (`$...$`, `\\(...\\)`) stays exactly as written, an unknown
command becomes a space or its argument (never glue), and Mendeley's escaped LaTeX is undone
first. Built on pylatexenc."""

from __future__ import annotations

import functools
import re

# Math spans: kept verbatim by every cleaning step (HTML stripping, LaTeX conversion). An escaped
# dollar (`\$5`) starts no math.
MATH = re.compile(r"((?<!\\)\$\$.+?\$\$|(?<!\\)\$(?:[^$\\]|\\.)+\$|\\\(.+?\\\)|\\\[.+?\\\])", re.S)

# Mendeley escapes every LaTeX special inside its exports: `{\$}\backslashrho{\_}{\{}ABC{\}}{\$}`
# is `$\rho_{ABC}$`, `R$\backslash$'enyi` is `R\'enyi`. Undone before conversion.
_MENDELEY = re.compile(r"\{\\([$_{}&%#])\}|\$\\backslash\$|\\backslash")
_MENDELEY_HINT = re.compile(r"\{\\[$_{}]\}|\$\\backslash\$")
# `{\$}` was a math shift and `{\_}` a subscript the author typed; `{\&}` was a literal `&`.
_UNESCAPED = {"$": "$", "_": "_", "{": "{", "}": "}", "&": r"\&", "%": r"\%", "#": r"\#"}
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_COMMAND = re.compile(r"\\[A-Za-z]+|\\[^A-Za-z\s]")
# What makes a word LaTeX in a BibTeX field: a command, a brace, a tie, a dash or quote ligature.
_BIBTEX_MARKUP = re.compile(r"[\\{}~]|--|``|''|[?!]`")
_SPACE = re.compile(r"(\s+)")
_MAX_GROUP_WORDS = 200


def undo_mendeley(text: str) -> str:
    """Mendeley's escaped LaTeX back to the LaTeX its author wrote."""
    if not _MENDELEY_HINT.search(text):
        return text
    return _MENDELEY.sub(lambda m: _UNESCAPED[m.group(1)] if m.group(1) else "\\", text)


@functools.cache
def _converter():
    from pylatexenc.latex2text import (
        LatexNodes2Text,
        MacroTextSpec,
        SpecialsTextSpec,
        get_default_latex_context_db,
    )

    context = get_default_latex_context_db()
    context.add_context_category(
        "research-theme-explorer",
        macros=[
            MacroTextSpec("textbraceleft", "{"),
            MacroTextSpec("textbraceright", "}"),
            MacroTextSpec("textasciicircum", "^"),
            MacroTextSpec("textasciitilde", "~"),
            MacroTextSpec("url", "%s"),
            MacroTextSpec("cite", ""),
        ],
        specials=[SpecialsTextSpec("&", "&")],
        prepend=True,
    )
    # LaTeX eats the space after a command name, so dropping an unknown command glues the words
    # around it (`methodology\hyphen independent`); a space keeps them apart.
    context.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=" "))
    return LatexNodes2Text(latex_context=context, math_mode="verbatim", strict_latex_spaces=True)


def _convert(text: str) -> str:
    try:
        return _converter().latex_to_text(text)
    except Exception:  # pylatexenc is lenient, but never let one odd field stop a file
        return text.replace("{", "").replace("}", "")


def latex_to_text(text: str, is_bibtex: bool = False) -> str:
    """Unicode text from LaTeX-flavoured `text`; math spans stay verbatim.

    `is_bibtex`: the whole value is LaTeX (a BibTeX field), so braces group, `~` is a tie and
    `--` a dash. Otherwise (arXiv feeds, tables, JSON) only words that hold a command are
    converted, and `~` stays a tilde. A bare `%` is a percent sign in both: in an abstract it is
    never meant as a comment that drops the rest of the line.

    Only the words that need it go through pylatexenc (a word with an open brace takes the
    words up to its closing one): converting whole abstracts made large inputs slow.
    """
    text = undo_mendeley(text)
    if "\\" not in text and not (is_bibtex and _BIBTEX_MARKUP.search(text)):
        return text
    needs = _BIBTEX_MARKUP.search if is_bibtex else _COMMAND.search
    parts = MATH.split(text)
    for i in range(0, len(parts), 2):  # odd indices are math spans
        if needs(parts[i]):
            parts[i] = _convert_words(parts[i], needs, is_bibtex)
    return "".join(parts)


def _convert_words(text: str, needs, is_bibtex: bool) -> str:
    words = _SPACE.split(text)  # even indices are words, odd ones the spaces between them
    out: list[str] = []
    i = 0
    while i < len(words):
        if i % 2 or not needs(words[i]):
            out.append(words[i])
            i += 1
            continue
        end = i
        depth = words[i].count("{") - words[i].count("}")
        while depth > 0 and end + 2 < len(words) and end - i < 2 * _MAX_GROUP_WORDS:
            end += 2
            depth += words[end].count("{") - words[end].count("}")
        group = _BARE_PERCENT.sub(r"\\%", "".join(words[i : end + 1]))
        if not is_bibtex:
            group = group.replace("~", r"\textasciitilde{}")
        out.append(_convert(group))
        i = end + 1
    return "".join(out)
