//! Locks over plain bookkeeping.

use std::sync::{Mutex, MutexGuard};

/// A std mutex's guard; a panic elsewhere while it was held does not make the
/// data unusable here (every user keeps it consistent between statements).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
