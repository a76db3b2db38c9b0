//! What the import writes to the service's DynamoDB table ([`table`]), as a
//! library so that the tool (`main.rs`), its tests and the worst-case
//! seeding example (`examples/seed_large_users.rs`) share it.

pub mod table;
