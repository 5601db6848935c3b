//! The CSV both ends of the evaluation speak: the Loghub-2k samples in,
//! `LineId,Template` assignments out.

use super::Dataset;

/// `LineId,Template` rows, quoted where needed, for another evaluator.
pub fn assignments_csv(dataset: &Dataset, templates: &[String]) -> String {
    let mut out = String::from("LineId,Template\n");
    for (id, template) in dataset.line_ids.iter().zip(templates) {
        out.push_str(&csv_field(id));
        out.push(',');
        out.push_str(&csv_field(template));
        out.push('\n');
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Minimal RFC 4180 reader: quoted fields may hold commas, newlines and
/// doubled quotes. Returns rows of fields.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}
