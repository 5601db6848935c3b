//! The console's `:` line (`:filter failed`, `:export`, …), for what keys do
//! not cover. Parsing only; `update` applies what it says. Named for its colon
//! so it is not mistaken for `cli::Command` (opsdeck's subcommands) or the
//! `commands` layer that runs them.

use crate::model::run::RunStatus;

#[derive(Debug, Clone, PartialEq)]
pub enum ColonCommand {
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
    /// Start a new conversation: the model forgets the earlier turns.
    New,
    /// Refresh the board now.
    Refresh,
    Help,
    Quit,
}

pub const COLON_COMMANDS: &[(&str, &str)] = &[
    (":servers", "servers, their state and tools"),
    (
        ":filter failed|running|… |all",
        "show runs in these statuses",
    ),
    (":readonly [on|off]", "refuse every remediation"),
    (":export [FILE]", "write the session to a file"),
    (":clear", "clear the chat"),
    (
        ":new",
        "new conversation (the model forgets the earlier ones)",
    ),
    (":refresh", "refresh the board now"),
    (":help", "show the keys"),
    (":q", "quit"),
];

pub fn parse(line: &str) -> Result<ColonCommand, String> {
    let mut words = line.trim().trim_start_matches(':').split_whitespace();
    let Some(name) = words.next() else {
        return Err("type a command, e.g. :filter failed (see :help)".into());
    };
    let rest: Vec<&str> = words.collect();
    let no_arguments = |command: ColonCommand| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(format!(":{name} takes no arguments"))
        }
    };
    match name {
        "servers" | "server" => no_arguments(ColonCommand::Servers),
        "clear" => no_arguments(ColonCommand::Clear),
        "new" => no_arguments(ColonCommand::New),
        "refresh" | "r" => no_arguments(ColonCommand::Refresh),
        "help" | "h" => no_arguments(ColonCommand::Help),
        "q" | "quit" => no_arguments(ColonCommand::Quit),
        "export" => match rest.as_slice() {
            [] => Ok(ColonCommand::Export(None)),
            [path] => Ok(ColonCommand::Export(Some((*path).to_string()))),
            _ => Err(":export takes one file name (no spaces)".into()),
        },
        "readonly" | "read-only" | "ro" => match rest.as_slice() {
            [] => Ok(ColonCommand::ReadOnly(None)),
            ["on"] => Ok(ColonCommand::ReadOnly(Some(true))),
            ["off"] => Ok(ColonCommand::ReadOnly(Some(false))),
            _ => Err(":readonly takes on or off (or nothing to toggle)".into()),
        },
        "filter" => parse_filter(&rest),
        other => Err(format!(
            "unknown command :{other}; commands: servers, filter, readonly, export, clear, new, refresh, help, q"
        )),
    }
}

fn parse_filter(words: &[&str]) -> Result<ColonCommand, String> {
    let statuses: Vec<&str> = words
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|w| !w.is_empty())
        .collect();
    if statuses.is_empty() || statuses == ["all"] {
        return Ok(ColonCommand::Filter(Vec::new()));
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
        .map(ColonCommand::Filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse(":servers"), Ok(ColonCommand::Servers));
        assert_eq!(
            parse("filter failed,running"),
            Ok(ColonCommand::Filter(vec![
                RunStatus::Failed,
                RunStatus::InProgress
            ]))
        );
        assert_eq!(parse(":filter all"), Ok(ColonCommand::Filter(Vec::new())));
        assert_eq!(
            parse(":readonly on"),
            Ok(ColonCommand::ReadOnly(Some(true)))
        );
        assert_eq!(parse(":readonly"), Ok(ColonCommand::ReadOnly(None)));
        assert_eq!(
            parse(":export /tmp/s.jsonl"),
            Ok(ColonCommand::Export(Some("/tmp/s.jsonl".into())))
        );
        assert_eq!(parse(":q"), Ok(ColonCommand::Quit));
        assert_eq!(parse(":new"), Ok(ColonCommand::New));
        assert!(parse(":new please").is_err());
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
