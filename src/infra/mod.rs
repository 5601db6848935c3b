//! Infrastructure as code: Terraform plans.

pub mod terraform;
