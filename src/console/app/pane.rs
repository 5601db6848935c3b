//! The three panes, in the order the tab bar numbers them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Chat,
    Board,
    Inspector,
}

impl Pane {
    pub const ALL: [Pane; 3] = [Pane::Chat, Pane::Board, Pane::Inspector];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Chat => "Chat",
            Pane::Board => "Runs",
            Pane::Inspector => "Tool calls",
        }
    }

    pub(super) fn next(self) -> Pane {
        match self {
            Pane::Chat => Pane::Board,
            Pane::Board => Pane::Inspector,
            Pane::Inspector => Pane::Chat,
        }
    }

    pub(super) fn previous(self) -> Pane {
        self.next().next()
    }
}
