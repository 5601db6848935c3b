//! Grouping physical lines into log events.
//!
//! A Java/Python/Spark stack trace is one event with the line that logged
//! it; mined line by line, each frame would become a template of its own and
//! drown the real messages. The assembler is a small streaming state machine:
//! `push` returns the *previous* event once a line arrives that clearly
//! starts a new one.

/// Events longer than this keep their beginning only (memory bound against
/// endless indented output).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct EventAssembler {
    current: String,
    /// Inside a Python traceback the exception line (`ValueError: x`) is not
    /// indented but still belongs to the event.
    in_python_traceback: bool,
}

impl EventAssembler {
    pub fn new() -> Self {
        EventAssembler::default()
    }

    /// Feeds one physical line (a trailing `\n` / `\r\n` is ignored). Returns
    /// the previous event when this line starts a new one. Blank lines are
    /// skipped (they also separate chained Python exceptions).
    pub fn push(&mut self, line: &str) -> Option<String> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return None;
        }
        if !self.current.is_empty() && self.continues(line) {
            self.append(line);
            return None;
        }
        let done = self.finish();
        self.start(line);
        done
    }

    /// Returns the event in progress, if any, and resets.
    pub fn finish(&mut self) -> Option<String> {
        self.in_python_traceback = false;
        if self.current.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.current))
        }
    }

    /// Splits a whole text into events.
    pub fn events(text: &str) -> Vec<String> {
        let mut asm = EventAssembler::new();
        let mut out: Vec<String> = text.split('\n').filter_map(|l| asm.push(l)).collect();
        out.extend(asm.finish());
        out
    }

    fn start(&mut self, line: &str) {
        self.current.clear();
        self.append(line);
        self.in_python_traceback = is_python_traceback_start(line);
    }

    fn append(&mut self, line: &str) {
        if self.current.len() + line.len() + 1 > MAX_EVENT_BYTES {
            return;
        }
        if !self.current.is_empty() {
            self.current.push('\n');
        }
        self.current.push_str(line);
    }

    /// Does `line` belong to the event in progress? Updates traceback state.
    fn continues(&mut self, line: &str) -> bool {
        if line.starts_with([' ', '\t']) {
            // Frames (`\tat ...`, `  File "x", line 3`), `\t... 5 more`,
            // source lines, wrapped/pretty-printed continuation output.
            return true;
        }
        if is_python_traceback_start(line) {
            self.in_python_traceback = true;
            return true;
        }
        if self.in_python_traceback {
            // The unindented line ending a traceback is the exception itself.
            self.in_python_traceback = false;
            return true;
        }
        line.starts_with("Caused by:")
            || line.starts_with("Suppressed:")
            || line.starts_with("During handling of the above exception")
            || line.starts_with("The above exception was the direct cause")
            || (line.starts_with("at ") && line.trim_end().ends_with(')'))
            || (line.starts_with("...") && line.trim_end().ends_with(" more"))
            || is_java_exception_header(line)
    }
}

fn is_python_traceback_start(line: &str) -> bool {
    line.starts_with("Traceback (most recent call last)")
}

/// `java.lang.IllegalStateException: boom`, `org.x.FooError`: a fully
/// qualified throwable class name opening the line. Log4j prints these on
/// the line after the message that logged them.
fn is_java_exception_header(line: &str) -> bool {
    let name = line.split([':', ' ']).next().unwrap_or("");
    let mut segments = name.split('.');
    let qualified = name.contains('.');
    qualified
        && segments.all(|s| {
            !s.is_empty()
                && s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
        && (name.ends_with("Exception") || name.ends_with("Error") || name.ends_with("Throwable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_stack_trace_joins_the_logged_message() {
        let text = "2024-05-01 12:00:00 ERROR Job failed for partition 7\n\
java.lang.IllegalStateException: boom\n\
\tat com.acme.Job.run(Job.java:42)\n\
\tat java.base/java.lang.Thread.run(Thread.java:833)\n\
Caused by: java.io.IOException: disk full\n\
\tat com.acme.Io.write(Io.java:7)\n\
\t... 3 more\n\
2024-05-01 12:00:01 INFO next message";
        let events = EventAssembler::events(text);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert!(events[0].starts_with("2024-05-01 12:00:00 ERROR Job failed"));
        assert!(events[0].ends_with("\t... 3 more"));
        assert_eq!(events[1], "2024-05-01 12:00:01 INFO next message");
    }

    #[test]
    fn python_traceback_including_exception_line_is_one_event() {
        let text = [
            "ERROR:root:task crashed",
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 12, in <module>",
            "    run()",
            "ValueError: bad value 3",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 14, in <module>",
            "RuntimeError: wrapped",
            "INFO:root:recovered",
            "",
        ]
        .join("\r\n");
        let events = EventAssembler::events(&text);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert!(events[0].starts_with("ERROR:root:task crashed\nTraceback"));
        assert!(events[0].ends_with("RuntimeError: wrapped"));
        assert!(!events[0].contains('\r'));
        assert_eq!(events[1], "INFO:root:recovered");
    }

    #[test]
    fn spark_style_exception_starting_a_log_is_its_own_event() {
        let text = "Exception in thread \"main\" org.apache.spark.SparkException: Job aborted\n\
\tat org.apache.spark.scheduler.DAGScheduler.fail(DAGScheduler.scala:1)\n\
INFO done";
        let events = EventAssembler::events(text);
        assert_eq!(events.len(), 2);
        assert!(events[0].contains("DAGScheduler.scala"));
    }

    #[test]
    fn blank_lines_are_ignored_and_plain_lines_stay_apart() {
        let events = EventAssembler::events("a one\n\n\nb two\r\nc three\n");
        assert_eq!(events, ["a one", "b two", "c three"]);
        assert!(EventAssembler::events("\n\r\n  \n").is_empty());
    }

    #[test]
    fn huge_continuations_are_bounded() {
        let mut asm = EventAssembler::new();
        assert!(asm.push("start").is_none());
        let frame = format!("\tat {}", "x".repeat(1000));
        for _ in 0..10_000 {
            assert!(asm.push(&frame).is_none());
        }
        let ev = asm.finish().unwrap_or_default();
        assert!(ev.len() <= MAX_EVENT_BYTES);
        assert!(ev.starts_with("start\n"));
    }
}
