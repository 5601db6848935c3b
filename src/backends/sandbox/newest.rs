//! The newest `limit` log lines of a stream, kept in memory bounded by `limit`
//! however many lines go by — so a wide window costs time, never memory.

use chrono::{DateTime, Utc};

use crate::model::log::LogLine;

/// Keeps the newest `limit` lines pushed into it, ordered as
/// [`LogQuery::newest`](crate::backends::LogQuery::newest) orders them
/// (time, then message). Holds at most `2 × limit` lines at any moment.
pub struct NewestLines {
    limit: usize,
    lines: Vec<LogLine>,
}

impl NewestLines {
    pub fn new(limit: usize) -> NewestLines {
        NewestLines {
            limit: limit.max(1),
            lines: Vec::new(),
        }
    }

    pub fn push(&mut self, line: LogLine) {
        self.lines.push(line);
        // Compacting only when twice full keeps pushes amortised O(log n).
        if self.lines.len() >= self.limit.saturating_mul(2) {
            self.compact();
        }
    }

    /// Once `limit` lines are kept, the time of the oldest of them: a line
    /// older than this can no longer make the cut. `None` while not full.
    pub fn cutoff(&mut self) -> Option<DateTime<Utc>> {
        if self.lines.len() < self.limit {
            return None;
        }
        self.compact();
        self.lines.last().map(|l| l.timestamp)
    }

    /// The kept lines, oldest first.
    pub fn into_oldest_first(mut self) -> Vec<LogLine> {
        self.compact();
        self.lines.reverse();
        self.lines
    }

    /// Newest first, then only the first `limit`.
    fn compact(&mut self) {
        self.lines.sort_by(|a, b| {
            b.timestamp
                .cmp(&a.timestamp)
                .then_with(|| b.message.cmp(&a.message))
        });
        self.lines.truncate(self.limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::log::LogLevel;
    use chrono::Duration;

    fn line(minute: i64, message: &str) -> LogLine {
        LogLine {
            timestamp: DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minute),
            level: LogLevel::Info,
            source: "app/test".into(),
            pipeline: None,
            run_id: None,
            activity: None,
            message: message.into(),
        }
    }

    #[test]
    fn keeps_the_newest_oldest_first_whatever_the_push_order() {
        let mut newest = NewestLines::new(3);
        for minute in [5, 1, 9, 3, 7, 2, 8] {
            newest.push(line(minute, "m"));
        }
        let kept: Vec<i64> = newest
            .into_oldest_first()
            .iter()
            .map(|l| l.timestamp.timestamp() / 60)
            .collect();
        assert_eq!(kept, vec![7, 8, 9]);
    }

    #[test]
    fn never_holds_more_than_twice_the_limit() {
        let mut newest = NewestLines::new(10);
        for minute in 0..10_000 {
            newest.push(line(minute, "m"));
            assert!(newest.lines.len() < 20);
        }
    }

    #[test]
    fn cutoff_is_the_oldest_kept_line_once_full() {
        let mut newest = NewestLines::new(2);
        newest.push(line(4, "a"));
        assert_eq!(newest.cutoff(), None);
        newest.push(line(6, "b"));
        newest.push(line(5, "c"));
        assert_eq!(newest.cutoff(), Some(line(5, "").timestamp));
    }

    #[test]
    fn ties_in_time_are_ordered_by_message_as_log_query_does() {
        let mut newest = NewestLines::new(2);
        for message in ["b", "c", "a"] {
            newest.push(line(1, message));
        }
        let kept: Vec<String> = newest
            .into_oldest_first()
            .into_iter()
            .map(|l| l.message)
            .collect();
        assert_eq!(kept, vec!["b", "c"]);
    }
}
