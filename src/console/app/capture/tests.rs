//! The trace of followed runs: what the capture keeps, and what a replay rebuilds.

use super::*;
use crate::console::app::update::follow_tests::{look, notices, rerun_result};
use crate::console::app::update::tests::finished_call;
use crate::trace::schema::Record;

#[test]
fn the_trace_keeps_changes_only_and_a_replay_shows_the_same_board_and_chat() {
    let mut live = App::default();
    let mut capture = Capture::default();
    let mut records = Vec::new();
    let messages = vec![
        finished_call("c1", "rerun_pipeline", rerun_result(false, "job-5")),
        look("job-5", RunStatus::Queued, ""),
        look("job-5", RunStatus::InProgress, ""),
        look("job-5", RunStatus::InProgress, ""),
        look("job-5", RunStatus::Failed, "boom"),
    ];
    for msg in messages {
        for message in capture.messages(&msg) {
            records.push(Record {
                seq: records.len() as u64 + 1,
                at: chrono::Utc::now(),
                message,
            });
        }
        update(&mut live, msg);
    }
    let followed = records
        .iter()
        .filter(|r| {
            matches!(
                r.message,
                crate::trace::schema::TraceMessage::RunFollowed { .. }
            )
        })
        .count();
    assert_eq!(followed, 3, "an unchanged look is not recorded");
    let mut replayed = App::default();
    restore(
        &Trace {
            records,
            ..Trace::default()
        },
        &mut replayed,
    );
    assert_eq!(notices(&replayed), notices(&live));
    assert!(replayed.board.is_pinned("job-5"));
    assert_eq!(replayed.following.still_going().count(), 0);
}
