"""State keys have one home: dashboard/state.py names every session-state, widget and
query-parameter key; the URL of a view is built from its query."""

from __future__ import annotations

import ast
from pathlib import Path

from dashboard import state

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
STORES = ("session_state", "query_params")


def _is_store(node: ast.AST) -> bool:
    """`st.session_state` or `st.query_params`."""
    return isinstance(node, ast.Attribute) and node.attr in STORES


def _is_text(node: ast.AST | None) -> bool:
    """A string literal or an f-string: a key written where it is used."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def literal_keys(source: str) -> list[str]:
    """Places in `source` that write a state key as a literal instead of naming it in state.py."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "key" and _is_text(node.value):
            found.append(f"key={ast.unparse(node.value)}")
        elif isinstance(node, ast.keyword) and node.arg == "query_params":
            if isinstance(node.value, ast.Dict) and any(map(_is_text, node.value.keys)):
                found.append(f"query_params={ast.unparse(node.value)}")
        elif isinstance(node, ast.Subscript) and _is_store(node.value) and _is_text(node.slice):
            found.append(ast.unparse(node))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _is_store(node.func.value)
            and node.args
            and _is_text(node.args[0])
        ):
            found.append(ast.unparse(node))
        elif (
            isinstance(node, ast.Compare)
            and any(_is_store(c) for c in node.comparators)
            and _is_text(node.left)
        ):
            found.append(ast.unparse(node))
    return found


def test_no_module_but_state_writes_a_key_literal():
    """No dashboard module or page besides state.py spells a session-state, widget or
    query-parameter key as a literal."""
    offenders = {
        str(path.relative_to(DASHBOARD)): keys
        for path in sorted(DASHBOARD.rglob("*.py"))
        if path.name != "state.py" and (keys := literal_keys(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_key_check_finds_literals():
    """The check above finds each way of writing a key literally (so it can fail)."""
    source = """
st.button("Go", key="go")
st.text_input("Name", key=f"name_{i}")
st.session_state["kept"] = 1
st.session_state.get("kept")
st.query_params.get_all("q")
st.page_link("p.py", query_params={"cluster": "1"})
if "kept" in st.session_state: pass
st.button("Go", key=state.GO)
st.session_state[state.KEPT] = 1
"""
    assert len(literal_keys(source)) == 7


def test_keys_are_unique():
    """No two widget or session keys named in state.py are the same string."""
    keys = [
        value
        for name, value in vars(state).items()
        if name.isupper() and isinstance(value, str) and not name.startswith("_")
    ]
    keys += list(state.PRESENTER_STATUS.values())
    params = [v for v in vars(state).values() if isinstance(v, state.Param)]
    keys += [state.widget_key(p) for p in params]
    assert len(keys) == len(set(keys))
    names = [p.name for p in params]
    assert len(names) == len(set(names))


def test_keyed_and_versioned_keys_tell_widgets_apart():
    """Alike widgets get distinct keys per part, and inputs a new key per review version."""
    assert state.keyed(state.REVIEW_RENAME, 3) != state.keyed(state.REVIEW_RENAME, 4)
    assert state.keyed("chart", "png") != state.keyed("chart", "svg")
    first = state.versioned(state.REVIEW_LABEL, 3, version=0)
    assert first != state.versioned(state.REVIEW_LABEL, 3, version=1)
    assert first != state.versioned(state.REVIEW_LABEL, 4, version=0)


def test_view_url_replaces_the_page_and_repeats_list_params():
    """The link to a view names the page once, keeps the host, and repeats list parameters."""
    url = state.view_url(
        "http://127.0.0.1:8501/timelines?q=old",
        "map",
        {"themes": ["a", "b"], "q": "x y"},
        ("map", "timelines"),
    )
    assert url == "http://127.0.0.1:8501/map?themes=a&themes=b&q=x+y"
    assert state.view_url("http://h:1/map", "", {}, ("map",)) == "http://h:1/"
