//! `opsdeck logs summarize`: log files in, templates out — on its own during
//! an incident, no server and no model needed.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};

use crate::cli::SummarizeArgs;
use crate::logmine::{LogSummarizer, MinerConfig, Summary, SummaryFilter, WILDCARD, split_header};
use crate::model::log::LogLevel;
use crate::model::time::{TIME_FORMS, parse_instant};
use crate::support::exit::ExitError;
use crate::support::redact;
use crate::support::terminal::json_safe;

mod redaction;

/// Characters of an example or value printed before it is cut.
const SHOWN_CHARS: usize = 160;
/// Characters of a template printed before it is cut (at a `<*>`'s edge).
const SHOWN_TEMPLATE_CHARS: usize = 480;
/// Values printed per `<*>`.
const SHOWN_VALUES: usize = 5;

pub fn summarize(args: &SummarizeArgs) -> Result<(), ExitError> {
    let now = Utc::now();
    let filter = SummaryFilter {
        min_level: args.level.as_deref().map(parse_level).transpose()?,
        since: args
            .since
            .as_deref()
            .map(|raw| parse_time("--since", raw, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|raw| parse_time("--until", raw, now))
            .transpose()?,
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ExitError::usage(format!(
            "the window is empty: --since ({since}) is not before --until ({until})"
        )));
    }
    let mut summarizer = LogSummarizer::new(filter.clone(), MinerConfig::default(), now.year());
    let stdin_only = args.files.is_empty();
    if stdin_only {
        feed_stdin(&mut summarizer)?;
    }
    for path in &args.files {
        if path == Path::new("-") {
            feed_stdin(&mut summarizer)?;
            continue;
        }
        let file = File::open(path)
            .map_err(|e| ExitError::failed(format!("cannot open {}: {e}", path.display())))?;
        summarizer
            .feed(BufReader::with_capacity(1 << 16, file))
            .map_err(|e| ExitError::failed(format!("cannot read {}: {e}", path.display())))?;
    }
    let mut summary = summarizer.finish();
    let unchecked = redaction::redact_summary(&mut summary, redaction::CHECK_BUDGET_BYTES);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = if args.json {
        write_json(&mut out, &summary, unchecked)
    } else {
        write_text(&mut out, &summary, &filter, args.top, unchecked)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `| head` closing the pipe is not an error worth reporting.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(ExitError::failed(format!("cannot write the summary: {e}"))),
    }
}

fn feed_stdin(summarizer: &mut LogSummarizer) -> Result<(), ExitError> {
    summarizer
        .feed(io::stdin().lock())
        .map_err(|e| ExitError::failed(format!("cannot read stdin: {e}")))
}

fn parse_level(raw: &str) -> Result<LogLevel, ExitError> {
    LogLevel::parse(raw).ok_or_else(|| {
        ExitError::usage(format!(
            "--level '{raw}' is not a log level: use {}",
            LogLevel::CHOICES
        ))
    })
}

/// A time as logs write it (anything the header reader understands, taken
/// as UTC when it has no zone), RFC 3339, or a duration back from `now`.
fn parse_time(flag: &str, raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ExitError> {
    let text = raw.trim();
    let header = split_header(text, now.year());
    if let Some(ts) = header.timestamp
        && header.message_start == text.len()
    {
        return Ok(ts);
    }
    parse_instant(text, now).map_err(|_| {
        ExitError::usage(format!(
            "{flag} '{raw}' is not a time: use a timestamp such as 2026-11-23 02:00:00 (UTC unless it has a zone), {TIME_FORMS}"
        ))
    })
}

/// The summary as JSON, characters a terminal would act on escaped (the
/// document means the same). Not redacted again here: the summary already
/// is, and redacting the template as plain text would swallow its `<*>`
/// (`password=<*>`) and misalign it with `params`.
fn write_json(out: &mut impl Write, summary: &Summary, unchecked: u64) -> io::Result<()> {
    let mut value = serde_json::to_value(summary).map_err(io::Error::other)?;
    if unchecked > 0
        && let Some(fields) = value.as_object_mut()
    {
        fields.insert("values_hidden_unchecked".into(), unchecked.into());
    }
    let json = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
    writeln!(out, "{}", json_safe(&json))
}

fn write_text(
    out: &mut impl Write,
    summary: &Summary,
    filter: &SummaryFilter,
    top: usize,
    unchecked: u64,
) -> io::Result<()> {
    let c = &summary.counts;
    writeln!(
        out,
        "{} lines, {} events, {} mined into {} templates",
        c.lines,
        c.events,
        c.mined,
        summary.clusters.len()
    )?;
    let range = match (summary.first_seen, summary.last_seen) {
        (Some(first), Some(last)) => format!(", mined events span {}", span(first, last)),
        _ => String::new(),
    };
    writeln!(
        out,
        "{} events with a timestamp, {} with a level{range}",
        c.with_timestamp, c.with_level
    )?;
    let mut left_out = Vec::new();
    if let Some(level) = filter.min_level {
        left_out.push(format!("{} below {}", c.below_level, level.as_str()));
        left_out.push(format!("{} without a level", c.without_level));
    }
    if filter.since.is_some() || filter.until.is_some() {
        left_out.push(format!("{} outside the time window", c.outside_window));
        left_out.push(format!("{} without a timestamp", c.without_timestamp));
    }
    if !left_out.is_empty() {
        writeln!(out, "left out: {}", left_out.join(", "))?;
    }
    if c.long_lines > 0 {
        writeln!(
            out,
            "{} lines were longer than {} KiB and were cut",
            c.long_lines,
            crate::logmine::MAX_READ_LINE_BYTES / 1024
        )?;
    }
    if unchecked > 0 {
        writeln!(
            out,
            "{unchecked} values were hidden without a check for secrets (too many to check in \
             time): narrow the input with --level, --since or --until to see them"
        )?;
    }
    if summary.evicted_templates > 0 {
        writeln!(
            out,
            "{} rare templates were dropped to bound memory (their events are counted above)",
            summary.evicted_templates
        )?;
    }
    let shown = if top == 0 {
        summary.clusters.len()
    } else {
        top.min(summary.clusters.len())
    };
    for (rank, item) in summary.clusters.iter().take(shown).enumerate() {
        let cluster = &item.cluster;
        writeln!(out)?;
        let level = item.level.map(LogLevel::as_str);
        let span = match (cluster.first_seen, cluster.last_seen) {
            (Some(first), Some(last)) => span(first, last),
            _ => "no timestamps".to_string(),
        };
        writeln!(
            out,
            "#{:<3} {}×  {}  {span}",
            rank + 1,
            cluster.count,
            level.unwrap_or("-")
        )?;
        let (template, visible) = template_line(&cluster.template);
        writeln!(out, "     {template}")?;
        for (slot, values) in cluster.params.iter().enumerate().take(visible) {
            if values.is_empty() {
                continue;
            }
            let more = if values.len() > SHOWN_VALUES {
                ", …"
            } else {
                ""
            };
            let shown: Vec<String> = values
                .iter()
                .take(SHOWN_VALUES)
                .map(|v| printable(v))
                .collect();
            writeln!(out, "     <*>{}: {}{more}", slot + 1, shown.join(", "))?;
        }
        let past = cluster.params.len().saturating_sub(visible);
        if past > 0 {
            writeln!(
                out,
                "     (+{past} more <*> past the cut; --json has them all)"
            )?;
        }
        if let Some(example) = cluster.examples.first() {
            let first_line = example.lines().next().unwrap_or_default();
            let rest = example.lines().count().saturating_sub(1);
            let tail = if rest > 0 {
                format!("  (+{rest} more lines)")
            } else {
                String::new()
            };
            writeln!(out, "     e.g. {}{tail}", printable(first_line))?;
        }
    }
    if shown < summary.clusters.len() {
        writeln!(
            out,
            "\n… and {} more templates (--top 0 prints all)",
            summary.clusters.len() - shown
        )?;
    }
    Ok(())
}

/// `2026-11-23 02:03:04 → 02:05:00 UTC` (the date repeated only when it changes).
fn span(first: DateTime<Utc>, last: DateTime<Utc>) -> String {
    format!(
        "{} → {} UTC",
        first.format("%Y-%m-%d %H:%M:%S"),
        if first.date_naive() == last.date_naive() {
            last.format("%H:%M:%S").to_string()
        } else {
            last.format("%Y-%m-%d %H:%M:%S").to_string()
        }
    )
}

/// One line of text safe to print: secrets redacted, control characters (a
/// hostile log's escape sequences) shown as `�`, tabs as spaces, cut to a
/// readable length.
fn printable(text: &str) -> String {
    let text = redact::text(text);
    let mut out: String = text.chars().take(SHOWN_CHARS).map(neutralised).collect();
    if text.chars().nth(SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A template as printed, and how many of its `<*>` that shows. Not
/// redacted again: [`redaction`] redacted its text around the `<*>`, and
/// plain-text redaction would take `password=<*>` for a password and swallow
/// the `<*>`. Control characters are neutralised; a long template is cut
/// before a `<*>` rather than through it.
fn template_line(template: &str) -> (String, usize) {
    let text: String = template.chars().map(neutralised).collect();
    let Some((mut cut, _)) = text.char_indices().nth(SHOWN_TEMPLATE_CHARS) else {
        let slots = text.matches(WILDCARD).count();
        return (text, slots);
    };
    if let Some((at, _)) = text
        .match_indices(WILDCARD)
        .find(|(at, _)| *at < cut && at + WILDCARD.len() > cut)
    {
        cut = at;
    }
    let shown = text.get(..cut).unwrap_or_default();
    (format!("{shown}…"), shown.matches(WILDCARD).count())
}

/// A character as a terminal may be handed it: tabs as spaces, other
/// control characters as `�`.
fn neutralised(c: char) -> char {
    match c {
        '\t' => ' ',
        c if c.is_control() => char::REPLACEMENT_CHARACTER,
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_read_as_logs_write_them() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single();
        let Some(now) = now else { return };
        let at = |raw: &str| parse_time("--since", raw, now).map_err(|e| e.message);
        assert_eq!(
            at("2026-11-23 02:00:00"),
            Ok(Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap())
        );
        assert_eq!(
            at("2026-11-23T03:00:00+01:00"),
            Ok(Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap())
        );
        assert_eq!(
            at("6h"),
            Ok(Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap())
        );
        let bad = at("yesterday-ish").unwrap_err();
        assert!(
            bad.contains("--since 'yesterday-ish' is not a time"),
            "{bad}"
        );
        assert!(at("2026-11-23 02:00:00 trailing").is_err());
    }

    #[test]
    fn hostile_text_cannot_drive_the_terminal() {
        assert_eq!(printable("ok\x1b[2Jgone\tx"), "ok�[2Jgone x");
        let long = "é".repeat(SHOWN_CHARS + 5);
        let shown = printable(&long);
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    /// A long template is cut before a `<*>`, never through one, and says
    /// how many `<*>` it shows (the value lines printed under it).
    #[test]
    fn a_long_template_is_cut_at_a_slot_edge() {
        let short = "user=<*> password=<*>\tok\x1b";
        assert_eq!(
            template_line(short),
            ("user=<*> password=<*> ok�".to_string(), 2)
        );
        // The cut falls on the `*` of the second `<*>`.
        let head = "a".repeat(SHOWN_TEMPLATE_CHARS - 5);
        let long = format!("{head}<*>x<*>{}<*>", "b".repeat(50));
        let (line, visible) = template_line(&long);
        assert_eq!(line, format!("{head}<*>x…"));
        assert_eq!(visible, 1);
        // `password=<*>` is shown as is: it was redacted around its `<*>`.
        assert_eq!(template_line("password=<*>").0, "password=<*>");
    }

    #[test]
    fn secrets_in_log_lines_are_not_printed() {
        let line = "GET https://admin:hunter2hunter2@db.internal/ Authorization: Bearer abcdefghijklmnop1234";
        let shown = printable(line);
        assert!(!shown.contains("hunter2hunter2"), "{shown}");
        assert!(!shown.contains("abcdefghijklmnop1234"), "{shown}");
        assert!(shown.contains("[redacted"), "{shown}");
    }
}
