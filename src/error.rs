//! The error type every layer uses for a cause it only carries: boxed,
//! thread-safe, kept as the `source` of the layer's own error so that the
//! log shows the whole chain (`telemetry::ErrorChain`).

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
