//! The log file's size and privacy. tracing-appender rotates daily and keeps
//! 14 files, but has no size cap: a server flooding notifications wrote 100 MB
//! in 25 s. [`CappedFile`] stops a process at [`MAX_BYTES_PER_FILE`] in one
//! day's file, with one final line saying so. The appender creates its files
//! with the default mode, so [`make_private`] narrows the directory (when it is
//! ours) and every opsdeck log file in it to the owner.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What one process writes to one day's log file at most.
pub(crate) const MAX_BYTES_PER_FILE: u64 = 32 << 20;
/// The prefix of every log file opsdeck writes (`opsdeck-<process>.<date>.log`).
pub(crate) const FILE_PREFIX: &str = "opsdeck-";

/// The UTC day, as the appender's daily rotation counts them.
fn utc_day(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs() / 86_400)
        .unwrap_or(0)
}

/// A writer that passes whole lines on until `cap` bytes in the current UTC
/// day, then writes one note and drops the rest of that day's lines.
pub(crate) struct CappedFile<W> {
    inner: W,
    cap: u64,
    written: u64,
    day: u64,
    capped: bool,
    clock: fn() -> SystemTime,
    /// Runs after the first line of a new day: the appender has just opened its file.
    on_new_file: Box<dyn FnMut() + Send>,
}

impl<W: Write> CappedFile<W> {
    pub fn new(inner: W, cap: u64, on_new_file: Box<dyn FnMut() + Send>) -> CappedFile<W> {
        CappedFile::with_clock(inner, cap, SystemTime::now, on_new_file)
    }

    pub(crate) fn with_clock(
        inner: W,
        cap: u64,
        clock: fn() -> SystemTime,
        on_new_file: Box<dyn FnMut() + Send>,
    ) -> CappedFile<W> {
        CappedFile {
            inner,
            cap,
            written: 0,
            day: utc_day(clock()),
            capped: false,
            clock,
            on_new_file,
        }
    }

    fn note(&self) -> String {
        format!(
            "{}  WARN opsdeck::logging: this process wrote {} MiB to today's log file, the most it may; its further lines today are dropped\n",
            chrono::DateTime::<chrono::Utc>::from((self.clock)())
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.cap >> 20
        )
    }
}

impl<W: Write> Write for CappedFile<W> {
    // The non-blocking worker hands over one formatted event per call.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let day = utc_day((self.clock)());
        let new_day = day != self.day;
        if new_day {
            self.day = day;
            self.written = 0;
            self.capped = false;
        }
        if self.capped {
            return Ok(buf.len());
        }
        let size = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        if self.written.saturating_add(size) > self.cap {
            self.capped = true;
            self.inner.write_all(self.note().as_bytes())?;
        } else {
            self.inner.write_all(buf)?;
            self.written = self.written.saturating_add(size);
        }
        if new_day {
            (self.on_new_file)();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// This process's effective user id (Linux: from /proc); `None` where unknown.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Logs may quote what a server said: the directory is narrowed to 0700 when
/// this user owns it (a directory someone else owns is left alone), and every
/// opsdeck log file in it this user owns to 0600.
pub(crate) fn make_private(dir: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(me) = effective_uid() else {
        return;
    };
    let narrow = |path: &Path, mode: u32| match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.uid() == me && meta.mode() & 0o077 != 0 => {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
        }
        _ => {}
    };
    if let Ok(meta) = std::fs::metadata(dir)
        && meta.is_dir()
        && meta.uid() == me
        && meta.mode() & 0o077 != 0
    {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && entry.file_name().to_string_lossy().starts_with(FILE_PREFIX) {
            narrow(&entry.path(), 0o600);
        }
    }
}

/// A callback for [`CappedFile`] that makes a new day's file private.
pub(crate) fn privatise_new_files(dir: PathBuf) -> Box<dyn FnMut() + Send> {
    Box::new(move || make_private(&dir))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    static SECONDS: AtomicU64 = AtomicU64::new(1_800_000_000);

    fn test_clock() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(SECONDS.load(Ordering::SeqCst))
    }

    #[test]
    fn lines_past_the_cap_are_dropped_after_one_note_until_the_next_day() {
        let sink = Sink::default();
        let new_files = Arc::new(AtomicU64::new(0));
        let counter = new_files.clone();
        let mut file = CappedFile::with_clock(
            sink.clone(),
            1_000,
            test_clock,
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        let line = [b'a'; 99];
        for _ in 0..100 {
            assert_eq!(file.write(&line).unwrap(), 99, "every line is taken");
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text.matches(&"a".repeat(99)).count(),
            10,
            "10 lines fit in 1000 bytes"
        );
        assert_eq!(
            text.matches("its further lines today are dropped").count(),
            1
        );
        assert!(text.len() < 1_200, "{}", text.len());
        assert_eq!(new_files.load(Ordering::SeqCst), 0);
        // The next UTC day is a new file, with a new allowance.
        SECONDS.fetch_add(86_400, Ordering::SeqCst);
        file.write_all(b"tomorrow\n").unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("tomorrow\n"), "{text}");
        assert_eq!(new_files.load(Ordering::SeqCst), 1);
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_existing_log_directory_and_its_files_are_narrowed_to_the_owner() {
        let dir = std::env::temp_dir().join(format!(
            "opsdeck-logs-private-{}-{:?}",
            std::process::id(),
            SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let old = dir.join("opsdeck-ask.2026-01-01.log");
        let other = dir.join("notes.txt");
        for file in [&old, &other] {
            std::fs::write(file, "x").unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        make_private(&dir);
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&old), 0o600);
        assert_eq!(
            mode_of(&other),
            0o644,
            "files that are not opsdeck's logs are left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
