//! Keys as data: each binding is (keys, action, description), per pane. The help
//! overlay and the status-line hints read this same table, and a user's
//! `config.toml` overrides only the bindings it names.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    /// The chat while typing a question.
    Chat,
    /// The chat while reading it (Esc from the input): vim keys scroll.
    Transcript,
    Board,
    Inspector,
    /// The run-details overlay.
    Details,
    /// The approval dialog.
    Dialog,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::Global,
        Scope::Chat,
        Scope::Transcript,
        Scope::Board,
        Scope::Inspector,
        Scope::Details,
        Scope::Dialog,
    ];

    /// The `[keys.NAME]` table in `config.toml`, and the heading in the help overlay.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Chat => "chat",
            Scope::Transcript => "transcript",
            Scope::Board => "board",
            Scope::Inspector => "inspector",
            Scope::Details => "details",
            Scope::Dialog => "dialog",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What a key can do. One variant per action, not per key chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    CommandLine,
    NextPane,
    PreviousPane,
    ZoomPane,
    Cancel,
    Send,
    Newline,
    HistoryPrevious,
    HistoryNext,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Filter,
    Open,
    Sort,
    NextFailed,
    PreviousFailed,
    Triage,
    ToggleFold,
    Copy,
    Approve,
    /// Approve, and allow this (untrusted server's) tool for the rest of the session.
    AllowForSession,
    Refuse,
    /// Back to typing in the chat input.
    Type,
    /// The inspector's calls that touched the run.
    ShowCalls,
    FindNext,
    /// Focus a pane directly, as the tab bar numbers them (1 Chat, 2 Runs, 3 Tool calls).
    FocusChat,
    FocusBoard,
    FocusInspector,
    /// Start a new conversation: the model no longer sees the earlier turns.
    NewConversation,
}

impl Action {
    /// Moves focus to a pane (the tab bar already shows these keys).
    pub fn is_focus(self) -> bool {
        matches!(
            self,
            Action::FocusChat | Action::FocusBoard | Action::FocusInspector
        )
    }

    /// The name used in `config.toml` (`[keys.board] triage = "t"`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::CommandLine => "command_line",
            Action::NextPane => "next_pane",
            Action::PreviousPane => "previous_pane",
            Action::ZoomPane => "zoom_pane",
            Action::Cancel => "cancel",
            Action::Send => "send",
            Action::Newline => "newline",
            Action::HistoryPrevious => "history_previous",
            Action::HistoryNext => "history_next",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Filter => "filter",
            Action::Open => "open",
            Action::Sort => "sort",
            Action::NextFailed => "next_failed",
            Action::PreviousFailed => "previous_failed",
            Action::Triage => "triage",
            Action::ToggleFold => "toggle_fold",
            Action::Copy => "copy",
            Action::Approve => "approve",
            Action::AllowForSession => "allow_for_session",
            Action::Refuse => "refuse",
            Action::Type => "type",
            Action::ShowCalls => "show_calls",
            Action::FindNext => "find_next",
            Action::FocusChat => "focus_chat",
            Action::FocusBoard => "focus_board",
            Action::FocusInspector => "focus_inspector",
            Action::NewConversation => "new_conversation",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        ALL_ACTIONS.iter().copied().find(|a| a.name() == name)
    }
}

const ALL_ACTIONS: &[Action] = &[
    Action::Quit,
    Action::Help,
    Action::CommandLine,
    Action::NextPane,
    Action::PreviousPane,
    Action::ZoomPane,
    Action::Cancel,
    Action::Send,
    Action::Newline,
    Action::HistoryPrevious,
    Action::HistoryNext,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
    Action::Filter,
    Action::Open,
    Action::Sort,
    Action::NextFailed,
    Action::PreviousFailed,
    Action::Triage,
    Action::ToggleFold,
    Action::Copy,
    Action::Approve,
    Action::AllowForSession,
    Action::Refuse,
    Action::Type,
    Action::ShowCalls,
    Action::FindNext,
    Action::FocusChat,
    Action::FocusBoard,
    Action::FocusInspector,
    Action::NewConversation,
];

/// A key with its modifiers, comparable with what the terminal reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    /// Parses `j`, `G`, `ctrl-c`, `alt-enter`, `shift-tab`, `pageup`, `esc`, `f1`, `?`, `space`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix, flag) = if lower.starts_with("ctrl-") {
                ("ctrl-", KeyModifiers::CONTROL)
            } else if lower.starts_with("alt-") {
                ("alt-", KeyModifiers::ALT)
            } else if lower.starts_with("shift-") {
                ("shift-", KeyModifiers::SHIFT)
            } else {
                break;
            };
            modifiers |= flag;
            rest = &rest[prefix.len()..];
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                let n: u8 = f[1..]
                    .parse()
                    .map_err(|_| format!("'{text}' is not a key"))?;
                if !(1..=12).contains(&n) {
                    return Err(format!(
                        "'{text}' is not a key: function keys go from f1 to f12"
                    ));
                }
                KeyCode::F(n)
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => {
                        return Err(format!(
                            "'{text}' is not a key; use e.g. j, G, ctrl-c, alt-enter, pageup, esc, f1"
                        ));
                    }
                }
            }
        };
        Ok(Key { code, modifiers })
    }

    /// Whether a terminal event is this key. Terminals disagree about SHIFT on
    /// upper-case letters and symbols, so it is ignored for characters.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let ignore = match event.code {
            KeyCode::Char(_) => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        self.code == event.code && (self.modifiers - ignore) == (event.modifiers - ignore)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One row of the keymap.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub scope: Scope,
    pub keys: Vec<Key>,
    pub action: Action,
    pub description: &'static str,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

/// (scope, keys, action, description): the defaults, vim/k9s habits.
const DEFAULTS: &[(Scope, &[&str], Action, &str)] = &[
    (Scope::Global, &["ctrl-c"], Action::Quit, "quit"),
    (Scope::Global, &["?", "f1"], Action::Help, "show the keys"),
    (Scope::Global, &["tab"], Action::NextPane, "next pane"),
    (
        Scope::Global,
        &["shift-tab"],
        Action::PreviousPane,
        "previous pane",
    ),
    (
        Scope::Global,
        &["ctrl-z", "f11"],
        Action::ZoomPane,
        "zoom the pane",
    ),
    (Scope::Global, &["esc"], Action::Cancel, "cancel / close"),
    (
        Scope::Global,
        &["ctrl-n"],
        Action::NewConversation,
        "new conversation (same as :new)",
    ),
    (Scope::Chat, &["enter"], Action::Send, "send"),
    (
        Scope::Chat,
        &["alt-enter", "ctrl-j"],
        Action::Newline,
        "new line",
    ),
    (
        Scope::Chat,
        &["up"],
        Action::HistoryPrevious,
        "previous question",
    ),
    (Scope::Chat, &["down"], Action::HistoryNext, "next question"),
    (Scope::Chat, &["pageup"], Action::PageUp, "scroll up"),
    (Scope::Chat, &["pagedown"], Action::PageDown, "scroll down"),
    (Scope::Transcript, &["q"], Action::Quit, "quit"),
    (Scope::Transcript, &[":"], Action::CommandLine, "command"),
    (
        Scope::Transcript,
        &["i", "enter"],
        Action::Type,
        "type a question",
    ),
    (Scope::Transcript, &["k", "up"], Action::Up, "scroll up"),
    (
        Scope::Transcript,
        &["j", "down"],
        Action::Down,
        "scroll down",
    ),
    (
        Scope::Transcript,
        &["pageup", "ctrl-b"],
        Action::PageUp,
        "page up",
    ),
    (
        Scope::Transcript,
        &["pagedown", "ctrl-f"],
        Action::PageDown,
        "page down",
    ),
    (Scope::Transcript, &["g", "home"], Action::Top, "oldest"),
    (
        Scope::Transcript,
        &["G", "end"],
        Action::Bottom,
        "newest (follow)",
    ),
    (Scope::Board, &["q"], Action::Quit, "quit"),
    (
        Scope::Board,
        &["c"],
        Action::ShowCalls,
        "tool calls that touched the run",
    ),
    (Scope::Board, &[":"], Action::CommandLine, "command"),
    (Scope::Board, &["k", "up"], Action::Up, "up"),
    (Scope::Board, &["j", "down"], Action::Down, "down"),
    (Scope::Board, &["g", "home"], Action::Top, "top"),
    (Scope::Board, &["G", "end"], Action::Bottom, "bottom"),
    (Scope::Board, &["pageup"], Action::PageUp, "page up"),
    (Scope::Board, &["pagedown"], Action::PageDown, "page down"),
    (Scope::Board, &["/"], Action::Filter, "filter"),
    (Scope::Board, &["s"], Action::Sort, "sort"),
    (Scope::Board, &["n"], Action::NextFailed, "next failed run"),
    (
        Scope::Board,
        &["N"],
        Action::PreviousFailed,
        "previous failed run",
    ),
    (Scope::Board, &["enter"], Action::Open, "run details"),
    (
        Scope::Board,
        &["t"],
        Action::Triage,
        "ask to triage the run",
    ),
    (Scope::Inspector, &["q"], Action::Quit, "quit"),
    (Scope::Inspector, &[":"], Action::CommandLine, "command"),
    (Scope::Inspector, &["k", "up"], Action::Up, "up"),
    (Scope::Inspector, &["j", "down"], Action::Down, "down"),
    (Scope::Inspector, &["g", "home"], Action::Top, "top"),
    (Scope::Inspector, &["G", "end"], Action::Bottom, "bottom"),
    (Scope::Inspector, &["pageup"], Action::PageUp, "page up"),
    (
        Scope::Inspector,
        &["pagedown"],
        Action::PageDown,
        "page down",
    ),
    (Scope::Inspector, &["/"], Action::Filter, "search"),
    (Scope::Inspector, &["n"], Action::FindNext, "next match"),
    (Scope::Inspector, &["enter"], Action::Open, "open the call"),
    (
        Scope::Inspector,
        &["space"],
        Action::ToggleFold,
        "fold / unfold",
    ),
    (
        Scope::Inspector,
        &["y"],
        Action::Copy,
        "copy (file and clipboard)",
    ),
    (Scope::Details, &["k", "up"], Action::Up, "scroll up"),
    (Scope::Details, &["j", "down"], Action::Down, "scroll down"),
    (
        Scope::Details,
        &["t"],
        Action::Triage,
        "ask to triage the run",
    ),
    (
        Scope::Details,
        &["c"],
        Action::ShowCalls,
        "tool calls that touched it",
    ),
    (Scope::Details, &["q", "enter"], Action::Cancel, "close"),
    (
        Scope::Dialog,
        &["y"],
        Action::Approve,
        "approve this one call",
    ),
    (
        Scope::Dialog,
        &["a"],
        Action::AllowForSession,
        "allow this tool for the session (untrusted servers' tools only)",
    ),
    (Scope::Dialog, &["n", "esc"], Action::Refuse, "refuse it"),
    (Scope::Dialog, &["j", "down"], Action::Down, "scroll down"),
    (Scope::Dialog, &["k", "up"], Action::Up, "scroll up"),
    (Scope::Dialog, &["pagedown"], Action::PageDown, "page down"),
    (Scope::Dialog, &["pageup"], Action::PageUp, "page up"),
    // The panes by the tab bar's numbers. Digits are text while typing a
    // question, so there Alt-1/2/3 do it; everywhere else the plain digit does.
    (
        Scope::Global,
        &["alt-1"],
        Action::FocusChat,
        "focus the chat",
    ),
    (
        Scope::Global,
        &["alt-2"],
        Action::FocusBoard,
        "focus the runs",
    ),
    (
        Scope::Global,
        &["alt-3"],
        Action::FocusInspector,
        "focus the tool calls",
    ),
    (
        Scope::Transcript,
        &["1"],
        Action::FocusChat,
        "focus the chat",
    ),
    (
        Scope::Transcript,
        &["2"],
        Action::FocusBoard,
        "focus the runs",
    ),
    (
        Scope::Transcript,
        &["3"],
        Action::FocusInspector,
        "focus the tool calls",
    ),
    (Scope::Board, &["1"], Action::FocusChat, "focus the chat"),
    (Scope::Board, &["2"], Action::FocusBoard, "focus the runs"),
    (
        Scope::Board,
        &["3"],
        Action::FocusInspector,
        "focus the tool calls",
    ),
    (
        Scope::Inspector,
        &["1"],
        Action::FocusChat,
        "focus the chat",
    ),
    (
        Scope::Inspector,
        &["2"],
        Action::FocusBoard,
        "focus the runs",
    ),
    (
        Scope::Inspector,
        &["3"],
        Action::FocusInspector,
        "focus the tool calls",
    ),
];

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .map(|(scope, keys, action, description)| Binding {
                scope: *scope,
                keys: keys.iter().filter_map(|k| Key::parse(k).ok()).collect(),
                action: *action,
                description,
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The action for a key in a pane: the pane's own bindings first, then global ones.
    pub fn action(&self, scope: Scope, event: &KeyEvent) -> Option<Action> {
        [scope, Scope::Global].iter().find_map(|s| {
            self.bindings
                .iter()
                .find(|b| b.scope == *s && b.keys.iter().any(|k| k.matches(event)))
                .map(|b| b.action)
        })
    }

    /// Rows for the help overlay and the status hints of a pane.
    pub fn bindings(&self, scope: Scope) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| b.scope == scope)
    }

    /// Replaces the keys of the bindings a user names (`action = "keys"`, comma-separated
    /// for several), leaving every other binding as it was. Errors name the bad entry.
    pub fn override_with(
        &mut self,
        scope: Scope,
        overrides: &[(String, String)],
    ) -> Result<(), String> {
        for (action_name, keys) in overrides {
            let action = Action::from_name(action_name).ok_or_else(|| {
                let names: Vec<&str> = ALL_ACTIONS.iter().map(|a| a.name()).collect();
                format!(
                    "'{action_name}' is not an action; actions: {}",
                    names.join(", ")
                )
            })?;
            let parsed: Vec<Key> = keys.split(',').map(Key::parse).collect::<Result<_, _>>()?;
            match self
                .bindings
                .iter_mut()
                .find(|b| b.scope == scope && b.action == action)
            {
                Some(binding) => binding.keys = parsed,
                None => self.bindings.push(Binding {
                    scope,
                    keys: parsed,
                    action,
                    description: action.name(),
                }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_parse_with_modifiers_and_names() {
        assert_eq!(
            Key::parse("ctrl-c").unwrap(),
            Key {
                code: KeyCode::Char('c'),
                modifiers: KeyModifiers::CONTROL
            }
        );
        assert_eq!(Key::parse("shift-tab").unwrap().code, KeyCode::BackTab);
        assert_eq!(Key::parse("PageUp").unwrap().code, KeyCode::PageUp);
        assert_eq!(Key::parse("f12").unwrap().code, KeyCode::F(12));
        assert!(Key::parse("f13").unwrap_err().contains("f1 to f12"));
        assert!(Key::parse("banana").unwrap_err().contains("not a key"));
    }

    #[test]
    fn pane_bindings_come_before_global_ones() {
        let keymap = Keymap::default();
        let j = press(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(keymap.action(Scope::Board, &j), Some(Action::Down));
        assert_eq!(
            keymap.action(Scope::Chat, &j),
            None,
            "typing j in the chat is text"
        );
        let esc = press(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(keymap.action(Scope::Chat, &esc), Some(Action::Cancel));
    }

    #[test]
    fn digits_focus_panes_except_where_they_are_text() {
        let keymap = Keymap::default();
        let two = press(KeyCode::Char('2'), KeyModifiers::NONE);
        for scope in [Scope::Transcript, Scope::Board, Scope::Inspector] {
            assert_eq!(
                keymap.action(scope, &two),
                Some(Action::FocusBoard),
                "{scope:?}"
            );
        }
        assert_eq!(
            keymap.action(Scope::Chat, &two),
            None,
            "a digit typed is text"
        );
        let alt_three = press(KeyCode::Char('3'), KeyModifiers::ALT);
        assert_eq!(
            keymap.action(Scope::Chat, &alt_three),
            Some(Action::FocusInspector)
        );
        assert_eq!(
            keymap.action(Scope::Dialog, &two),
            None,
            "the dialog answers only its own keys"
        );
    }

    #[test]
    fn shift_is_forgiven_on_characters() {
        let keymap = Keymap::default();
        let upper_g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action(Scope::Board, &upper_g), Some(Action::Bottom));
        let question = press(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action(Scope::Board, &question), Some(Action::Help));
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let mut keymap = Keymap::default();
        keymap
            .override_with(Scope::Board, &[("triage".into(), "T,ctrl-t".into())])
            .unwrap();
        assert_eq!(
            keymap.action(
                Scope::Board,
                &press(KeyCode::Char('T'), KeyModifiers::SHIFT)
            ),
            Some(Action::Triage)
        );
        assert_eq!(
            keymap.action(
                Scope::Board,
                &press(KeyCode::Char('t'), KeyModifiers::CONTROL)
            ),
            Some(Action::Triage)
        );
        assert_eq!(
            keymap.action(Scope::Board, &press(KeyCode::Char('t'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            keymap.action(Scope::Board, &press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        let err = keymap
            .override_with(Scope::Board, &[("explode".into(), "x".into())])
            .unwrap_err();
        assert!(
            err.contains("'explode' is not an action") && err.contains("triage"),
            "{err}"
        );
    }

    #[test]
    fn every_default_key_parses_and_help_rows_exist_for_each_pane() {
        for (_, keys, _, _) in DEFAULTS {
            for key in *keys {
                assert!(Key::parse(key).is_ok(), "{key}");
            }
        }
        let keymap = Keymap::default();
        for scope in [Scope::Global, Scope::Chat, Scope::Board, Scope::Inspector] {
            assert!(keymap.bindings(scope).count() >= 5, "{scope:?}");
        }
        assert_eq!(Key::parse("ctrl-c").unwrap().to_string(), "ctrl-c");
    }
}
