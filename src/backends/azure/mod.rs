//! Parsers for Azure response bodies, shared by the sandbox (whose fixtures are
//! stored in the same shapes) and the real Azure backends.

pub mod arm;
pub mod keyvault;
