//! Helpers shared by the bench programs (not a bench itself: Cargo only
//! discovers the files directly under `benches/`).

/// Median, minimum and maximum of a set of timings.
pub fn median(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
    )
}
