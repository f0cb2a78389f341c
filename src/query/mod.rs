//! Pure query code: parameters in, answers out, computed from the registry's state. No actix.
//!
//! [`odsl`]: the OpenDataDSL metric service's calendar aggregation, ranges and filters.

pub mod odsl;
