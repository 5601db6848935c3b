use ratatui::style::Modifier;

use super::*;

const THEME: Theme = Theme { colour: true };

fn text_of(line: &Line<'_>) -> String {
    line.spans
        .iter()
        .map(|span| span.content.as_ref())
        .collect()
}

fn texts(lines: &[Line<'_>]) -> Vec<String> {
    lines.iter().map(text_of).collect()
}

fn md(text: &str, width: u16) -> Vec<String> {
    texts(&render(text, width, &THEME))
}

fn style_of(lines: &[Line<'_>], needle: &str) -> Style {
    lines
        .iter()
        .flat_map(|line| line.spans.iter())
        .find(|span| span.content.contains(needle))
        .map(|span| span.style)
        .unwrap_or_else(|| panic!("no span contains {needle:?} in {:?}", texts(lines)))
}

fn any_modifier(lines: &[Line<'_>], modifier: Modifier) -> bool {
    lines
        .iter()
        .flat_map(|line| line.spans.iter())
        .any(|span| span.style.add_modifier.contains(modifier))
}

const SAMPLE: &str = "# Incident summary\n\
    The run `run-42` of **nightly_sales_load** failed after _retrying_ 3 times; see \
    list_pipeline_runs and get_run_logs for details. 2 * 3 = 6, and a*b is fine.\n\
    \n\
    \n\
    ## Steps\n\
    1. Check the **linked service** credentials — they expired at 02:00 UTC.\n\
    2. Re-run with `--from-failure`.\n\
    - first bullet with a very_long_identifier_that_will_certainly_need_hard_breaking_somewhere\n\
    \x20 - nested *italic phrase that wraps around* end\n\
    \x20   continuation of the nested item\n\
    > quoted **warning** from the runbook\n\
    > > and a nested quote\n\
    中文字符的宽度是两个单元格，表情符号也是 🚀🔥 ok.\n\
    ---\n\
    ```sql\n\
    SELECT *\n\
    \tFROM sales  -- a **not bold** comment\n\
    ```\n\
    Done: __all good__ and ***very*** done \\*literally\\*.\n\
    ```\n\
    unclosed fence content";

#[test]
fn headings_drop_their_markers() {
    let lines = render("# Title\n### Sub *x* ##\n####### seven\n#tag", 80, &THEME);
    assert_eq!(texts(&lines), ["Title", "Sub x", "####### seven", "#tag"]);
    assert_eq!(style_of(&lines, "Title"), THEME.heading());
    assert!(
        style_of(&lines, "x")
            .add_modifier
            .contains(Modifier::ITALIC)
    );
    assert!(style_of(&lines, "x").add_modifier.contains(Modifier::BOLD));
}

#[test]
fn bold_with_stars_and_underscores() {
    let lines = render("a **bold** and __also__ b", 80, &THEME);
    assert_eq!(texts(&lines), ["a bold and also b"]);
    assert!(
        style_of(&lines, "bold")
            .add_modifier
            .contains(Modifier::BOLD)
    );
    assert!(
        style_of(&lines, "also")
            .add_modifier
            .contains(Modifier::BOLD)
    );
    assert_eq!(style_of(&lines, "a "), THEME.text());
}

#[test]
fn italic_with_stars_and_underscores() {
    let lines = render("an *italic* and _this_ too; ***both***", 80, &THEME);
    assert_eq!(texts(&lines), ["an italic and this too; both"]);
    assert!(
        style_of(&lines, "italic")
            .add_modifier
            .contains(Modifier::ITALIC)
    );
    assert!(
        style_of(&lines, "this")
            .add_modifier
            .contains(Modifier::ITALIC)
    );
    let both = style_of(&lines, "both").add_modifier;
    assert!(both.contains(Modifier::ITALIC | Modifier::BOLD));
}

#[test]
fn snake_case_and_arithmetic_are_not_emphasis() {
    let text = "call list_pipeline_runs then get_run_logs_v2, a * b * c, 2 * 3 and */5 * * * *";
    let lines = render(text, 200, &THEME);
    assert_eq!(texts(&lines), [text]);
    assert!(!any_modifier(&lines, Modifier::ITALIC));
    let lines = render("**list_pipeline_runs**", 80, &THEME);
    assert_eq!(texts(&lines), ["list_pipeline_runs"]);
    assert!(!any_modifier(&lines, Modifier::ITALIC));
    assert!(any_modifier(&lines, Modifier::BOLD));
}

#[test]
fn inline_code_is_literal() {
    let lines = render("run `a*b_c_ **x**` now and ``x ` y``", 80, &THEME);
    assert_eq!(texts(&lines), ["run a*b_c_ **x** now and x ` y"]);
    assert_eq!(style_of(&lines, "a*b"), THEME.code());
    assert_eq!(style_of(&lines, "x ` y"), THEME.code());
    assert!(!any_modifier(&lines, Modifier::BOLD));
}

#[test]
fn fenced_code_is_indented_and_literal() {
    let text = "before\n```rust\nfn main() {\n    let x = **1**;\n\n}\n```\nafter";
    let lines = render(text, 80, &THEME);
    assert_eq!(
        texts(&lines),
        [
            "before",
            "  fn main() {",
            "      let x = **1**;",
            "  ",
            "  }",
            "after"
        ]
    );
    assert_eq!(style_of(&lines, "fn main"), THEME.code());
    assert!(!any_modifier(&lines, Modifier::BOLD));
}

#[test]
fn unclosed_fence_renders_the_rest_as_code() {
    let lines = render("text\n```\nstill *code*\n# not a heading", 80, &THEME);
    assert_eq!(
        texts(&lines),
        ["text", "  still *code*", "  # not a heading"]
    );
    assert_eq!(style_of(&lines, "still"), THEME.code());
}

#[test]
fn inline_triple_backticks_are_not_a_fence() {
    assert_eq!(md("```x``` after", 80), ["x after"]);
}

#[test]
fn bullets_nest_by_indentation() {
    let text = "- one\n- two\n  - nested\n    - deeper\n  - back\n* star\n+ plus\n-not a bullet";
    assert_eq!(
        md(text, 80),
        [
            "• one",
            "• two",
            "  • nested",
            "    • deeper",
            "  • back",
            "• star",
            "• plus",
            "-not a bullet"
        ]
    );
    // Four-space nesting reads the same as two-space nesting.
    assert_eq!(md("- a\n    - b", 80), ["• a", "  • b"]);
}

#[test]
fn numbered_items_keep_their_numbers() {
    assert_eq!(
        md("1. first\n2. second\n10) tenth", 80),
        ["1. first", "2. second", "10) tenth"]
    );
}

#[test]
fn wrapped_items_hang_under_their_text() {
    assert_eq!(
        md("- alpha beta gamma delta epsilon", 12),
        ["• alpha beta", "  gamma", "  delta", "  epsilon"]
    );
    assert_eq!(md("12. aaa bbb ccc", 9), ["12. aaa", "    bbb", "    ccc"]);
    assert_eq!(
        md("- item\n  more text here", 10),
        ["• item", "  more", "  text", "  here"]
    );
}

#[test]
fn blank_lines_collapse_and_trim() {
    assert_eq!(md("\n\na\n\n\n\nb\n\n", 80), ["a", "", "b"]);
    assert_eq!(md("a\n   \nb", 80), ["a", "", "b"]);
}

#[test]
fn quotes_get_a_dim_bar() {
    let lines = render("> quoted text\n> > nested\n>", 80, &THEME);
    assert_eq!(texts(&lines), ["│ quoted text", "│ │ nested", "│ "]);
    assert_eq!(lines[0].spans[0].style, THEME.dim());
    assert_eq!(md("> one two three", 10), ["│ one two", "│ three"]);
}

#[test]
fn rules_span_the_width() {
    assert_eq!(md("---", 5), ["─────"]);
    assert_eq!(md("* * *", 3), ["───"]);
}

#[test]
fn unclosed_markup_renders_literally() {
    assert_eq!(md("**bold", 80), ["**bold"]);
    assert_eq!(md("`code", 80), ["`code"]);
    assert_eq!(md("a **b `c _d", 80), ["a **b `c _d"]);
    assert_eq!(md("**bold** **open", 80), ["bold **open"]);
    assert_eq!(md("trailing \\", 80), ["trailing \\"]);
    assert_eq!(md("\\*not italic\\*", 80), ["*not italic*"]);
}

#[test]
fn emphasis_survives_wrapping() {
    let lines = render("x **one two three four five** y", 9, &THEME);
    assert_eq!(texts(&lines), ["x one two", "three", "four five", "y"]);
    for line in &lines[1..3] {
        for span in &line.spans {
            assert!(span.style.add_modifier.contains(Modifier::BOLD), "{line:?}");
        }
    }
    assert!(
        lines[0]
            .spans
            .iter()
            .any(|s| s.content.contains("one") && s.style.add_modifier.contains(Modifier::BOLD))
    );
}

#[test]
fn long_words_and_wide_characters_break_hard() {
    assert_eq!(md("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    assert_eq!(md("中文字符测试", 5), ["中文", "字符", "测试"]);
    assert_eq!(md("ok 中文", 4), ["ok", "中文"]);
    assert_eq!(md("中ab cd", 7), ["中ab cd"]);
    assert_eq!(md("中ab cd", 6), ["中ab", "cd"]);
    assert_eq!(md("中", 1), ["…"]);
}

#[test]
fn no_line_exceeds_the_width() {
    assert!(render(SAMPLE, 0, &THEME).is_empty());
    assert!(wrap_plain(SAMPLE, 0, Style::default(), "  ").is_empty());
    for width in 1..=80u16 {
        let lines = render(SAMPLE, width, &THEME);
        assert!(!lines.is_empty());
        for line in &lines {
            assert!(
                line.width() <= usize::from(width),
                "width {width}: {line:?}"
            );
        }
        for line in wrap_plain(SAMPLE, width, Style::default(), "    ") {
            assert!(
                line.width() <= usize::from(width),
                "width {width}: {line:?}"
            );
        }
    }
}

/// Characters that are markup (or decoration we add) and may legitimately
/// appear or disappear; everything else must survive rendering, in order.
fn content_chars(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !"*_`#>-+\\•│─~".contains(*c))
        .collect()
}

#[test]
fn every_streaming_prefix_keeps_its_text() {
    for (end, _) in SAMPLE.char_indices().chain([(SAMPLE.len(), ' ')]) {
        let prefix = &SAMPLE[..end];
        let expected: String = prefix
            .split('\n')
            .filter(|line| !line.trim_start().starts_with("```"))
            .map(content_chars)
            .collect();
        for width in [30, 11] {
            let rendered: String = render(prefix, width, &THEME)
                .iter()
                .map(|line| content_chars(&text_of(line)))
                .collect();
            assert_eq!(rendered, expected, "prefix {prefix:?} at width {width}");
        }
    }
}

#[test]
fn control_characters_are_made_visible() {
    assert_eq!(md("a\tb\u{1b}[31m\r", 80), ["a    b\u{FFFD}[31m"]);
}

#[test]
fn wrap_plain_indents_every_line() {
    let style = THEME.dim();
    let lines = wrap_plain("alpha beta gamma\n   kept\n\n   longer", 9, style, "  ");
    assert_eq!(
        texts(&lines),
        [
            "  alpha",
            "  beta",
            "  gamma",
            "     kept",
            "  ",
            "  longer"
        ]
    );
    assert!(
        lines
            .iter()
            .all(|line| line.spans.iter().all(|s| s.style == style))
    );
    assert_eq!(texts(&wrap_plain("**raw**", 20, style, "")), ["**raw**"]);
}

#[test]
fn lazy_continuation_lines_lose_the_prefix_they_did_not_type() {
    assert_eq!(md("> quoted\nplain", 80), ["│ quoted", "plain"]);
    assert_eq!(md("> > deep\n> shallow", 80), ["│ │ deep", "│ shallow"]);
    assert_eq!(
        md("- item\n  under\nlazy", 80),
        ["• item", "  under", "lazy"]
    );
}

#[test]
fn nested_blocks_hang_under_their_parent_text() {
    assert_eq!(
        md("1. first\n   - under the number\n2. second", 80),
        ["1. first", "   • under the number", "2. second"]
    );
    assert_eq!(
        md("> - in a quote\n>   wrapped on", 80),
        ["│ • in a quote", "│   wrapped on"]
    );
    assert_eq!(md("- ```\n  code\n  ```", 80), ["•   code"]);
    assert_eq!(md("-\n- b", 80), ["• ", "• b"]);
}

#[test]
fn links_show_their_markup_around_styled_text() {
    let lines = render(
        "see [the **docs**](https://x.y/d) or <https://x.y>",
        80,
        &THEME,
    );
    assert_eq!(
        texts(&lines),
        ["see [the docs](https://x.y/d) or <https://x.y>"]
    );
    assert!(
        style_of(&lines, "docs")
            .add_modifier
            .contains(Modifier::BOLD)
    );
    assert_eq!(
        md("![alt](a.png) [](empty)", 80),
        ["![alt](a.png) [](empty)"]
    );
}

#[test]
fn source_lines_without_events_are_not_dropped() {
    assert_eq!(
        md("[ref]: https://x.y\nSee [ref].", 80),
        ["[ref]: https://x.y", "See [ref](https://x.y)."]
    );
    assert_eq!(md(">\n> a", 80), ["│ ", "│ a"]);
}

#[test]
fn entities_cannot_smuggle_control_characters() {
    assert_eq!(
        md("a &#27;[31m &#x9b;2J &amp;", 80),
        ["a \u{FFFD}[31m \u{FFFD}2J &"]
    );
    assert_eq!(
        md("`\u{1b}]0;title\u{7}`", 80),
        ["\u{FFFD}]0;title\u{FFFD}"]
    );
}

/// Markup-heavy fragments that pull the parser and the layout in every
/// direction at once, plus the characters a hostile peer would send.
fn fragment() -> impl proptest::strategy::Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "*",
        "**",
        "_",
        "__",
        "`",
        "```",
        "~~~",
        "\n",
        "\n\n",
        " ",
        "    ",
        "> ",
        ">",
        "- ",
        "* ",
        "1. ",
        "12) ",
        "# ",
        "###### ",
        "---",
        "[",
        "](",
        ")",
        "<",
        ">",
        "![",
        "\\",
        "&#27;",
        "&amp;",
        "&#x9b;",
        "<div>",
        "</div>",
        "\t",
        "\u{1b}[2J",
        "\r",
        "\u{9b}",
        "\u{0}",
        "中文",
        "👩\u{200D}💻",
        "e\u{301}",
        "\u{200D}",
        "\u{FE0F}",
        "🇫🇷",
        "|",
        "word",
        "wordy_snake_case",
        "https://x.y/z",
        "a\u{0}b",
        "\u{202E}",
        "ﷺ",
        "ـ",
        "\u{AD}",
    ])
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

    #[test]
    fn any_input_renders_within_width_and_without_controls(
        parts in proptest::collection::vec(fragment(), 0..80),
        width in 1u16..50,
    ) {
        let text: String = parts.concat();
        for lines in [render(&text, width, &THEME), wrap_plain(&text, width, THEME.dim(), "  ")] {
            for line in &lines {
                proptest::prop_assert!(line.width() <= usize::from(width), "{text:?} at {width}: {line:?}");
                let content = text_of(line);
                proptest::prop_assert!(!content.chars().any(char::is_control), "{text:?}: {content:?}");
            }
        }
    }

    #[test]
    fn any_characters_render_within_width(
        chars in proptest::collection::vec(proptest::arbitrary::any::<char>(), 0..200),
        width in 1u16..30,
    ) {
        let text: String = chars.into_iter().collect();
        for line in render(&text, width, &THEME) {
            proptest::prop_assert!(line.width() <= usize::from(width), "{text:?} at {width}: {line:?}");
        }
    }
}

#[test]
fn pathological_inputs_stay_linear() {
    let started = std::time::Instant::now();
    for text in [
        "*a ".repeat(20_000),
        "[".repeat(50_000),
        "> ".repeat(5_000) + "deep",
        "- ".repeat(5_000) + "deep",
        "`".repeat(30_000),
        "**_".repeat(20_000),
        "a\n".repeat(50_000),
        "[a](".repeat(20_000),
    ] {
        for line in render(&text, 40, &THEME) {
            assert!(line.width() <= 40);
        }
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
