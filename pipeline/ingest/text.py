"""Text fields of a raw record to clean Unicode: values of the wrong type converted where that
means something (bytes decoded, a list of strings joined) or refused with the reason; HTML and
control bytes removed, LaTeX converted, math kept, whitespace collapsed; the normalised title
used for matching."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pipeline.ingest.latex import MATH, latex_to_text

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.S)
# C0 controls and DEL other than whitespace: NUL is dropped, the others become a space.
_CONTROLS = re.compile(r"[\x01-\x08\x0e-\x1f\x7f]")


def is_missing(value: Any) -> bool:
    """None, NaN, or a string of only whitespace."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    parts = MATH.split(text)
    # Odd indices are LaTeX math spans: kept exactly, so `$a<b>c$` is never read as a tag.
    for i in range(0, len(parts), 2):
        parts[i] = html.unescape(_TAG.sub(" ", parts[i]))
    return "".join(parts)


def clean_text(value: Any, is_latex: bool = False) -> str:
    """NFC text with HTML tags and control bytes removed, LaTeX accents and commands turned into
    Unicode (math kept) and whitespace collapsed to one space. `is_latex`: the value is a BibTeX
    field, LaTeX throughout (see `latex_to_text`)."""
    if is_missing(value):
        return ""
    text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    text = _CONTROLS.sub(" ", text)
    text = latex_to_text(text, is_bibtex=is_latex)
    text = _strip_html(text)
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class TextValue:
    """A field's value as text. `note` says what was converted (kept, with a warning);
    `refused` says why a value could not be read as text (text is then "")."""

    text: str
    note: str = ""
    refused: str = ""


def text_value(value: Any, name: str, is_latex: bool = False, column: str = "") -> TextValue:
    """One text field (title, abstract, url, ...) from whatever type the input held.

    Strings are cleaned; bytes are decoded as UTF-8 and a list of strings is joined, each with a
    note; numbers, booleans, objects and lists of anything else are refused.
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy arrays and scalars from Parquet
    if is_missing(value):
        return TextValue("")
    if isinstance(value, str):
        note = "NUL byte(s) removed" if "\x00" in value else ""
        return TextValue(clean_text(value, is_latex), f"{name}: {note}" if note else "")
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", errors="replace")
        return TextValue(clean_text(text, is_latex), f"{name} was bytes: decoded as UTF-8")
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(item, (str, bytes)) for item in value):
            items = [i.decode("utf-8", "replace") if isinstance(i, bytes) else i for i in value]
            return TextValue(
                clean_text(" ".join(items), is_latex),
                f"{name} was a list of {len(items)} strings: joined with spaces",
            )
        return TextValue("", refused=f"{name} is a list of {_kinds(value)}, not text")
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:8])
        where = f"column {column!r}" if column else name
        hint = (
            f"; map a text field inside it, e.g. --column {name}={column}.{next(iter(value))}"
            if column and value
            else ""
        )
        return TextValue("", refused=f"{name}: {where} holds an object (keys: {keys}){hint}")
    return TextValue("", refused=f"{name} is {_kind(value)} ({excerpt_scalar(value)}), not text")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def _kinds(values: list | tuple) -> str:
    kinds = sorted({type(v).__name__ for v in values})
    return ", ".join(kinds) if kinds else "nothing"


def excerpt_scalar(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (over 4,300 digits)
        return "a very long number"
    return text if len(text) <= 40 else text[:39] + "…"


def title_key(title: str) -> str:
    """The normalised title used for deduplication and sidecar joins: case-folded, NFKD,
    accents and punctuation removed, words separated by single spaces."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"\w+", text))


def word_count(text: str) -> int:
    return len(text.split())
