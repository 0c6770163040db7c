"""Rewriting rendered email HTML: only the href values of links change; the rest stays byte for byte."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.domain.messages.rewrite import add_pixel, rewrite_links, tag_url, trackable

EMAIL = """<!doctype html>
<html><head><style>a { color: red }</style>
<!--[if mso]><style>td { font-family: Arial }</style><![endif]-->
</head><body>
<table role="presentation"><tr><td>
<a href="https://shop.example.com/a?x=1&amp;y=2" class="btn" title="go > there">Shop</a>
<A HREF='https://shop.example.com/B'>B</A>
<a href=https://shop.example.com/c>C</a>
<a data-href="https://ignored.example.com/" href="https://shop.example.com/d">D</a>
<a href="mailto:help@example.com">mail</a> <a href="tel:+14155550123">call</a>
<a href="#top">top</a> <a href="/relative">rel</a> <a name="anchor">no href</a>
<abbr title="x">abbr</abbr>
<!--[if mso]><v:roundrect href="https://shop.example.com/vml" arcsize="10%"><![endif]-->
<a href="https://shop.example.com/private" data-nurture-track="off">private</a>
</td></tr></table>
</body></html>"""


def test_every_web_link_goes_through_the_rewriter_with_its_index_and_decoded_url() -> None:
    seen: list[tuple[int, str]] = []

    def rewrite(index: int, url: str) -> str | None:
        seen.append((index, url))
        return f"https://t.example.com/{index}?u=1&v=2" if trackable(url) else None

    out = rewrite_links(EMAIL, rewrite)
    assert seen == [
        (0, "https://shop.example.com/a?x=1&y=2"),
        (1, "https://shop.example.com/B"),
        (2, "https://shop.example.com/c"),
        (3, "https://shop.example.com/d"),
        (4, "mailto:help@example.com"),
        (5, "tel:+14155550123"),
        (6, "#top"),
        (7, "/relative"),
        (8, "https://shop.example.com/vml"),
    ]  # index 9 (data-nurture-track="off") is never offered
    assert '<a href="https://t.example.com/0?u=1&amp;v=2" class="btn" title="go > there">Shop</a>' in out
    assert '<A HREF="https://t.example.com/1?u=1&amp;v=2">B</A>' in out
    assert '<a href="https://t.example.com/2?u=1&amp;v=2">C</a>' in out
    assert 'data-href="https://ignored.example.com/" href="https://t.example.com/3?u=1&amp;v=2"' in out
    assert '<v:roundrect href="https://t.example.com/8?u=1&amp;v=2" arcsize="10%">' in out
    assert '<a href="mailto:help@example.com">mail</a>' in out
    assert '"https://shop.example.com/private" data-nurture-track="off"' in out
    # everything but the rewritten href values is as it was
    originals = iter(
        [
            '"https://shop.example.com/a?x=1&amp;y=2"',
            "'https://shop.example.com/B'",
            "https://shop.example.com/c",
            '"https://shop.example.com/d"',
            '"https://shop.example.com/vml"',
        ]
    )
    rewritten = re.compile(r'"https://t\.example\.com/\d\?u=1&amp;v=2"')
    assert rewritten.sub(lambda _m: next(originals), out) == EMAIL


def test_links_left_alone_leave_the_html_identical() -> None:
    assert rewrite_links(EMAIL, lambda _i, _u: None) == EMAIL


# Markup fragments, and what each becomes when its link (if it has one) is rewritten to index {i}.
FRAGMENTS = {
    "<p>": None,
    "</p>": None,
    "text & more ": None,
    "</a>": None,
    "<": None,
    ">": None,
    '"': None,
    "'": None,
    "<body>": None,
    '<img src="x.png" alt="a > b">': None,
    "<td style=\"font: 'x'\">": None,
    "<a title='<a href=\"https://inner.example.com\">'>": None,  # href= inside a value is not an href
    '<a href="https://x.example.com/p?q=1&amp;r=2">': '<a href="https://t.example.com/{i}">',
    "<a href='http://y.example.com'>": '<a href="https://t.example.com/{i}">',
    "<!-- <a class=x href=https://c.example.com/> -->": (
        '<!-- <a class=x href="https://t.example.com/{i}"> -->'
    ),
}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(FRAGMENTS)), max_size=30))
def test_whatever_the_markup_around_them_only_link_targets_change(parts: list[str]) -> None:
    html = "".join(parts)
    assert rewrite_links(html, lambda _i, _u: None) == html
    expected, index = [], 0
    for part in parts:
        becomes = FRAGMENTS[part]
        if becomes is None:
            expected.append(part)
        else:
            expected.append(becomes.format(i=index))
            index += 1
    assert rewrite_links(html, lambda i, _u: f"https://t.example.com/{i}") == "".join(expected)


def test_the_pixel_goes_before_the_last_body_end_or_at_the_end() -> None:
    url = "https://t.example.com/o/x.gif"
    with_pixel = add_pixel(EMAIL, url)
    assert with_pixel.index(url) < with_pixel.rindex("</body>")
    assert (
        with_pixel.replace(with_pixel[with_pixel.index("<img src") : with_pixel.rindex("</body>")], "")
        == EMAIL
    )
    assert add_pixel("<p>hi</p>", url).startswith("<p>hi</p><img src=")
    assert 'width="1" height="1" alt=""' in add_pixel("<p>hi</p>", url)


def test_utm_tags_are_added_only_to_links_not_tagged_already() -> None:
    params = {"utm_source": "nurture", "utm_medium": "email", "utm_campaign": "spring-sale"}
    assert tag_url("https://a.example.com/x", params) == (
        "https://a.example.com/x?utm_source=nurture&utm_medium=email&utm_campaign=spring-sale"
    )
    assert tag_url("https://a.example.com/x?id=1#frag", {"utm_source": "n"}) == (
        "https://a.example.com/x?id=1&utm_source=n#frag"
    )
    tagged = "https://a.example.com/x?UTM_Source=partner&id=1"
    assert tag_url(tagged, params) == tagged  # the author's tags are never overridden
    assert tag_url("https://a.example.com/x", {}) == "https://a.example.com/x"
    assert tag_url("https://[::1/x", params) == "https://[::1/x"


def test_only_web_links_are_trackable() -> None:
    assert trackable("https://a.example.com")
    assert trackable("HTTP://A.EXAMPLE.COM/x")
    for url in ("mailto:a@example.com", "tel:+1", "sms:+1", "#x", "/rel", "javascript:alert(1)", "https://"):
        assert not trackable(url)
