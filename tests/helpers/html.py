"""A small DOM of the HTML reports, and the check that a page fetches nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)
    parent: Element | None = None

    def iter(self) -> list[Element]:
        out = [self]
        for c in self.children:
            out.extend(c.iter())
        return out

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and (cls is None or cls in e.attrs.get("class", "").split())
        ]

    def text_content(self) -> str:
        return self.text + "".join(c.text_content() for c in self.children)


_VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr", "area", "base"}


class TreeBuilder(HTMLParser):
    """A small DOM (the HTML is well formed: every non-void element is closed)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.raw_styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(el)
        if tag not in _VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(el)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack[-1].tag == "style":
            self.raw_styles.append(data)
        self.stack[-1].children.append(Element("#text", {}, text=data))


def parse_html(text: str) -> TreeBuilder:
    tb = TreeBuilder()
    tb.feed(text)
    tb.close()
    assert [e.tag for e in tb.stack] == ["#document"], "unclosed elements"
    return tb


def by_id(tree: TreeBuilder, ident: str) -> Element:
    hits = [e for e in tree.root.iter() if e.attrs.get("id") == ident]
    assert len(hits) == 1, f"{len(hits)} elements with id {ident!r}"
    return hits[0]


_URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset"}


def assert_self_contained(html: str, tree: TreeBuilder) -> None:
    """The page fetches nothing: no URL, no external element, CSP ``default-src 'none'``."""
    # Nothing in the test data is a URL, so no URL at all may appear (inline SVG
    # carries no namespace URIs, DOCTYPE or metadata either).
    assert "http://" not in html
    assert "https://" not in html
    for el in tree.root.iter():
        for name, value in el.attrs.items():
            if name in _URL_ATTRS:
                assert value.startswith("#"), f"<{el.tag} {name}={value!r}> refers outside"
        assert el.tag not in {"link", "img", "iframe", "object", "embed", "base", "audio"}
        if el.tag == "script":
            assert el.attrs.get("type") == "application/json"
            assert "src" not in el.attrs
    css = "".join(tree.raw_styles)
    assert "@import" not in css
    assert "@font-face" not in css
    for url in re.findall(r"url\(([^)]*)\)", html):
        assert url.strip("'\"").startswith("#"), url
    # The browser is also told to fetch nothing.
    csp = [
        e
        for e in tree.root.find_all("meta")
        if e.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1
    assert "default-src 'none'" in csp[0].attrs["content"]
