//! Where the tests' DynamoDB is: DynamoDB Local, started by
//! scripts/test.sh. Used by the API tests and the import's tests.

/// The DynamoDB Local endpoint. Refuses anything but loopback so that no
/// test ever writes to a real table.
pub fn dynamodb_endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "this test needs DynamoDB Local, and AWS_ENDPOINT_URL_DYNAMODB is not set: \
             run it with scripts/test.sh, which starts DynamoDB Local"
        )
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only run against DynamoDB Local on loopback, not {endpoint}"
    );
    endpoint
}
