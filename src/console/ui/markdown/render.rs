//! Lays out pulldown-cmark's events: blocks open and close containers and
//! leaves, inline events fill the current source line, and every line goes
//! through the wrapper under its containers' prefixes.

use std::ops::Range;

use pulldown_cmark::{Event, LinkType, Tag, TagEnd};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::containers::{self, Container, prefixes};
use super::runs::{Runs, clean};
use super::wrap::{Mode, Seg, fit_prefix, sanitize, wrap};
use crate::console::ui::theme::Theme;

const RULE: &str = "─";
const CODE_INDENT: &str = "  ";

/// What text between inline events goes into.
enum Leaf {
    None,
    /// Paragraph, heading, or the text of a tight list item.
    Inline(Inline),
    /// Fenced or indented code, or an HTML block: shown literally, line by line.
    Literal {
        text: String,
        style: Style,
        mode: Mode,
        indent: &'static str,
    },
}

struct Inline {
    base: Style,
    /// The source line being collected.
    runs: Runs,
    /// How many containers the current source line belongs to: a lazy
    /// continuation line (`> a` then `b`) loses the prefixes it did not type.
    depth: usize,
    /// A heading shows as a line even when empty.
    always: bool,
    lines: usize,
    after_break: bool,
    /// Tight list items have no paragraph events; their text ends with the item.
    implicit: bool,
    /// Source offset after the last inline event.
    end: usize,
}

pub(super) struct Renderer<'s> {
    src: &'s str,
    width: usize,
    theme: Theme,
    out: Vec<Line<'static>>,
    /// A blank line is only emitted once more content follows, which collapses
    /// runs of blanks and drops leading and trailing ones.
    blank_pending: bool,
    /// Source offset up to which every line has been shown or accounted for.
    covered: usize,
    containers: Vec<Container<'s>>,
    /// Scratch for the prefixes of the line being emitted, reused line to line.
    first: Vec<Seg<'s>>,
    cont: Vec<Seg<'s>>,
    /// For each open list, whether it is numbered.
    lists: Vec<bool>,
    leaf: Leaf,
    bold: u32,
    italic: u32,
    /// What closes each open link or image: its markup is shown, as the old
    /// renderer showed it, around the text the parser reports in between.
    links: Vec<String>,
}

impl<'s> Renderer<'s> {
    pub(super) fn new(src: &'s str, width: usize, theme: Theme) -> Self {
        Renderer {
            src,
            width,
            theme,
            out: Vec::new(),
            blank_pending: false,
            covered: 0,
            containers: Vec::new(),
            first: Vec::new(),
            cont: Vec::new(),
            lists: Vec::new(),
            leaf: Leaf::None,
            bold: 0,
            italic: 0,
            links: Vec::new(),
        }
    }

    pub(super) fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(tag) => self.start(tag, range),
            Event::End(tag) => self.end(tag, range),
            Event::Text(text) | Event::Html(text) => self.text(&clean(&text), range),
            Event::Code(code) => {
                self.inline_event(&range);
                let style = self.emphasis(self.inline_base().patch(self.theme.code()));
                self.push(&clean(&code), style);
            }
            Event::InlineHtml(html) => {
                self.inline_event(&range);
                let style = self.emphasis(self.inline_base());
                self.push(&clean(&html).replace('\n', " "), style);
            }
            Event::SoftBreak | Event::HardBreak => {
                self.inline_event(&range);
                self.break_line();
            }
            Event::Rule => {
                self.block_start(range.start);
                self.rule();
                self.covered = self.covered.max(range.end);
            }
            // Extensions are off; anything else is shown as it was typed.
            _ => {
                let typed = self.typed(range.clone());
                self.text(typed, range);
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>, range: Range<usize>) {
        match tag {
            Tag::Paragraph => {
                self.block_start(range.start);
                self.open_inline(self.theme.text(), false, false);
            }
            Tag::Heading { .. } => {
                self.block_start(range.start);
                self.open_inline(self.theme.heading(), true, false);
            }
            Tag::CodeBlock(_) => {
                self.block_start(range.start);
                self.leaf = Leaf::Literal {
                    text: String::new(),
                    style: self.theme.code(),
                    mode: Mode::Hard,
                    indent: CODE_INDENT,
                };
            }
            Tag::HtmlBlock => {
                self.block_start(range.start);
                self.leaf = Leaf::Literal {
                    text: String::new(),
                    style: self.theme.text(),
                    mode: Mode::Words,
                    indent: "",
                };
            }
            Tag::BlockQuote(_) => {
                self.block_start(range.start);
                self.containers.push(Container::Quote);
            }
            Tag::List(first) => {
                self.close_implicit();
                self.lists.push(first.is_some());
            }
            Tag::Item => {
                self.block_start(range.start);
                // The marker's line is shown by the item's first block, not as a gap.
                self.covered = self.covered.max(range.start + 1);
                let numbered = self.lists.last() == Some(&true);
                let marker = containers::marker(self.src, numbered, range.start);
                self.containers.push(Container::item(marker));
            }
            Tag::Emphasis => {
                self.inline_event(&range);
                self.italic += 1;
            }
            Tag::Strong => {
                self.inline_event(&range);
                self.bold += 1;
            }
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => self.open_link("[", link_type, &dest_url, &title, range),
            Tag::Image {
                link_type,
                dest_url,
                title,
                ..
            } => self.open_link("![", link_type, &dest_url, &title, range),
            _ => self.inline_event(&range),
        }
    }

    fn end(&mut self, tag: TagEnd, range: Range<usize>) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::HtmlBlock => {
                self.close_leaf();
                self.covered = self.covered.max(range.end);
            }
            TagEnd::BlockQuote(_) => {
                self.close_implicit();
                self.containers.pop();
            }
            TagEnd::List(_) => {
                self.close_implicit();
                self.lists.pop();
            }
            TagEnd::Item => {
                self.close_implicit();
                if let Some(Container::Item {
                    marker_shown: false,
                    ..
                }) = self.containers.last()
                {
                    // An empty item still shows its marker.
                    self.emit(&[], Mode::Words, self.containers.len(), "");
                }
                self.containers.pop();
            }
            TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
            TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
            TagEnd::Link | TagEnd::Image => {
                if let Some(closing) = self.links.pop() {
                    self.push(&sanitize(&closing), self.emphasis(self.inline_base()));
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str, range: Range<usize>) {
        if let Leaf::Literal { text: literal, .. } = &mut self.leaf {
            literal.push_str(text);
            return;
        }
        self.inline_event(&range);
        let style = self.emphasis(self.inline_base());
        self.push(text, style);
    }

    fn open_link(
        &mut self,
        opening: &str,
        kind: LinkType,
        dest: &str,
        title: &str,
        range: Range<usize>,
    ) {
        self.inline_event(&range);
        let closing = match kind {
            LinkType::Autolink | LinkType::Email => ">".to_string(),
            _ if title.is_empty() => format!("]({dest})"),
            _ => format!("]({dest} \"{title}\")"),
        };
        let opening = if closing == ">" { "<" } else { opening };
        self.push(opening, self.emphasis(self.inline_base()));
        self.links.push(closing.replace('\n', " "));
    }

    /// Bookkeeping before any inline event: a tight item's text opens a
    /// paragraph, and the first line after a break learns which containers it
    /// belongs to.
    fn inline_event(&mut self, range: &Range<usize>) {
        if !matches!(self.leaf, Leaf::Inline(_)) {
            self.block_start(range.start);
            self.open_inline(self.theme.text(), false, true);
        }
        let after_break = match &mut self.leaf {
            Leaf::Inline(inline) => {
                inline.end = inline.end.max(range.end);
                std::mem::take(&mut inline.after_break)
            }
            _ => false,
        };
        if after_break {
            let depth = containers::typed_depth(self.src, &self.containers, range.start);
            if let Leaf::Inline(inline) = &mut self.leaf {
                inline.depth = depth;
            }
        }
    }

    fn inline_base(&self) -> Style {
        match &self.leaf {
            Leaf::Inline(inline) => inline.base,
            _ => self.theme.text(),
        }
    }

    fn emphasis(&self, style: Style) -> Style {
        let style = if self.bold > 0 {
            style.patch(self.theme.bold())
        } else {
            style
        };
        if self.italic > 0 {
            style.patch(self.theme.italic())
        } else {
            style
        }
    }

    fn push(&mut self, text: &str, style: Style) {
        if let Leaf::Inline(inline) = &mut self.leaf {
            inline.runs.push(text, style);
        }
    }

    fn open_inline(&mut self, base: Style, always: bool, implicit: bool) {
        self.leaf = Leaf::Inline(Inline {
            base,
            runs: Runs::default(),
            depth: self.containers.len(),
            always,
            lines: 0,
            after_break: false,
            implicit,
            end: 0,
        });
    }

    fn break_line(&mut self) {
        let Leaf::Inline(inline) = &mut self.leaf else {
            return;
        };
        let mut runs = std::mem::take(&mut inline.runs);
        let depth = inline.depth;
        inline.lines += 1;
        inline.after_break = true;
        self.emit(&runs.segs(), Mode::Words, depth, "");
        runs.clear();
        // Put back so the next line reuses the buffers.
        if let Leaf::Inline(inline) = &mut self.leaf {
            inline.runs = runs;
        }
    }

    fn close_implicit(&mut self) {
        if matches!(&self.leaf, Leaf::Inline(inline) if inline.implicit) {
            self.close_leaf();
        }
    }

    fn close_leaf(&mut self) {
        match std::mem::replace(&mut self.leaf, Leaf::None) {
            Leaf::None => {}
            Leaf::Inline(inline) => {
                if !inline.runs.is_empty() || (inline.always && inline.lines == 0) {
                    self.emit(&inline.runs.segs(), Mode::Words, inline.depth, "");
                }
                if inline.implicit {
                    self.covered = self.covered.max(inline.end);
                }
            }
            Leaf::Literal {
                text,
                style,
                mode,
                indent,
            } => {
                let text = text.strip_suffix('\n').unwrap_or(&text);
                for line in text.split('\n').filter(|_| !text.is_empty()) {
                    let segs = [Seg { text: line, style }];
                    self.emit(&segs, mode, self.containers.len(), indent);
                }
            }
        }
        self.bold = 0;
        self.italic = 0;
        self.links.clear();
    }

    /// Wraps one source line under the prefixes of its first `depth` containers.
    fn emit(&mut self, segs: &[Seg<'_>], mode: Mode, depth: usize, indent: &'static str) {
        self.flush_blank();
        let depth = depth.min(self.containers.len());
        prefixes(
            &self.containers[..depth],
            &self.theme,
            &mut self.first,
            &mut self.cont,
        );
        let indent = Seg {
            text: indent,
            style: self.theme.text(),
        };
        self.first.push(indent);
        self.cont.push(indent);
        wrap(
            &mut self.out,
            segs,
            self.width,
            &self.first,
            &self.cont,
            mode,
        );
        self.mark_markers_shown(depth);
    }

    fn mark_markers_shown(&mut self, depth: usize) {
        for container in self.containers.iter_mut().take(depth) {
            if let Container::Item { marker_shown, .. } = container {
                *marker_shown = true;
            }
        }
    }

    fn rule(&mut self) {
        self.flush_blank();
        let depth = self.containers.len();
        prefixes(
            &self.containers,
            &self.theme,
            &mut self.first,
            &mut self.cont,
        );
        let (first, used) = fit_prefix(&self.first, self.width);
        let mut spans: Vec<Span<'static>> = first
            .iter()
            .map(|seg| Span::styled(seg.text.to_string(), seg.style))
            .collect();
        let rule = RULE.repeat(self.width.saturating_sub(used));
        spans.push(Span::styled(rule, self.theme.dim()));
        self.out.push(Line::from(spans));
        self.mark_markers_shown(depth);
    }

    fn flush_blank(&mut self) {
        if std::mem::take(&mut self.blank_pending) {
            self.out.push(Line::default());
        }
    }

    /// A new block starts at `start`: what the source has between the last
    /// block and this one is shown first.
    fn block_start(&mut self, start: usize) {
        self.close_leaf();
        self.gap(start, false);
    }

    /// The whole lines in `covered..until` that no event reported: blank lines
    /// become one blank line, a line of only `>` an empty quote line, and
    /// anything else (a link reference definition) plain text, as typed.
    fn gap(&mut self, until: usize, to_the_end: bool) {
        let from = self.covered;
        let src = self.src;
        let Some(gap) = src.get(from..until).filter(|g| !g.is_empty()) else {
            return;
        };
        self.covered = until;
        let at_line_start = from == 0 || src.as_bytes().get(from - 1) == Some(&b'\n');
        let pieces = gap.split('\n').count();
        let last = if to_the_end { pieces } else { pieces - 1 };
        for (i, line) in gap.split('\n').enumerate() {
            if (i == 0 && !at_line_start) || i >= last {
                continue;
            }
            let trimmed = line.trim_matches(' ');
            if trimmed.is_empty() {
                self.blank_pending = !self.out.is_empty();
            } else if trimmed.bytes().all(|b| b == b'>' || b == b' ') {
                let bars = containers::quote_bars(trimmed.bytes().filter(|&b| b == b'>').count());
                let prefix = [Seg {
                    text: &bars,
                    style: self.theme.dim(),
                }];
                self.flush_blank();
                wrap(
                    &mut self.out,
                    &[],
                    self.width,
                    &prefix,
                    &prefix,
                    Mode::Words,
                );
            } else {
                let segs = [Seg {
                    text: trimmed,
                    style: self.theme.text(),
                }];
                self.flush_blank();
                wrap(&mut self.out, &segs, self.width, &[], &[], Mode::Words);
            }
        }
    }

    fn typed(&self, range: Range<usize>) -> &'s str {
        self.src.get(range).unwrap_or("")
    }

    pub(super) fn finish(mut self) -> Vec<Line<'static>> {
        self.close_leaf();
        self.gap(self.src.len(), true);
        self.out
    }
}
