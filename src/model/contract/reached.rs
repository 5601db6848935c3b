//! Reads [`Reached`] back from a result. The graph types only serialise, so
//! the contract reads their JSON form here, field for field, and builds them.

use serde::{Deserialize, Deserializer};

use crate::model::graph::{DependencyVia, PipelineEdge, Reached};

#[derive(Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
enum ViaRead {
    Dataset { dataset: String },
    ExecutePipeline { activity: String },
}

#[derive(Deserialize)]
struct EdgeRead {
    from: String,
    to: String,
    #[serde(flatten)]
    via: ViaRead,
}

#[derive(Deserialize)]
struct ReachedRead {
    pipeline: String,
    distance: u32,
    edge: EdgeRead,
}

impl From<ReachedRead> for Reached {
    fn from(read: ReachedRead) -> Reached {
        let via = match read.edge.via {
            ViaRead::Dataset { dataset } => DependencyVia::Dataset { dataset },
            ViaRead::ExecutePipeline { activity } => DependencyVia::ExecutePipeline { activity },
        };
        Reached {
            pipeline: read.pipeline,
            distance: read.distance,
            edge: PipelineEdge {
                from: read.edge.from,
                to: read.edge.to,
                via,
            },
        }
    }
}

/// `deserialize_with` for a `Vec<Reached>` field.
pub(super) fn read_all<'de, D: Deserializer<'de>>(reader: D) -> Result<Vec<Reached>, D::Error> {
    let read = Vec::<ReachedRead>::deserialize(reader)?;
    Ok(read.into_iter().map(Reached::from).collect())
}
