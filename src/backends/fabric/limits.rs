//! How long the Fabric backend waits, in one place: the defaults suit the
//! service; tests set short ones to prove a silent endpoint cannot hold a call.

use std::time::Duration;

use super::operation::OperationLimits;

#[derive(Debug, Clone, Copy)]
pub struct FabricLimits {
    /// One request, connection included.
    pub request_timeout: Duration,
    /// All schedule reads of one catalogue together; the rest are left out.
    pub schedule_reads: Duration,
    /// All definition reads of one catalogue together; the rest are left out.
    /// Longer than one Retry-After the service is known to send (30 s).
    pub definition_reads: Duration,
    /// One long-running operation (`getDefinition` answering 202).
    pub operation: OperationLimits,
}

impl Default for FabricLimits {
    fn default() -> FabricLimits {
        FabricLimits {
            request_timeout: Duration::from_secs(30),
            schedule_reads: Duration::from_secs(20),
            definition_reads: Duration::from_secs(40),
            operation: OperationLimits::default(),
        }
    }
}
