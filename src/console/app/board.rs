//! The run board's state: the runs last fetched, how they are sorted and
//! filtered, the selection, whether the data is stale, and which runs turned
//! Failed since the previous refresh (for the bell and desktop notification),
//! and the runs opsdeck started, pinned on top until they are let go.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::model::run::{PipelineRun, RunStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Newest start first (queued runs, with no start yet, on top).
    #[default]
    Start,
    /// Failed first, then running, then the rest; newest first within each.
    Status,
    Pipeline,
    /// Longest first.
    Duration,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Start => SortBy::Status,
            SortBy::Status => SortBy::Pipeline,
            SortBy::Pipeline => SortBy::Duration,
            SortBy::Duration => SortBy::Start,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortBy::Start => "start",
            SortBy::Status => "status",
            SortBy::Pipeline => "pipeline",
            SortBy::Duration => "duration",
        }
    }
}

/// How many recent statuses the trend column shows per pipeline.
pub const TREND_LEN: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct BoardState {
    runs: Vec<PipelineRun>,
    sort: SortBy,
    /// Only these statuses (empty: all).
    status_filter: Vec<RunStatus>,
    /// Only pipelines whose name contains this (case-insensitive).
    name_filter: String,
    /// Indices into `runs` after filtering, in display order. Recomputed only when
    /// the runs, the sort or a filter change, so drawing 10,000 runs stays cheap.
    order: Vec<usize>,
    /// Recent statuses per pipeline, oldest first (computed with `order`).
    trends: HashMap<String, Vec<RunStatus>>,
    /// Index into the visible runs.
    pub selected: usize,
    pub last_refresh: Option<DateTime<Utc>>,
    /// Why the last refresh failed; the runs shown are from the one before.
    pub stale_reason: Option<String>,
    previous_status: HashMap<String, RunStatus>,
    /// The environments the runs come from (`prod`, `dev`…), sorted.
    environments: Vec<String>,
    /// Runs opsdeck started and follows, newest pin first, as last seen by the
    /// follower or the refresh: shown on top whatever the sort and filters, and
    /// kept when a refresh no longer lists them.
    pinned: Vec<PipelineRun>,
}

impl BoardState {
    /// Takes a fresh list of runs; returns the runs that turned Failed since the last
    /// refresh (not those already failed when the board first saw them).
    pub fn replace_runs(&mut self, runs: Vec<PipelineRun>, at: DateTime<Utc>) -> Vec<PipelineRun> {
        let first_load = self.last_refresh.is_none();
        let selected_id = self.selected_run().map(|r| r.run_id.clone());
        let mut runs = runs;
        self.merge_pinned(&mut runs);
        let newly_failed: Vec<PipelineRun> = if first_load {
            Vec::new()
        } else {
            runs.iter()
                .filter(|r| {
                    r.status == RunStatus::Failed
                        && self.previous_status.get(&r.run_id) != Some(&RunStatus::Failed)
                })
                .cloned()
                .collect()
        };
        self.previous_status = runs
            .iter()
            .map(|r| (r.run_id.clone(), r.status.clone()))
            .collect();
        let mut environments: Vec<String> = runs.iter().map(|r| r.environment.clone()).collect();
        environments.sort();
        environments.dedup();
        self.environments = environments;
        self.runs = runs;
        self.last_refresh = Some(at);
        self.stale_reason = None;
        self.trends = trends_of(&self.runs);
        self.order.clear();
        self.reorder_keeping(selected_id);
        newly_failed
    }

    /// Pins a run (or takes its newer state): it shows on top from now on.
    pub fn pin(&mut self, run: PipelineRun) {
        match self.pinned.iter().position(|p| p.run_id == run.run_id) {
            Some(index) => self.pinned[index] = run.clone(),
            None => self.pinned.insert(0, run.clone()),
        }
        self.previous_status
            .insert(run.run_id.clone(), run.status.clone());
        match self.runs.iter().position(|r| r.run_id == run.run_id) {
            Some(index) => self.runs[index] = run,
            None => self.runs.push(run),
        }
        self.trends = trends_of(&self.runs);
        self.reorder();
    }

    /// Lets a pinned run go back among the others (or off the board, when
    /// the refresh no longer lists it).
    pub fn unpin(&mut self, run_id: &str) {
        self.pinned.retain(|p| p.run_id != run_id);
        self.reorder();
    }

    pub fn is_pinned(&self, run_id: &str) -> bool {
        self.pinned.iter().any(|p| p.run_id == run_id)
    }

    pub fn pinned_len(&self) -> usize {
        self.pinned.len()
    }

    /// A refresh and the follower both see pinned runs; the one that saw the
    /// run end wins, else the refresh (it is the newer look). A pinned run the
    /// refresh does not list (older than its window, another server's) stays.
    fn merge_pinned(&mut self, runs: &mut Vec<PipelineRun>) {
        for pinned in &mut self.pinned {
            match runs.iter_mut().find(|r| r.run_id == pinned.run_id) {
                Some(listed) if pinned.status.is_terminal() && !listed.status.is_terminal() => {
                    *listed = pinned.clone();
                }
                Some(listed) => *pinned = listed.clone(),
                None => runs.push(pinned.clone()),
            }
        }
    }

    /// A refresh failed: keep the data, mark it stale.
    pub fn refresh_failed(&mut self, reason: String) {
        self.stale_reason = Some(reason);
    }

    pub fn sort(&self) -> SortBy {
        self.sort
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.reorder();
    }

    pub fn status_filter(&self) -> &[RunStatus] {
        &self.status_filter
    }

    pub fn set_status_filter(&mut self, statuses: Vec<RunStatus>) {
        self.status_filter = statuses;
        self.reorder();
    }

    pub fn name_filter(&self) -> &str {
        &self.name_filter
    }

    pub fn set_name_filter(&mut self, needle: &str) {
        self.name_filter = needle.to_string();
        self.reorder();
    }

    /// The environments of the runs held, so nobody mistakes dev for prod.
    pub fn environments(&self) -> &[String] {
        &self.environments
    }

    /// All runs the board holds (filtered or not).
    pub fn total(&self) -> usize {
        self.runs.len()
    }

    /// Recomputes the display order, keeping the selection on the same run when it is still shown.
    fn reorder(&mut self) {
        let selected_id = self.selected_run().map(|r| r.run_id.clone());
        self.reorder_keeping(selected_id);
    }

    fn reorder_keeping(&mut self, selected_id: Option<String>) {
        let needle = self.name_filter.to_lowercase();
        let runs = &self.runs;
        let pinned_ids: std::collections::HashSet<&str> =
            self.pinned.iter().map(|p| p.run_id.as_str()).collect();
        let mut order: Vec<usize> = (0..runs.len())
            .filter(|&i| !pinned_ids.contains(runs[i].run_id.as_str()))
            .filter(|&i| {
                self.status_filter.is_empty() || self.status_filter.contains(&runs[i].status)
            })
            .filter(|&i| needle.is_empty() || runs[i].pipeline.to_lowercase().contains(&needle))
            .collect();
        let newest = |a: &PipelineRun, b: &PipelineRun| match (a.run_start, b.run_start) {
            (None, None) => a.run_id.cmp(&b.run_id),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.run_id.cmp(&b.run_id)),
        };
        match self.sort {
            SortBy::Start => order.sort_by(|&a, &b| newest(&runs[a], &runs[b])),
            SortBy::Status => order.sort_by(|&a, &b| {
                status_rank(&runs[a].status)
                    .cmp(&status_rank(&runs[b].status))
                    .then_with(|| newest(&runs[a], &runs[b]))
            }),
            SortBy::Pipeline => order.sort_by(|&a, &b| {
                runs[a]
                    .pipeline
                    .cmp(&runs[b].pipeline)
                    .then_with(|| newest(&runs[a], &runs[b]))
            }),
            SortBy::Duration => order.sort_by(|&a, &b| {
                runs[b]
                    .duration_ms
                    .cmp(&runs[a].duration_ms)
                    .then_with(|| newest(&runs[a], &runs[b]))
            }),
        }
        // Pinned runs first, in pin order, whatever the sort and the filters.
        let mut pinned_order: Vec<usize> = self
            .pinned
            .iter()
            .filter_map(|p| runs.iter().position(|r| r.run_id == p.run_id))
            .collect();
        pinned_order.extend(order);
        self.order = pinned_order;
        self.selected = selected_id
            .and_then(|id| self.visible().position(|r| r.run_id == id))
            .unwrap_or_else(|| self.selected.min(self.order.len().saturating_sub(1)));
    }

    /// The runs after filtering, in display order.
    pub fn visible(&self) -> impl ExactSizeIterator<Item = &PipelineRun> + '_ {
        self.order.iter().map(|&i| &self.runs[i])
    }

    pub fn visible_len(&self) -> usize {
        self.order.len()
    }

    pub fn selected_run(&self) -> Option<&PipelineRun> {
        self.order.get(self.selected).map(|&i| &self.runs[i])
    }

    pub fn move_selection(&mut self, delta: isize) {
        let len = self.order.len();
        if len == 0 {
            self.selected = 0;
            return;
        }
        let target = self.selected as isize + delta;
        self.selected = target.clamp(0, len as isize - 1) as usize;
    }

    pub fn select_first(&mut self) {
        self.selected = 0;
    }

    pub fn select_last(&mut self) {
        self.selected = self.order.len().saturating_sub(1);
    }

    /// Selects a run by id when it is shown; false otherwise.
    pub fn select_run(&mut self, run_id: &str) -> bool {
        let found = self.visible().position(|r| r.run_id == run_id);
        if let Some(index) = found {
            self.selected = index;
        }
        found.is_some()
    }

    /// Jumps to the next (or previous) failed run, wrapping around; stays put when none failed.
    pub fn jump_to_failed(&mut self, forward: bool) {
        let len = self.order.len();
        if len == 0 {
            return;
        }
        let found = (1..=len).find_map(|step| {
            // step ≤ len, so `selected + len - step` never underflows.
            let index = if forward {
                (self.selected + step) % len
            } else {
                (self.selected + len - step) % len
            };
            (self.runs[self.order[index]].status == RunStatus::Failed).then_some(index)
        });
        if let Some(index) = found {
            self.selected = index;
        }
    }

    /// The recent statuses of a pipeline, oldest first, for the trend column.
    pub fn trend(&self, pipeline: &str) -> &[RunStatus] {
        self.trends.get(pipeline).map_or(&[], Vec::as_slice)
    }
}

fn trends_of(runs: &[PipelineRun]) -> HashMap<String, Vec<RunStatus>> {
    let mut by_pipeline: HashMap<&str, Vec<&PipelineRun>> = HashMap::new();
    for run in runs {
        by_pipeline.entry(&run.pipeline).or_default().push(run);
    }
    by_pipeline
        .into_iter()
        .map(|(pipeline, mut runs)| {
            runs.sort_by_key(|r| r.run_start);
            let start = runs.len().saturating_sub(TREND_LEN);
            let statuses = runs[start..].iter().map(|r| r.status.clone()).collect();
            (pipeline.to_string(), statuses)
        })
        .collect()
}

fn status_rank(status: &RunStatus) -> u8 {
    match status {
        RunStatus::Failed => 0,
        RunStatus::InProgress | RunStatus::Canceling => 1,
        RunStatus::Queued => 2,
        RunStatus::Cancelled => 3,
        RunStatus::Succeeded | RunStatus::Skipped => 4,
        RunStatus::Other(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::run::{BackendKind, InvokedBy};
    use chrono::Duration;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minutes)
    }

    fn run(
        id: &str,
        pipeline: &str,
        status: RunStatus,
        start: Option<i64>,
        duration: Option<i64>,
    ) -> PipelineRun {
        PipelineRun {
            run_id: id.into(),
            pipeline: pipeline.into(),
            backend: BackendKind::Sandbox,
            environment: "prod".into(),
            status,
            run_start: start.map(t),
            run_end: None,
            duration_ms: duration,
            invoked_by: InvokedBy {
                name: "tr".into(),
                kind: "ScheduleTrigger".into(),
                parent_run_id: None,
                parent_pipeline: None,
            },
            message: String::new(),
            parameters: Default::default(),
            rerun_of: None,
        }
    }

    fn board() -> BoardState {
        let mut b = BoardState::default();
        b.replace_runs(
            vec![
                run("a", "ingest", RunStatus::Succeeded, Some(0), Some(60_000)),
                run("b", "transform", RunStatus::Failed, Some(10), Some(5_000)),
                run("c", "ingest", RunStatus::InProgress, Some(20), None),
                run("d", "publish", RunStatus::Queued, None, None),
                run("e", "transform", RunStatus::Failed, Some(5), Some(4_000)),
            ],
            t(30),
        );
        b
    }

    fn ids(b: &BoardState) -> Vec<&str> {
        b.visible().map(|r| r.run_id.as_str()).collect()
    }

    #[test]
    fn newest_first_with_queued_runs_on_top() {
        assert_eq!(ids(&board()), vec!["d", "c", "b", "e", "a"]);
    }

    #[test]
    fn sorting_by_status_puts_failures_first() {
        let mut b = board();
        b.cycle_sort();
        assert_eq!(b.sort(), SortBy::Status);
        assert_eq!(ids(&b), vec!["b", "e", "c", "d", "a"]);
        b.cycle_sort();
        assert_eq!(b.sort(), SortBy::Pipeline);
        assert_eq!(ids(&b)[0], "c", "ingest first, newest first within it");
    }

    #[test]
    fn filters_by_status_and_name() {
        let mut b = board();
        b.set_status_filter(vec![RunStatus::Failed]);
        assert_eq!(ids(&b), vec!["b", "e"]);
        b.set_status_filter(Vec::new());
        b.set_name_filter("INGEST");
        assert_eq!(ids(&b), vec!["c", "a"]);
    }

    #[test]
    fn jumping_between_failed_runs_wraps_around() {
        let mut b = board();
        b.select_first();
        b.jump_to_failed(true);
        assert_eq!(b.selected_run().unwrap().run_id, "b");
        b.jump_to_failed(true);
        assert_eq!(b.selected_run().unwrap().run_id, "e");
        b.jump_to_failed(true);
        assert_eq!(b.selected_run().unwrap().run_id, "b", "wrapped");
        b.jump_to_failed(false);
        assert_eq!(b.selected_run().unwrap().run_id, "e");
    }

    #[test]
    fn only_runs_that_turn_failed_while_watching_are_reported() {
        let mut b = board();
        let changed = b.replace_runs(
            vec![
                run("b", "transform", RunStatus::Failed, Some(10), Some(5_000)),
                run("c", "ingest", RunStatus::Failed, Some(20), Some(9_000)),
            ],
            t(31),
        );
        let names: Vec<&str> = changed.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(names, vec!["c"], "b was already failed");
        assert!(
            BoardState::default()
                .replace_runs(vec![run("x", "p", RunStatus::Failed, Some(1), None)], t(1))
                .is_empty(),
            "first load raises nothing"
        );
    }

    #[test]
    fn a_pinned_run_stays_on_top_through_sorts_filters_and_refreshes() {
        let mut b = board();
        b.pin(run("mine", "zeta", RunStatus::InProgress, Some(1), None));
        assert_eq!(ids(&b)[0], "mine");
        b.cycle_sort();
        b.set_status_filter(vec![RunStatus::Failed]);
        b.set_name_filter("ingest");
        assert_eq!(ids(&b)[0], "mine", "filters do not hide a pinned run");
        b.set_status_filter(vec![]);
        b.set_name_filter("");
        // A refresh that no longer lists it keeps it; one that lists it as
        // still running does not undo the end the follower saw.
        b.pin(run(
            "mine",
            "zeta",
            RunStatus::Failed,
            Some(1),
            Some(60_000),
        ));
        let changed = b.replace_runs(
            vec![run("mine", "zeta", RunStatus::InProgress, Some(1), None)],
            t(40),
        );
        assert!(changed.is_empty(), "the follower saw it fail first");
        assert_eq!(b.visible().next().unwrap().status, RunStatus::Failed);
        b.replace_runs(
            vec![run("a", "ingest", RunStatus::Succeeded, Some(2), None)],
            t(41),
        );
        assert_eq!(ids(&b), vec!["mine", "a"]);
        b.unpin("mine");
        assert!(!b.is_pinned("mine"));
        b.replace_runs(
            vec![run("a", "ingest", RunStatus::Succeeded, Some(2), None)],
            t(42),
        );
        assert_eq!(ids(&b), vec!["a"], "let go, it leaves with the refresh");
    }

    #[test]
    fn the_selection_follows_its_run_across_refreshes_and_stale_keeps_data() {
        let mut b = board();
        b.move_selection(2);
        assert_eq!(b.selected_run().unwrap().run_id, "b");
        let mut runs: Vec<PipelineRun> = b.visible().cloned().collect();
        runs.push(run("z", "new", RunStatus::Queued, None, None));
        b.replace_runs(runs, t(32));
        assert_eq!(b.selected_run().unwrap().run_id, "b");
        b.refresh_failed("connection refused".into());
        assert_eq!(b.visible().len(), 6);
        assert_eq!(b.stale_reason.as_deref(), Some("connection refused"));
        b.move_selection(100);
        assert_eq!(b.selected, 5, "clamped");
    }

    #[test]
    fn trend_lists_a_pipelines_recent_statuses_oldest_first() {
        let b = board();
        assert_eq!(b.trend("transform"), [RunStatus::Failed, RunStatus::Failed]);
        assert_eq!(
            b.trend("ingest"),
            [RunStatus::Succeeded, RunStatus::InProgress]
        );
        assert!(b.trend("unknown").is_empty());
        let many: Vec<PipelineRun> = (0..20)
            .map(|i| run(&format!("r{i}"), "p", RunStatus::Succeeded, Some(i), None))
            .collect();
        let mut b = BoardState::default();
        b.replace_runs(many, t(40));
        assert_eq!(b.trend("p").len(), TREND_LEN, "capped to the newest");
    }
}
