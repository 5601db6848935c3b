//! The `:` command line, for what keys do not cover. Parsing only; `update`
//! applies the command.

use crate::model::run::RunStatus;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show each server's connection state and tools.
    Servers,
    /// Only runs in these statuses (empty: all).
    Filter(Vec<RunStatus>),
    /// Read-only on, off, or toggled.
    ReadOnly(Option<bool>),
    /// Write the session (questions, answers, tool calls) to a file.
    Export(Option<String>),
    /// Clear the chat transcript (the inspector keeps its calls).
    Clear,
    /// Refresh the board now.
    Refresh,
    Help,
    Quit,
}

pub const COMMANDS: &[(&str, &str)] = &[
    (":servers", "servers, their state and tools"),
    (
        ":filter failed|running|… |all",
        "show runs in these statuses",
    ),
    (":readonly [on|off]", "refuse every remediation"),
    (":export [FILE]", "write the session to a file"),
    (":clear", "clear the chat"),
    (":refresh", "refresh the board now"),
    (":help", "show the keys"),
    (":q", "quit"),
];

pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.trim().trim_start_matches(':').split_whitespace();
    let Some(name) = words.next() else {
        return Err("type a command, e.g. :filter failed (see :help)".into());
    };
    let rest: Vec<&str> = words.collect();
    let no_arguments = |command: Command| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(format!(":{name} takes no arguments"))
        }
    };
    match name {
        "servers" | "server" => no_arguments(Command::Servers),
        "clear" => no_arguments(Command::Clear),
        "refresh" | "r" => no_arguments(Command::Refresh),
        "help" | "h" => no_arguments(Command::Help),
        "q" | "quit" => no_arguments(Command::Quit),
        "export" => match rest.as_slice() {
            [] => Ok(Command::Export(None)),
            [path] => Ok(Command::Export(Some((*path).to_string()))),
            _ => Err(":export takes one file name (no spaces)".into()),
        },
        "readonly" | "read-only" | "ro" => match rest.as_slice() {
            [] => Ok(Command::ReadOnly(None)),
            ["on"] => Ok(Command::ReadOnly(Some(true))),
            ["off"] => Ok(Command::ReadOnly(Some(false))),
            _ => Err(":readonly takes on or off (or nothing to toggle)".into()),
        },
        "filter" => parse_filter(&rest),
        other => Err(format!(
            "unknown command :{other}; commands: servers, filter, readonly, export, clear, refresh, help, q"
        )),
    }
}

fn parse_filter(words: &[&str]) -> Result<Command, String> {
    let statuses: Vec<&str> = words
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|w| !w.is_empty())
        .collect();
    if statuses.is_empty() || statuses == ["all"] {
        return Ok(Command::Filter(Vec::new()));
    }
    statuses
        .iter()
        .map(|word| match RunStatus::parse(word) {
            RunStatus::Other(raw) => Err(format!(
                "'{raw}' is not a run status; use failed, running, queued, succeeded, cancelled, skipped or all"
            )),
            status => Ok(status),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Command::Filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse(":servers"), Ok(Command::Servers));
        assert_eq!(
            parse("filter failed,running"),
            Ok(Command::Filter(vec![
                RunStatus::Failed,
                RunStatus::InProgress
            ]))
        );
        assert_eq!(parse(":filter all"), Ok(Command::Filter(Vec::new())));
        assert_eq!(parse(":readonly on"), Ok(Command::ReadOnly(Some(true))));
        assert_eq!(parse(":readonly"), Ok(Command::ReadOnly(None)));
        assert_eq!(
            parse(":export /tmp/s.jsonl"),
            Ok(Command::Export(Some("/tmp/s.jsonl".into())))
        );
        assert_eq!(parse(":q"), Ok(Command::Quit));
    }

    #[test]
    fn mistakes_say_what_was_wrong() {
        assert!(
            parse(":filter broken")
                .unwrap_err()
                .contains("'broken' is not a run status")
        );
        assert!(
            parse(":nuke")
                .unwrap_err()
                .contains("unknown command :nuke")
        );
        assert!(
            parse(":clear now")
                .unwrap_err()
                .contains("takes no arguments")
        );
        assert!(parse(":readonly maybe").unwrap_err().contains("on or off"));
        assert!(parse(":").unwrap_err().contains("type a command"));
    }
}
