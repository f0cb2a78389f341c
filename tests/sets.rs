//! StatsD sets are bounded: exact up to `[sets] exact_members`, then a HyperLogLog sketch of
//! fixed size whose estimate stays within its error; snapshots, restarts and resets keep
//! working.

mod common;

use common::Server;
use meterd::config::Pipeline;

fn members(server: &Server, from: usize, to: usize) {
    let body: Vec<String> = (from..to).map(|i| format!("users:u{i}|s")).collect();
    let (status, text) = server.post("/api/v1/statsd", "text/plain", &body.join("\n"));
    assert_eq!(status, 200, "{text}");
}

fn users(server: &Server) -> f64 {
    server.get_json("/metrics/application/users")["users"]
        .as_f64()
        .unwrap()
}

#[test]
fn a_set_is_exact_to_its_bound_then_estimated_and_survives_restarts_and_resets() {
    let pipeline = || Pipeline::parse("[sets]\nexact_members = 100\n", "t.toml").unwrap();
    let server = Server::with(|o| o.pipeline = pipeline());
    members(&server, 0, 100);
    members(&server, 0, 100);
    assert_eq!(users(&server), 100.0, "exact up to the bound");
    for chunk in 0..10 {
        members(&server, 100 + chunk * 2_000, 100 + (chunk + 1) * 2_000);
    }
    let estimate = users(&server);
    let error = (estimate - 20_100.0).abs() / 20_100.0;
    assert!(error < 0.1, "estimate {estimate} for 20100 members");

    let server = server.restart(|o| o.pipeline = pipeline());
    assert_eq!(users(&server), estimate, "the sketch is in the snapshot");
    members(&server, 0, 100);
    assert_eq!(
        users(&server),
        estimate,
        "members seen before change nothing"
    );

    let (status, _, _) = server.get("/admin/metrics?reset=true", None);
    assert_eq!(status, 200);
    members(&server, 5, 8);
    assert_eq!(users(&server), 3.0, "a reset starts an exact set again");
}
