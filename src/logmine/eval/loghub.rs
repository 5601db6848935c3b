//! Reading labelled samples in the Loghub-2k layout.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Dataset, parse_csv};

/// Largest sample file read (a Loghub-2k file is under 1 MiB; the full
/// Loghub logs are gigabytes and are not what this reader is for).
pub const MAX_SAMPLE_BYTES: u64 = 64 * 1024 * 1024;

/// The labelled samples under `dir`: every `<Sys>/<Sys>_2k.log_structured_corrected.csv`,
/// by system name. Errors when there is none, saying what was expected.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let csv = entry
                .path()
                .join(format!("{name}_2k.log_structured_corrected.csv"));
            csv.is_file().then_some(csv)
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "no dataset under {}: expected <Sys>/<Sys>_2k.log_structured_corrected.csv (the Loghub-2k layout)",
            dir.display()
        ));
    }
    Ok(found)
}

/// Reads one labelled sample.
pub fn load(csv: &Path) -> Result<Dataset, String> {
    let text = read_capped(csv, MAX_SAMPLE_BYTES)?;
    let mut rows = parse_csv(&text).into_iter();
    let header = rows
        .next()
        .ok_or_else(|| format!("{} is empty", csv.display()))?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| format!("{} has no '{name}' column", csv.display()))
    };
    let (id, content, template) = (
        column("LineId")?,
        column("Content")?,
        column("EventTemplate")?,
    );
    // The system's name is its directory's (`my_sys/my_sys_2k…csv`), so a
    // name with `_` in it survives.
    let name = csv
        .parent()
        .and_then(|dir| dir.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_string();
    let mut dataset = Dataset {
        name,
        line_ids: Vec::new(),
        contents: Vec::new(),
        templates: Vec::new(),
    };
    for (number, row) in rows.enumerate() {
        let field = |i: usize| {
            row.get(i)
                .cloned()
                .ok_or_else(|| format!("{} row {}: too few fields", csv.display(), number + 2))
        };
        dataset.line_ids.push(field(id)?);
        dataset.contents.push(field(content)?);
        dataset.templates.push(field(template)?);
    }
    Ok(dataset)
}

/// The same sample as raw log lines: `<Sys>_2k.log` beside `csv`, whole
/// lines (headers included) in place of the `Content` field, with the same
/// truth. `Ok(None)` when there is no such file; an error when it cannot be
/// read or its line count differs from the labelled sample's (then its lines
/// are not the labelled ones). Bytes that are not UTF-8 read as U+FFFD, as a
/// log reader would show them.
pub fn load_raw(csv: &Path, dataset: &Dataset) -> Result<Option<Dataset>, String> {
    let raw = csv.with_file_name(format!("{}_2k.log", dataset.name));
    if !raw.is_file() {
        return Ok(None);
    }
    let bytes = read_bytes_capped(&raw, MAX_SAMPLE_BYTES)?;
    let contents: Vec<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_string)
        .collect();
    if contents.len() != dataset.contents.len() {
        return Err(format!(
            "{} has {} lines, its labelled sample {}: not the same lines",
            raw.display(),
            contents.len(),
            dataset.contents.len()
        ));
    }
    Ok(Some(Dataset {
        contents,
        ..dataset.clone()
    }))
}

/// The file's text, refusing files over `cap` bytes rather than reading
/// them whole.
pub(super) fn read_capped(path: &Path, cap: u64) -> Result<String, String> {
    let bytes = read_bytes_capped(path, cap)?;
    String::from_utf8(bytes).map_err(|e| format!("{} is not UTF-8: {e}", path.display()))
}

/// The file's bytes, refusing files over `cap` bytes rather than reading
/// them whole.
fn read_bytes_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "{} is over {cap} bytes: expected a Loghub-2k sample (2,000 labelled lines), not a full log",
            path.display()
        ));
    }
    Ok(bytes)
}
