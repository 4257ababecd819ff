"""What the HTML report tests share: a store a responder would hold plus credentials found under
hostile names (markup and script in file names, owner names and a provider's answer), and a
reader of the page's structure (the standard library's HTML parser: tags, attributes and text as a
browser would build them)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from keysweep.models import Occurrence
from keysweep.store import Store
from tests.selection_helpers import responder_store
from tests.test_report_truth import DETECTED, finding

# File names, an owner and a provider's identity answer that try to become markup or script.
HOSTILE_PATHS = (
    "<script>alert(1)</script>.env",
    '"><img src=x onerror=alert(2)>.env',
    "</td></tr></table><h1>owned</h1>.env",
    "&lt;b&gt;entity&amp;.env",
    "' onmouseover='alert(3).env",
    "bidi\u202etxt.env",
)
HOSTILE_OWNER = "<b onclick=alert(4)>Mallory</b>"
HOSTILE_CONTACT = 'mallory"><script>alert(5)</script>@example.com'
HOSTILE_SCOPE = "</svg><script>alert(6)</script>"


def hostile_store(tmp_path: Path) -> tuple[Path, dict]:
    """responder_store's eight credentials plus one per hostile path, the first owned by the hostile
    owner and answered live with a hostile scope."""
    db, found = responder_store(tmp_path)
    store = Store(db)
    hostile = []
    for index, path in enumerate(HOSTILE_PATHS):
        value = "sk-proj-" + f"H{index}st" * 12
        hostile.append(finding(value, Occurrence(source="dir", path=path, line=1, locator={"path": path})))
    store.record(hostile, "hostile", DETECTED)
    store.replace_owner_candidates(hostile[0].id, [{"name": HOSTILE_OWNER, "contact": HOSTILE_CONTACT,
                                                    "source": "owners-file", "confidence": 0.9,
                                                    "evidence": "test", "chosen": True}], DETECTED)
    store.record_verification(hostile[0].id, "live", {"scopes": [HOSTILE_SCOPE], "org": "<i>org</i>"}, None,
                              "2026-12-01T13:00:00Z")
    store.close()
    return db, dict(found, **{f"hostile{i}": f for i, f in enumerate(hostile)})


class Page(HTMLParser):
    """Every element (tag, attributes, parent chain) and the text under a given element id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], tuple[str, ...]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.text_by_id: dict[str, list[str]] = {}
        self.texts: list[tuple[tuple[str, ...], str]] = []
        self.feed(text)
        self.close()

    VOID = {"meta", "input", "br", "img", "link", "hr", "rect", "line", "polyline", "option"}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = tuple(c for _tag, a in self.stack for c in (a.get("class") or "").split())
        self.elements.append((tag, attributes, classes))
        if tag not in self.VOID:
            self.stack.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), ()))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        ids = [a.get("id") for _tag, a in self.stack if a.get("id")]
        for element_id in ids:
            self.text_by_id.setdefault(element_id, []).append(data)
        self.texts.append((tuple(t for t, _a in self.stack), data))

    def text(self, element_id: str) -> str:
        return "".join(self.text_by_id.get(element_id, []))

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs, _classes in self.elements if tag == name]
