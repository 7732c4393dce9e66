"""Theme definitions: reads a themes file (TOML, one `[[theme]]` table per theme); produces
`Theme` records and resolves their example and counter-example references against a corpus."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from anyascii import anyascii

from pipeline.contract import OTHER
from pipeline.themes.model import ThemeLabel

COUNTER_PREFIX = "-"  # a key term written "-phrase" is a counter term: evidence against the theme


class ThemesFileError(ValueError):
    """A themes file that cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Theme:
    """One named theme. `theme_id` is a slug (lower case ASCII letters, digits, hyphens).

    `examples` and `counter_examples` are references to papers that are (or are not) in the
    theme: `arxiv:<id>`, `doi:<doi>`, a bare arXiv id or DOI, or an exact title. `line` is the
    theme's line in its file (0 when not from a file), for messages.

    `key_terms` are as written in the file (and stored in a run): a term starting with "-" is a
    counter term, a phrase typical of papers that look like the theme but are not in it (see
    `terms` and `counter_terms`)."""

    theme_id: str
    name: str
    description: str
    key_terms: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    line: int = 0

    @property
    def terms(self) -> tuple[str, ...]:
        """The key terms that speak for the theme (counter terms left out)."""
        return tuple(t for t in self.key_terms if not t.startswith(COUNTER_PREFIX))

    @property
    def counter_terms(self) -> tuple[str, ...]:
        """The phrases that speak against the theme: key terms written "-phrase", without "-"."""
        return tuple(
            t[len(COUNTER_PREFIX) :].strip() for t in self.key_terms if t.startswith(COUNTER_PREFIX)
        )


def slugify(text: str) -> str:
    """`RL post-training` -> `rl-post-training`; other scripts are transliterated (`Обучение` ->
    `obuchenie`); a name with no letters or digits at all gets `theme-<8 hex of its hash>`."""
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(text).lower()).strip("-")
    return slug or "theme-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


_THEME_KEYS = ("id", "name", "description", "key_terms", "examples", "counter_examples")
_LISTS = ("key_terms", "examples", "counter_examples")


def _theme_lines(text: str) -> list[int]:
    """1-based line numbers of every `[[theme]]` header, in order."""
    return [
        i
        for i, line in enumerate(text.splitlines(), 1)
        if re.match(r"\s*\[\[\s*theme\s*\]\]", line)
    ]


def parse_themes(text: str, source: str = "<themes>") -> tuple[Theme, ...]:
    """Parse themes TOML text: one `[[theme]]` table per theme with `name` and `description`, and
    optional `key_terms`, `examples`, `counter_examples` (lists of strings) and `id` (a slug;
    default: the name slugified)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemesFileError(f"{source}: invalid TOML: {exc}") from None
    extra = sorted(set(data) - {"theme"})
    if extra:
        raise ThemesFileError(
            f"{source}: unknown top-level key(s) {', '.join(extra)}; themes go in [[theme]] tables"
        )
    entries = data.get("theme")
    if not isinstance(entries, list) or not entries:
        raise ThemesFileError(f"{source}: no themes; add at least one [[theme]] table")
    lines = _theme_lines(text)
    themes: list[Theme] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else 0
        where = f"{source}, line {line}" if line else f"{source}, theme {index + 1}"
        themes.append(_theme(entry, where, line))
        theme_id = themes[-1].theme_id
        if theme_id in seen:
            raise ThemesFileError(
                f"{where}: duplicate theme id `{theme_id}` (first at line {seen[theme_id]})"
            )
        seen[theme_id] = line or index + 1
    return tuple(themes)


def _theme(entry: object, where: str, line: int) -> Theme:
    if not isinstance(entry, dict):
        raise ThemesFileError(f"{where}: a theme must be a table")
    unknown = sorted(set(entry) - set(_THEME_KEYS))
    if unknown:
        raise ThemesFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_THEME_KEYS)}"
        )
    for key in ("name", "description"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ThemesFileError(f"{where}: `{key}` must be a non-empty string")
    lists = {}
    for key in _LISTS:
        values = entry.get(key, [])
        is_text = isinstance(values, list) and all(isinstance(v, str) and v.strip() for v in values)
        if not is_text:
            raise ThemesFileError(f"{where}: `{key}` must be a list of non-empty strings")
        lists[key] = tuple(" ".join(v.split()) for v in values)
    if any(not t.removeprefix(COUNTER_PREFIX).strip() for t in lists["key_terms"]):
        raise ThemesFileError(f"{where}: a counter term needs a phrase after `{COUNTER_PREFIX}`")
    name = entry["name"].strip()
    theme_id = entry.get("id", slugify(name))
    if not isinstance(theme_id, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", theme_id):
        raise ThemesFileError(
            f"{where}: `id` {theme_id!r} must be a slug of lower-case letters, digits and hyphens"
        )
    if theme_id == OTHER:
        raise ThemesFileError(
            f"{where}: the theme {name!r} has the id `{OTHER}`, reserved for unmatched papers; "
            "give it another `id`"
        )
    return Theme(
        theme_id=theme_id,
        name=name,
        description=" ".join(entry["description"].split()),
        key_terms=lists["key_terms"],
        examples=lists["examples"],
        counter_examples=lists["counter_examples"],
        line=line,
    )


def load_themes(path: str | Path) -> tuple[Theme, ...]:
    """Read and validate a themes file; ThemesFileError names the line of any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThemesFileError(f"themes file not found: {path}") from None
    except IsADirectoryError:
        raise ThemesFileError(f"themes file {path} is a folder; give a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemesFileError(f"cannot read themes file {path}: {exc}") from None
    return parse_themes(text, str(path))


# ------------------------------------------------------------------------------------------
# Example references


def _title_key(title: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", anyascii(title).lower()).strip()


def _reference_keys(reference: str) -> list[str]:
    """The lookup keys a reference may match, best first: a paper id as written, an arXiv id
    (without version), a DOI, a title."""
    ref = reference.strip()
    low = ref.lower()
    keys = [low]
    if low.startswith("arxiv:"):
        keys.append("arxiv:" + re.sub(r"v\d+$", "", low[6:]))
    elif re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z.-]+/\d{7}(v\d+)?", low):
        keys.append("arxiv:" + re.sub(r"v\d+$", "", low))
    elif low.startswith("10.") and "/" in low:
        keys.append("doi:" + low)
    return [*keys, "t:" + _title_key(ref)]


def resolve_examples(
    themes: Sequence[Theme], papers: pd.DataFrame, source: str = "themes file"
) -> tuple[list[ThemeLabel], list[str]]:
    """Match every example and counter-example reference against `papers` (columns paper_id,
    title): (labels found, one warning per reference that matches no paper, naming the theme
    and its line). A theme with counter-examples only is fine: they only say "not this one"."""
    index: dict[str, str] = {}
    for pid, title in zip(papers["paper_id"], papers["title"], strict=True):
        index.setdefault(str(pid).lower(), str(pid))
        index.setdefault("t:" + _title_key(str(title)), str(pid))
    found: list[ThemeLabel] = []
    warnings: list[str] = []
    for theme in themes:
        for refs, positive in ((theme.examples, True), (theme.counter_examples, False)):
            for ref in refs:
                hit = next((index[k] for k in _reference_keys(ref) if k in index), None)
                if hit is None:
                    kind = "example" if positive else "counter-example"
                    where = f"{source}, line {theme.line}" if theme.line else source
                    warnings.append(
                        f"{where}: theme {theme.name!r}: {kind} {ref!r} matches no paper"
                    )
                else:
                    ids = (theme.theme_id,)
                    found.append(
                        ThemeLabel(hit, ids, source="example")
                        if positive
                        else ThemeLabel(hit, excluded=ids, source="example")
                    )
    return found, warnings
