//! The blocks that prefix the lines inside them (quotes, list items): their
//! prefixes, their markers, and which of them a source line actually typed.

use super::wrap::Seg;
use crate::console::ui::theme::Theme;

const BULLET: &str = "•";
/// Wide enough for any list marker (at most 9 digits, the `.` and a space).
const SPACES: &str = "            ";
const QUOTE_BAR: &str = "│ ";

/// A block that prefixes every line inside it.
pub(super) enum Container<'s> {
    Quote,
    Item {
        /// `•`, or the number as typed (`12.`), shown on the item's first line.
        marker: &'s str,
        /// Spaces as wide as the marker, for the lines after it.
        hang: &'static str,
        marker_shown: bool,
    },
}

impl<'s> Container<'s> {
    pub(super) fn item(marker: &'s str) -> Self {
        Container::Item {
            marker,
            hang: SPACES
                .get(..super::wrap::cells(marker) + 1)
                .unwrap_or(SPACES),
            marker_shown: false,
        }
    }
}

/// A line of only `>`s, as the prefix an empty quote line shows.
pub(super) fn quote_bars(depth: usize) -> String {
    QUOTE_BAR.repeat(depth)
}

/// The first-line and continuation prefixes of `containers`, outermost first.
pub(super) fn prefixes<'s>(
    containers: &[Container<'s>],
    theme: &Theme,
    first: &mut Vec<Seg<'s>>,
    cont: &mut Vec<Seg<'s>>,
) {
    first.clear();
    cont.clear();
    for container in containers {
        match container {
            Container::Quote => {
                let bar = Seg {
                    text: QUOTE_BAR,
                    style: theme.dim(),
                };
                first.push(bar);
                cont.push(bar);
            }
            Container::Item {
                marker,
                hang,
                marker_shown,
            } => {
                let hang = Seg {
                    text: hang,
                    style: theme.text(),
                };
                if *marker_shown {
                    first.push(hang);
                } else {
                    let style = theme.accent();
                    first.push(Seg {
                        text: marker,
                        style,
                    });
                    first.push(Seg { text: " ", style });
                }
                cont.push(hang);
            }
        }
    }
}

/// How many of the open containers the source line holding `at` typed
/// the markers of: `>` for a quote, indentation for a list item.
pub(super) fn typed_depth(src: &str, containers: &[Container<'_>], at: usize) -> usize {
    let line_start = src
        .get(..at)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |nl| nl + 1);
    let mut lead = src.get(line_start..at).unwrap_or("");
    for (depth, container) in containers.iter().enumerate() {
        let rest = match container {
            Container::Quote => lead
                .trim_start_matches(' ')
                .strip_prefix('>')
                .map(|r| r.strip_prefix(' ').unwrap_or(r)),
            Container::Item { .. } => lead.strip_prefix(' '),
        };
        match rest {
            Some(rest) => lead = rest,
            None => return depth,
        }
    }
    containers.len()
}

/// The item's marker: `•`, or the number with its `.` or `)` as typed.
pub(super) fn marker(src: &str, numbered: bool, item_start: usize) -> &str {
    if !numbered {
        return BULLET;
    }
    let at = src.get(item_start..).unwrap_or("");
    let digits = at.bytes().take_while(u8::is_ascii_digit).count();
    at.get(..digits + 1)
        // At most 9 digits (CommonMark's limit), so the hang fits `SPACES`.
        .filter(|m| (1..=9).contains(&digits) && (m.ends_with('.') || m.ends_with(')')))
        .unwrap_or(BULLET)
}
