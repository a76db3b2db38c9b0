//! openapi.yaml and the code describe the same API: the same paths and
//! methods, no more and no fewer. (The replies themselves are held to the
//! spec by Schemathesis in the test command.)

use qnlive_user_api::edge::routes::ENDPOINTS;
use std::collections::BTreeSet;
use yaml_rust2::YamlLoader;

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

#[test]
fn the_spec_has_exactly_the_routes_of_the_code() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let spec = &YamlLoader::load_from_str(&text).expect("openapi.yaml is YAML")[0];
    assert!(
        spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1"
    );

    let mut in_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_hash().expect("paths") {
        for (key, _) in item.as_hash().expect("a path item") {
            let key = key.as_str().unwrap();
            if HTTP_METHODS.contains(&key) {
                in_spec.insert((key.to_ascii_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    let in_code: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|(_, method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(in_spec, in_code);
}
