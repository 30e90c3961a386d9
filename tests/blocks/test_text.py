from __future__ import annotations

import pytest

from blocks.text import BACKTICK_STAND_IN, defang, escape, escaped_length, fit, inline_code, plain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U024BE7LH>", "&lt;@U024BE7LH&gt;"),
        ("<#C024BE7LR|general>", "&lt;#C024BE7LR|general&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;!here&gt;", "&amp;lt;!here&amp;gt;"),
        ("```", BACKTICK_STAND_IN * 3),
        ("x\u202ey", "x⟦U+202E⟧y"),
        ("zero\u200bwidth\ufeff", "zero⟦U+200B⟧width⟦U+FEFF⟧"),
        ("bell\x07", "bell⟦U+0007⟧"),
    ],
)
def test_escape_makes_slack_syntax_inert(raw: str, expected: str) -> None:
    assert escape(raw) == expected


def test_code_mode_keeps_tabs_and_newlines() -> None:
    assert escape("a\tb\nc", code=True) == "a\tb\nc"
    assert escape("a\tb\nc") == "a⟦U+0009⟧b\nc"


def test_fit_never_splits_an_entity() -> None:
    body, cut = fit("&" * 10, 12)

    assert cut is True
    assert body == "&amp;&amp;…"
    assert len(body) <= 12


def test_fit_keeps_combining_marks_with_their_base() -> None:
    body, cut = fit("e\u0301" * 5, 6)

    assert cut is True
    assert body == "e\u0301e\u0301…"


def test_fit_reports_no_cut_when_it_fits() -> None:
    assert fit("<b>", 9) == ("&lt;b&gt;", False)
    assert escaped_length("<b>") == 9


def test_defang_breaks_urls_and_domains() -> None:
    assert defang("get http://evil.example.com/p now") == "get hxxp[:]//evil[.]example[.]com/p now"
    assert defang("https://a.io") == "hxxps[:]//a[.]io"
    assert defang("no links here.") == "no links here."


def test_inline_code_is_one_line_and_bounded() -> None:
    value = inline_code("line1\nline2 `tick`" + "x" * 500, 100)

    assert value.startswith("`line1⏎line2 ˋtickˋ")
    assert value.endswith("…`")
    assert len(value) <= 100
    assert inline_code("") == "`(empty)`"


def test_plain_shows_invisible_characters_and_cuts() -> None:
    assert plain("a\u202eb", 20) == "a⟦U+202E⟧b"
    assert plain("<!here> & co", 20) == "<!here> & co"  # plain_text is literal in Slack
    shortened = plain("é" * 200, 150)
    assert len(shortened) == 150
    assert shortened.endswith("…")


def test_defang_ignores_case_and_catches_international_domains() -> None:
    assert defang("HTTPS://Evil.COM/x") == "HXXPS[:]//Evil[.]COM/x"
    assert defang("see мир.рф now") == "see мир[.]рф now"
