//! The fake Lanying IM of the test suite as a process, for a local run with
//! `IM_PROVIDER=maxim` (scripts/run.sh starts it):
//!
//! FAKE_IM_PORT=9411 MAXIM_APP_ID=app MAXIM_ADMIN_TOKEN=token cargo run --example fake_im
//!
//! Prints `FAKE_IM_URL=http://127.0.0.1:PORT` (the value for MAXIM_API_URL)
//! and serves until killed. Never prints the token or any password.

use qnlive_test_support::fake_im;

#[tokio::main]
async fn main() {
    let required = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            eprintln!("fake_im: set {name}");
            std::process::exit(2)
        })
    };
    let app_id = required("MAXIM_APP_ID");
    let admin_token = required("MAXIM_ADMIN_TOKEN");
    let port = match std::env::var("FAKE_IM_PORT") {
        Ok(port) => port.parse().unwrap_or_else(|_| {
            eprintln!("fake_im: FAKE_IM_PORT is not a port number: {port:?}");
            std::process::exit(2)
        }),
        Err(_) => 0,
    };
    let im = fake_im::FakeIm::start_on(port, &app_id, &admin_token).await;
    println!("FAKE_IM_URL={}", im.base_url());
    std::future::pending::<()>().await;
}
