//! When schedule triggers fire, as ADF computes it from a trigger's recurrence.

use chrono::{DateTime, TimeZone, Utc};

use crate::backends::adf_definitions::Recurrence;

/// Fire times of `recurrence` in `[from, to]`, oldest first.
///
/// Intervals are aligned to the Unix epoch, which matches ADF for the sandbox's
/// triggers (their `startTime` is midnight UTC).
pub fn fire_times(
    recurrence: &Recurrence,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let Some(period) = recurrence.period_seconds().filter(|p| *p > 0) else {
        return Vec::new();
    };
    let unit_minutes = matches!(recurrence.frequency.to_ascii_lowercase().as_str(), "minute");
    // Offsets within one period at which the trigger fires.
    let offsets: Vec<i64> = if unit_minutes {
        vec![0]
    } else {
        let hours: Vec<i64> = if recurrence.hours.is_empty() || period < 86_400 {
            vec![0]
        } else {
            recurrence.hours.iter().map(|h| *h as i64 * 3_600).collect()
        };
        let minutes: Vec<i64> = if recurrence.minutes.is_empty() {
            vec![0]
        } else {
            recurrence.minutes.iter().map(|m| *m as i64 * 60).collect()
        };
        let mut all: Vec<i64> = hours
            .iter()
            .flat_map(|h| minutes.iter().map(move |m| h + m))
            .collect();
        all.sort_unstable();
        all
    };
    let first_period = (from.timestamp() - period).div_euclid(period);
    let last_period = to.timestamp().div_euclid(period);
    let mut out = Vec::new();
    for n in first_period..=last_period {
        for offset in &offsets {
            let secs = n * period + offset;
            if let Some(t) = Utc.timestamp_opt(secs, 0).single()
                && t >= from
                && t <= to
            {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn rec(frequency: &str, interval: u64, minutes: Vec<u64>) -> Recurrence {
        Recurrence {
            frequency: frequency.into(),
            interval,
            start_time: None,
            minutes,
            hours: vec![],
        }
    }

    #[test]
    fn every_fifteen_minutes_on_the_quarter_hours() {
        let times = fire_times(
            &rec("Minute", 15, vec![]),
            t("2026-11-23T02:00:00Z"),
            t("2026-11-23T03:00:00Z"),
        );
        let shown: Vec<_> = times
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        assert_eq!(shown, vec!["02:00", "02:15", "02:30", "02:45", "03:00"]);
    }

    #[test]
    fn hourly_at_listed_minutes() {
        let times = fire_times(
            &rec("Hour", 1, vec![5]),
            t("2026-11-23T00:00:00Z"),
            t("2026-11-23T03:00:00Z"),
        );
        let shown: Vec<_> = times
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        assert_eq!(shown, vec!["00:05", "01:05", "02:05"]);
    }

    #[test]
    fn every_two_hours_fires_on_even_hours() {
        let times = fire_times(
            &rec("Hour", 2, vec![35]),
            t("2026-11-23T00:00:00Z"),
            t("2026-11-23T06:00:00Z"),
        );
        let shown: Vec<_> = times
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        assert_eq!(shown, vec!["00:35", "02:35", "04:35"]);
    }
}
