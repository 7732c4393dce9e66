"""Authors, categories and keywords as tuples of clean strings, from lists, list literals written
into a cell (`"['a b', 'c d']"`, pandas' way of saving a list column), or delimited strings.
Names follow BibTeX's `von Last, Jr, First` rule wherever they come with commas."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from pipeline.ingest.rawtext import too_deep
from pipeline.ingest.text import clean_text, is_missing

# A list literal longer than this is not a cell anyone typed; it is left as text.
_MAX_LITERAL_CHARS = 100_000


def parse_list_literal(text: str) -> list | None:
    """The list in a cell that holds a JSON array or a Python list literal, else None.
    Only literals are read (`ast.literal_eval`): nothing in the cell is ever run."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")) or len(text) > _MAX_LITERAL_CHARS:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    if not isinstance(value, list) or too_deep(value, 3):
        return None
    return value


def person_name(value: Any, is_latex: bool = False) -> str:
    """One author as `First von Last Jr`: from a dict (`name`/`fullname`, Hugging Face and JSON
    Feed), an arXiv `authors_parsed` triple `[last, first, suffix]`, or a string that may be
    written `von Last, First` or `von Last, Jr, First`."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("fullname") or ""
        return person_name(value, is_latex) if isinstance(value, str) else ""
    if isinstance(value, (list, tuple)):
        parts = [str(p) for p in value[:3] if isinstance(p, str)]
        last, first, suffix = (parts + ["", "", ""])[:3]
        return clean_text(" ".join(p for p in (first, last, suffix) if p.strip()), is_latex)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if is_missing(value) or not isinstance(value, str):
        return ""
    if "," in _outside_braces(value):
        value = _bibtex_order(value)
    return clean_text(value, is_latex)


def _outside_braces(text: str) -> str:
    depth, out = 0, []
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        out.append(ch if depth == 0 else " ")
    return "".join(out)


def _bibtex_order(name: str) -> str:
    from bibtexparser.customization import InvalidName, splitname

    try:
        parts = splitname(name, strict_mode=False)
    except (InvalidName, IndexError, ValueError):
        return name
    order = ("first", "von", "last", "jr")
    return " ".join(word for key in order for word in parts.get(key, [])) or name


def split_bibtex_names(text: str) -> list[str]:
    """BibTeX `author`: names separated by ` and ` outside braces."""
    names, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch.isspace():
            m = re.match(r"\s+and\s+", text[i:], re.I)
            if m:
                names.append(text[start:i])
                i += m.end()
                start = i
                continue
        i += 1
    names.append(text[start:])
    return names


def split_list(value: Any, kind: str, is_latex: bool = False) -> tuple[str, ...]:
    """Authors, categories or keywords from a list or a delimited string, cleaned, empty items
    dropped. `kind` is "authors", "categories" or "keywords".

    A string holding a list literal is read as that list. Otherwise author strings split on
    `;` (each part may be `Last, First`), else on ` and ` and commas; BibTeX author strings
    (`is_latex`) on ` and ` only. Category and keyword strings split on `;` when they have
    one, else on `,`; categories with neither on whitespace (arXiv's `cs.CL cs.LG`).
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy arrays from Parquet list columns
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        literal = parse_list_literal(value)
        if literal is not None:
            value = literal
    if isinstance(value, dict):
        value = [value]
    if is_missing(value) or not isinstance(value, (str, list, tuple)):
        return ()
    if isinstance(value, (list, tuple)):
        if kind == "authors":
            items = [person_name(item, is_latex) for item in value]
        else:
            items = [clean_text(item, is_latex) for item in value if isinstance(item, (str, int))]
        return tuple(i for i in items if i)
    if kind == "authors":
        return _split_author_string(value, is_latex)
    text = clean_text(value, is_latex)
    if ";" in text:
        parts = text.split(";")
    elif "," in text:
        parts = text.split(",")
    elif kind == "categories":
        parts = text.split()
    else:
        parts = [text]
    return tuple(p.strip() for p in parts if p.strip())


def _split_author_string(text: str, is_latex: bool) -> tuple[str, ...]:
    if is_latex:
        names = split_bibtex_names(text)
    elif ";" in text:
        names = text.split(";")
    else:
        cleaned = clean_text(text)
        names = re.split(r",\s*(?:and\s+)?|\s+and\s+", cleaned)
        return tuple(n.strip() for n in names if n.strip())
    result = [person_name(name, is_latex) for name in names]
    return tuple(n for n in result if n and n.lower() != "others")
