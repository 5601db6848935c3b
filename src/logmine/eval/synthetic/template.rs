//! A generated log statement: literal text and value slots. Rendering gives
//! a line and its true template at once, so the truth cannot drift from
//! what was written.

use super::prng::Prng;

/// Draws one value (possibly several tokens) for a slot.
pub type Slot = Box<dyn Fn(&mut Prng) -> String>;

/// The variable part's stand-in in a true template (Loghub 2.0: one per
/// value, even a value spanning tokens).
pub const VARIABLE: &str = "<*>";

enum Piece {
    Text(String),
    Value(Slot),
}

/// One log statement of a generated system.
#[derive(Default)]
pub struct Statement {
    pieces: Vec<Piece>,
    /// Kept at least this common when frequencies are drawn (`VM Started`
    /// and `VM Paused` must each be repeated many times to be told apart
    /// from a variable).
    pub frequent: bool,
}

impl Statement {
    pub fn new() -> Self {
        Statement::default()
    }

    /// Literal text, copied as is (include the spaces).
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.pieces.push(Piece::Text(text.into()));
        self
    }

    /// A variable value.
    pub fn value(mut self, slot: Slot) -> Self {
        self.pieces.push(Piece::Value(slot));
        self
    }

    pub fn frequent(mut self) -> Self {
        self.frequent = true;
        self
    }

    /// One line of this statement and its true template.
    pub fn render(&self, rng: &mut Prng) -> (String, String) {
        let (mut line, mut truth) = (String::new(), String::new());
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => {
                    line.push_str(text);
                    truth.push_str(text);
                }
                Piece::Value(slot) => {
                    line.push_str(&slot(rng));
                    truth.push_str(VARIABLE);
                }
            }
        }
        (line, truth)
    }
}
