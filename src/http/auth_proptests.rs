//! The token guard classes a request by the path the router matches: for any percent-encoding
//! of any route (hex digits in either case), the guard's class equals the class of the route
//! actix picks.

use super::auth::{classify, route_path, Class};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::test as web_test;
use actix_web::App;
use proptest::prelude::*;

/// One request per route of [`super::configure`] (and the methods it answers).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/-/healthy"),
    ("GET", "/-/ready"),
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/statsd"),
    ("GET", "/metrics"),
    ("HEAD", "/metrics/vendor"),
    ("OPTIONS", "/metrics/application/hits"),
    ("PUT", "/metrics/application"),
    ("GET", "/admin/metrics"),
    ("DELETE", "/admin/metrics"),
    ("GET", "/api/v1/metrics/stream"),
    ("GET", "/api/metric"),
    ("GET", "/api/metric/v1"),
    ("GET", "/api/metric/v1/some-id"),
    ("DELETE", "/api/v1/series"),
    ("GET", "/api/query"),
    ("POST", "/api/query"),
    ("GET", "/api/aggregators"),
    ("POST", "/api/aggregators"),
    ("GET", "/api/suggest"),
    ("POST", "/api/suggest"),
    ("POST", "/api/put"),
    ("POST", "/api/v2/projects/p/jobs/j/metric"),
];

/// Answers, in headers, the guard's class of the request and the class of the route the
/// router picked (by its pattern).
async fn probe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    let query = req.query_string().to_owned();
    let guard = classify(&method, route_path(&req), &query);
    let mut res = next.call(req).await?;
    let picked = res
        .request()
        .match_pattern()
        .map(|pattern| classify(&method, &pattern, &query));
    let headers = res.headers_mut();
    for (name, class) in [("x-guard", Some(guard)), ("x-route", picked)] {
        let value = HeaderValue::from_str(&format!("{class:?}")).unwrap();
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(res)
}

/// `path` with the characters `encode` picks percent-encoded, hex digits upper or lower case.
fn encode(path: &str, picks: &[(bool, bool)]) -> String {
    let mut out = String::new();
    for (i, c) in path.chars().enumerate() {
        let (encode, upper) = picks[i % picks.len()];
        if encode && c != '/' {
            let hex = format!("%{:02x}", c as u32);
            out.push_str(&if upper { hex.to_ascii_uppercase() } else { hex });
        } else {
            out.push(c);
        }
    }
    out
}

fn classes(method: &str, uri: &str) -> (String, String) {
    actix_web::rt::System::new().block_on(async {
        let app =
            web_test::init_service(App::new().wrap(from_fn(probe)).configure(super::configure))
                .await;
        let req = web_test::TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri)
            .to_request();
        let res = web_test::call_service(&app, req).await;
        let header = |name| {
            res.headers()
                .get(name)
                .map_or("none", |v| v.to_str().unwrap())
                .to_owned()
        };
        (header("x-guard"), header("x-route"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_guard_classes_what_the_router_picks(
        route in 0..ROUTES.len(),
        picks in prop::collection::vec(any::<(bool, bool)>(), 1..40),
        reset in any::<bool>(),
    ) {
        let (method, path) = ROUTES[route];
        let query = if reset { "?%72eset=true" } else { "" };
        let uri = format!("{}{query}", encode(path, &picks));
        let (guard, picked) = classes(method, &uri);
        prop_assert_eq!(&guard, &picked, "{} {}", method, uri);
        prop_assert_ne!(picked.as_str(), "None", "{} {} reaches a route", method, uri);
    }
}

#[test]
fn the_reported_paths_are_guarded_as_their_routes() {
    for (method, uri, class) in [
        ("POST", "/api/%71uery", Class::Read),
        ("POST", "/api/quer%79", Class::Read),
        ("POST", "/%61pi/query", Class::Read),
        ("POST", "/api/%73uggest", Class::Read),
        ("POST", "/api/v2/projects/p/jobs/j/%6detric", Class::Read),
        ("POST", "/api/v2/projects/p/jobs/j/%6Detric", Class::Read),
    ] {
        let (guard, picked) = classes(method, uri);
        assert_eq!(guard, format!("{:?}", Some(class)), "{uri}");
        assert_eq!(picked, guard, "{uri}");
    }
}
