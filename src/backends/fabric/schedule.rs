//! An item's job scheduler schedules (`ItemSchedule`, "List item schedules")
//! read leniently and told as one short line for the catalogue, in the words
//! the ADF catalogue uses: "every 15 minutes", "daily at 02:00 (UTC)",
//! "weekly on Mon, Thu at 06:00 (Europe/London)", "disabled".

use serde::Deserialize;
use serde_json::Value;

/// Most schedules told per item; the rest are counted.
pub const MAX_SCHEDULES: usize = 3;
/// Most time slots told per schedule (the service allows 100).
const MAX_TIMES: usize = 6;
/// Longest text kept from one field (a time zone, a weekday, a type).
const MAX_FIELD_CHARS: usize = 64;
/// Longest schedule line.
const MAX_LINE_CHARS: usize = 240;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSchedule {
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A `ScheduleConfig`, told apart by its `type` (more may be added).
    #[serde(default)]
    pub configuration: Value,
}

/// The schedules as one line, several joined by "; ", or `None` if there are none.
pub fn describe(schedules: &[ItemSchedule]) -> Option<String> {
    if schedules.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = schedules
        .iter()
        .take(MAX_SCHEDULES)
        .map(describe_one)
        .collect();
    if schedules.len() > MAX_SCHEDULES {
        parts.push(format!("+{} more", schedules.len() - MAX_SCHEDULES));
    }
    Some(clip(&parts.join("; "), MAX_LINE_CHARS))
}

fn describe_one(schedule: &ItemSchedule) -> String {
    if schedule.enabled == Some(false) {
        return "disabled".into();
    }
    let config = &schedule.configuration;
    let kind = field(config, "type").unwrap_or_else(|| "unknown schedule".into());
    let zone = field(config, "localTimeZoneId")
        .map(|z| format!(" ({z})"))
        .unwrap_or_default();
    let at = times(config);
    match kind.to_ascii_lowercase().as_str() {
        "cron" => match config.get("interval").and_then(Value::as_u64) {
            Some(minutes) if minutes > 0 => every(minutes),
            _ => kind,
        },
        "daily" if !at.is_empty() => format!("daily at {at}{zone}"),
        "weekly" if !at.is_empty() => {
            format!("weekly on {} at {at}{zone}", weekdays(config))
        }
        "monthly" if !at.is_empty() => {
            let recurrence = config.get("recurrence").and_then(Value::as_u64);
            let months = match recurrence {
                Some(n) if n > 1 => format!("every {n} months"),
                _ => "monthly".into(),
            };
            format!("{months}{} at {at}{zone}", occurrence(config))
        }
        _ => kind,
    }
}

/// A cron interval in the largest whole unit.
fn every(minutes: u64) -> String {
    let (n, unit) = if minutes.is_multiple_of(1_440) {
        (minutes / 1_440, "day")
    } else if minutes.is_multiple_of(60) {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    if n == 1 {
        format!("every {unit}")
    } else {
        format!("every {n} {unit}s")
    }
}

/// The time slots, earliest first, bounded.
fn times(config: &Value) -> String {
    let mut slots: Vec<String> = strings(config, "times");
    slots.sort();
    slots.dedup();
    let extra = slots.len().saturating_sub(MAX_TIMES);
    slots.truncate(MAX_TIMES);
    let mut text = slots.join(", ");
    if extra > 0 {
        text.push_str(&format!(" (+{extra} more)"));
    }
    text
}

fn weekdays(config: &Value) -> String {
    let days: Vec<String> = strings(config, "weekdays")
        .into_iter()
        .take(7)
        .map(|d| d.chars().take(3).collect())
        .collect();
    days.join(", ")
}

/// A monthly schedule's day: " on day 2" or " on the First Monday".
fn occurrence(config: &Value) -> String {
    let Some(occurrence) = config.get("occurrence") else {
        return String::new();
    };
    if let Some(day) = occurrence.get("dayOfMonth").and_then(Value::as_u64) {
        return format!(" on day {day}");
    }
    match (field(occurrence, "weekIndex"), field(occurrence, "weekday")) {
        (Some(week), Some(day)) => format!(" on the {week} {day}"),
        _ => String::new(),
    }
}

fn strings(config: &Value, key: &str) -> Vec<String> {
    match config.get(key) {
        Some(Value::Array(values)) => values
            .iter()
            .take(100)
            .filter_map(Value::as_str)
            .map(|s| clip(s, MAX_FIELD_CHARS))
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn field(config: &Value, key: &str) -> Option<String> {
    config
        .get(key)
        .and_then(Value::as_str)
        .map(|s| clip(s, MAX_FIELD_CHARS))
        .filter(|s| !s.is_empty())
}

/// At most `max` characters, control characters dropped, cut with "…".
fn clip(text: &str, max: usize) -> String {
    let clean: Vec<char> = text.chars().filter(|c| !c.is_control()).collect();
    if clean.len() <= max {
        return clean.into_iter().collect();
    }
    let mut cut: String = clean.into_iter().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(enabled: bool, configuration: Value) -> ItemSchedule {
        ItemSchedule {
            enabled: Some(enabled),
            configuration,
        }
    }

    #[test]
    fn each_schedule_type_is_told_in_words() {
        let cases = [
            (json!({"type": "Cron", "interval": 15}), "every 15 minutes"),
            (json!({"type": "Cron", "interval": 120}), "every 2 hours"),
            (json!({"type": "Cron", "interval": 1440}), "every day"),
            (
                json!({"type": "Daily", "times": ["02:00"], "localTimeZoneId": "UTC"}),
                "daily at 02:00 (UTC)",
            ),
            (
                json!({"type": "Weekly", "weekdays": ["Monday", "Thursday"], "times": ["06:00"], "localTimeZoneId": "Europe/London"}),
                "weekly on Mon, Thu at 06:00 (Europe/London)",
            ),
            (
                json!({"type": "Monthly", "recurrence": 3, "occurrence": {"occurrenceType": "DayOfMonth", "dayOfMonth": 2}, "times": ["07:30"], "localTimeZoneId": "UTC"}),
                "every 3 months on day 2 at 07:30 (UTC)",
            ),
            (
                json!({"type": "Monthly", "recurrence": 1, "occurrence": {"occurrenceType": "OrdinalWeekday", "weekIndex": "First", "weekday": "Monday"}, "times": ["07:30"]}),
                "monthly on the First Monday at 07:30",
            ),
            (json!({"type": "Hourly", "minutes": [5]}), "Hourly"),
            (json!({}), "unknown schedule"),
        ];
        for (config, want) in cases {
            assert_eq!(describe(&[schedule(true, config)]).as_deref(), Some(want));
        }
    }

    #[test]
    fn several_schedules_are_joined_bounded_and_disabled_ones_said_so() {
        let cron = json!({"type": "Cron", "interval": 10});
        let list: Vec<ItemSchedule> = (0..5).map(|i| schedule(i != 1, cron.clone())).collect();
        assert_eq!(
            describe(&list).as_deref(),
            Some("every 10 minutes; disabled; every 10 minutes; +2 more")
        );
        assert_eq!(describe(&[]), None);
    }

    #[test]
    fn long_or_hostile_fields_are_clipped() {
        let times: Vec<String> = (0..100)
            .map(|i| format!("{:02}:{:02}", i / 60, i % 60))
            .collect();
        let zone = format!("Zone\u{1b}[31m{}", "x".repeat(10_000));
        let text = describe(&[schedule(
            true,
            json!({"type": "Daily", "times": times, "localTimeZoneId": zone}),
        )])
        .unwrap();
        assert!(text.starts_with("daily at 00:00, 00:01"), "{text}");
        assert!(text.contains("(+94 more)"), "{text}");
        assert!(text.chars().count() <= MAX_LINE_CHARS, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
