//! The dashboard (`/ui/`): its routes and JSON over HTTP, the server-side SVG chart against a
//! golden file, and the page itself in a real browser (Debian's `chromium`, headless): the
//! rendered DOM of every view, no script error, a screenshot, and — driven over the DevTools
//! protocol — a read token typed into the page and live values arriving over SSE.

mod common;

use common::{assert_error, golden, Server, TempDir};
use meterd::config::Tokens;
use serde_json::{json, Value};
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 2024-05-01 12:00:00 UTC.
const H: i64 = 1_714_564_800_000;
/// The manual clock: one hour later.
const NOW: i64 = H + 3_600_000;
/// The chart the golden file and the browser tests draw.
const CHART: &str = "m=avg:cpu.load{host=*}&start=1h-ago";

const READ: &str = "read-secret-0123456789";

/// cpu.load: a gauge in percent on three hosts, a point a minute for the last hour (a
/// triangle wave per host, integers so that the golden file does not hang on libm);
/// orders: a counter in another service path; latency: a timer.
fn dataset(server: &Server) {
    let mut events = Vec::new();
    for (h, host) in ["web01", "web02", "web03"].iter().enumerate() {
        for i in 0..60i64 {
            let tri = (i + 4 * h as i64) % 20;
            let value = 30 + 20 * h as i64 + (10 - (tri - 10).abs());
            events.push(json!({
                "name": "cpu.load", "type": "gauge", "unit": "percent",
                "description": "CPU load", "value": value, "timestamp": H + i * 60_000,
                "tags": {"host": host, "dc": if h < 2 { "x" } else { "y" }},
                "service": "shop", "servicePath": "/front",
            }));
        }
    }
    for i in 0..30 {
        events.push(json!({
            "name": "orders", "type": "counter", "value": i % 5 + 1,
            "timestamp": H + i * 120_000, "service": "shop", "servicePath": "/checkout",
        }));
    }
    events.push(json!({"name": "latency", "type": "timer", "value": 12.5,
        "unit": "milliseconds", "service": "shop", "timestamp": NOW - 1000}));
    server.push(Value::Array(events));
}

fn served() -> Server {
    let (server, _clock) = Server::at(NOW, |_| {});
    dataset(&server);
    server
}

fn tokens() -> Tokens {
    let file = format!(
        "[[token]]\nsecret = \"{READ}\"\nrole = \"read\"\n\n\
         [[token]]\nsecret = \"admin-secret-0123456789\"\nrole = \"admin\"\n"
    );
    Tokens::parse(&file, "tokens.toml").unwrap()
}

/// A GET that does not follow redirects; answers (status, headers as `name: value` lines
/// lowercased by name, body).
fn raw_get(server: &Server, path: &str, token: Option<&str>) -> (u16, String, String) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let mut req = agent.get(&server.url(path));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .iter()
        .map(|n| format!("{n}: {}", resp.header(n).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n");
    (status, headers, resp.into_string().unwrap_or_default())
}

#[test]
fn root_redirects_to_the_page_and_the_page_loads_nothing_from_elsewhere() {
    let server = Server::start();
    let (status, headers, _) = raw_get(&server, "/", None);
    assert_eq!(status, 303);
    assert!(headers.contains("location: /ui/"), "{headers}");
    let (status, headers, _) = raw_get(&server, "/ui", None);
    assert_eq!(status, 303, "{headers}");
    let (status, headers, page) = raw_get(&server, "/ui/", None);
    assert_eq!(status, 200);
    assert!(headers.contains("content-type: text/html"), "{headers}");
    assert!(headers.contains("default-src 'none'") && headers.contains("connect-src 'self'"));
    for (path, ct) in [
        ("/ui/app.js", "text/javascript"),
        ("/ui/style.css", "text/css"),
    ] {
        let (status, headers, body) = raw_get(&server, path, None);
        assert_eq!(status, 200, "{path}");
        assert!(headers.contains(ct), "{path}: {headers}");
        // Nothing names another host: no http(s) URL but the SVG namespace.
        let foreign = body
            .match_indices("http")
            .filter(|(i, _)| !body[*i..].starts_with("http://www.w3.org/2000/svg"))
            .count();
        assert_eq!(foreign, 0, "{path} names another host");
    }
    assert!(!page.contains("http://") && !page.contains("https://"));
}

#[test]
fn chart_svg_is_golden() {
    let server = served();
    let (status, headers, svg) =
        raw_get(&server, &format!("/ui/chart.svg?{CHART}&w=900&h=420"), None);
    assert_eq!(status, 200, "{svg}");
    assert!(headers.contains("content-type: image/svg+xml"), "{headers}");
    // One line per host, each with a legend entry and hover titles in its unit.
    assert_eq!(svg.matches("stroke-width=\"2\"").count(), 3);
    for host in ["web01", "web02", "web03"] {
        assert!(
            svg.contains(&format!("dc=x,host={host}"))
                || svg.contains(&format!("dc=y,host={host}"))
        );
    }
    assert!(
        svg.contains("2024-05-01 12:30:00Z: 40 percent"),
        "hover title"
    );
    assert!(svg.contains("\npercent\n") && svg.contains("\ntime (UTC)\n"));
    golden("ui_chart.svg", &svg);
    // The same query answers the same chart (no clock or order in the output).
    let (_, _, again) = raw_get(&server, &format!("/ui/chart.svg?{CHART}&w=900&h=420"), None);
    assert_eq!(svg, again);
}

#[test]
fn chart_svg_refuses_bad_queries_with_json() {
    let server = served();
    let (status, _, body) = raw_get(&server, "/ui/chart.svg?m=avg:nothing&start=1h-ago", None);
    assert_eq!(status, 404);
    assert_error(&body, "unknown_metric");
    let (status, _, body) = raw_get(&server, "/ui/chart.svg?m=nope:cpu.load&start=1h-ago", None);
    assert_eq!(status, 400);
    assert_error(&body, "bad_query");
    let (status, _, body) = raw_get(&server, "/ui/chart.svg?m=avg:cpu.load", None);
    assert_eq!(status, 400, "start is required");
    assert_error(&body, "bad_query");
    let (status, _, body) = raw_get(&server, &format!("/ui/chart.svg?{CHART}&w=10"), None);
    assert_eq!(status, 400);
    assert_error(&body, "bad_query");
}

#[test]
fn a_chart_over_any_span_draws_a_bounded_axis() {
    let server = served();
    for start in ["292000000y-ago", "9223372036854775807ms-ago", "0"] {
        let path = format!("/ui/chart.svg?start={start}&m=sum:cpu.load{{host=nope}}");
        let (status, _, body) = raw_get(&server, &path, None);
        assert!(status < 500, "{start}: {status} {body}");
        assert!(body.len() < 200_000, "{start}: {} bytes", body.len());
    }
}

#[test]
fn catalog_and_health_answer_json() {
    let server = served();
    let catalog = server.get_json("/ui/api/catalog");
    let families = catalog["families"].as_array().unwrap();
    let cpu = families
        .iter()
        .find(|f| f["name"] == "cpu.load")
        .expect("cpu.load listed");
    assert_eq!(cpu["scope"], "application");
    assert_eq!(cpu["kind"], "gauge");
    assert_eq!(cpu["unit"], "percent");
    assert_eq!(cpu["own"], false);
    assert_eq!(cpu["series"].as_array().unwrap().len(), 3);
    assert_eq!(cpu["series"][0]["service"], "shop");
    assert_eq!(cpu["series"][0]["servicePath"], "/front");
    assert_eq!(
        cpu["series"][0]["tags"],
        json!({"dc": "x", "host": "web01"})
    );
    let own = families
        .iter()
        .find(|f| f["name"] == "meterd.events.accepted")
        .expect("own metrics listed");
    assert_eq!(
        (own["scope"].as_str(), own["own"].as_bool()),
        (Some("vendor"), Some(true))
    );

    // One request refused for each reason the dashboard shows beside busy and limits.
    let (status, _) = server.post("/api/v1/events", "application/json", "{\"name\": 1}");
    assert_eq!(status, 400);
    let conflict = r#"{"name": "cpu.load", "type": "counter", "value": 1, "service": "shop"}"#;
    let (status, _) = server.post("/api/v1/events", "application/json", conflict);
    assert_eq!(status, 409);
    let (status, _) = server.post_with(
        "/api/v1/events",
        "application/json",
        "{}",
        &[("Content-Encoding", "br")],
    );
    assert_eq!(status, 415);

    let health = server.get_json("/ui/api/health");
    assert_eq!(
        (
            &health["refused"]["invalid"],
            &health["refused"]["conflict"],
            &health["refused"]["bodyUnreadable"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(health["durability"]["mode"], "interval");
    assert_eq!(health["series"]["live"], 5);
    assert_eq!(health["series"]["byService"], json!({"shop": 5}));
    assert_eq!(health["vendor"]["meterd.events.accepted"], 211.0);
    assert_eq!(health["refused"]["busy"], 0);
    assert!(health["queues"]["shardCapacity"].as_u64().unwrap() >= 1024);
    assert_eq!(health["snapshots"]["last"], Value::Null);
}

#[test]
fn tokens_guard_the_data_not_the_page() {
    let (server, _clock) = Server::at(NOW, |o| o.tokens = Some(tokens()));
    for path in ["/", "/ui", "/ui/", "/ui/app.js", "/ui/style.css"] {
        let (status, _, _) = raw_get(&server, path, None);
        assert!(status == 200 || status == 303, "{path}: {status}");
    }
    for path in [
        format!("/ui/chart.svg?{CHART}"),
        "/ui/api/catalog".to_owned(),
        "/ui/api/health".to_owned(),
    ] {
        let (status, _, body) = raw_get(&server, &path, None);
        assert_eq!(status, 401, "{path}");
        assert_error(&body, "unauthorized");
        let (status, _, body) = raw_get(&server, &path, Some(READ));
        // The chart answers 404 (no cpu.load here): the token was taken.
        assert!(status == 200 || status == 404, "{path}: {status} {body}");
    }
}

// ---------------------------------------------------------------------------------------
// In a real browser.

fn chromium() -> Option<PathBuf> {
    let found = common::peers::which("chromium");
    if common::peers::peer(
        "chromium",
        found.is_some(),
        "Debian package chromium; .ci/run installs it",
    ) {
        found
    } else {
        None
    }
}

/// The flags every run shares; `profile` keeps runs apart.
fn browser(bin: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` for at most `limit`; answers (stdout, stderr).
fn bounded(mut cmd: Command, limit: Duration) -> (String, String) {
    let mut child = cmd.spawn().expect("chromium starts");
    let deadline = Instant::now() + limit;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (reader.join().unwrap(), err_reader.join().unwrap())
}

/// The DOM of `url` once its scripts ran (5 s of virtual time).
fn dump_dom(bin: &Path, url: &str) -> String {
    let profile = TempDir::new();
    let mut cmd = browser(bin, &profile.0);
    cmd.args(["--virtual-time-budget=5000", "--dump-dom", url]);
    let (dom, log) = bounded(cmd, Duration::from_secs(60));
    assert!(!log.contains("Uncaught"), "a script error: {log}");
    assert!(dom.contains("</html>"), "no DOM: {log}");
    no_script_errors(&dom);
    dom
}

/// The page records script errors (window.onerror, unhandled rejections) in `#errors`.
fn no_script_errors(dom: &str) {
    assert!(
        dom.contains(r#"<ul id="errors" hidden=""></ul>"#) && !dom.contains("data-errors"),
        "the page recorded script errors: {}",
        &dom[dom.find("id=\"errors\"").unwrap_or(0)..][..400.min(dom.len())]
    );
}

/// The text of the element whose opening tag contains `marker`, up to its closing `end`.
fn element<'a>(dom: &'a str, marker: &str, end: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the DOM"));
    let rest = &dom[at..];
    &rest[..rest.find(end).map_or(rest.len(), |e| e + end.len())]
}

#[test]
fn browser_draws_one_line_per_group_with_a_legend() {
    let Some(bin) = chromium() else { return };
    let server = served();
    let url = server.url(&format!(
        "/ui/#chart?{}",
        CHART.replace('{', "%7B").replace('}', "%7D")
    ));
    let dom = dump_dom(&bin, &url);
    let chart = element(&dom, "id=\"chart\"", "</svg>");
    assert!(chart.contains("data-state=\"done\""), "{chart}");
    assert!(chart.contains("data-lines=\"3\""), "{chart}");
    assert_eq!(
        chart.matches("stroke-width=\"2\"").count(),
        3,
        "one line per host"
    );
    for host in ["web01", "web02", "web03"] {
        assert!(
            chart.contains(&format!("host={host}")),
            "legend lacks {host}"
        );
    }
    assert!(
        chart.contains("time (UTC)") && chart.contains("percent"),
        "axes"
    );
    // The form shows the query of the address, so the link is the chart.
    assert!(dom.contains("avg:cpu.load{host=*}"));
}

#[test]
fn browser_lists_metrics_services_health_and_the_orion_tree() {
    let Some(bin) = chromium() else { return };
    let server = served();
    let dom = dump_dom(&bin, &server.url("/ui/"));
    let table = element(&dom, "id=\"metrics\"", "</table>");
    assert!(table.contains("data-state=\"done\""), "{table}");
    for name in ["cpu.load", "orders", "latency", "meterd.events.accepted"] {
        assert!(
            table.contains(&format!("data-metric=\"{name}\"")),
            "{name} not listed"
        );
    }
    assert!(table.contains("percent") && table.contains("gauge") && table.contains("timer"));
    assert!(table.contains("host=web01|web02|web03"), "tags listed");
    let services = element(&dom, "id=\"services\"", "</ul></li></ul>");
    for s in ["shop", "/front", "/checkout", "default-service"] {
        assert!(
            services.contains(&format!(">{s}<")),
            "{s} not in the service tree"
        );
    }

    // A search narrows the list, from the address.
    let dom = dump_dom(&bin, &server.url("/ui/#browse?q=web02"));
    let table = element(&dom, "id=\"metrics\"", "</table>");
    assert!(
        table.contains("data-metric=\"cpu.load\"") && !table.contains("data-metric=\"orders\"")
    );

    let dom = dump_dom(&bin, &server.url("/ui/#health"));
    let health = element(&dom, "id=\"health\"", "</main>");
    assert!(health.contains("data-state=\"done\""), "{health}");
    for text in [
        "log mode",
        "interval",
        "shard batches queued",
        "busy (503)",
        "in shop",
    ] {
        assert!(health.contains(text), "{text} missing from health");
    }

    let dom = dump_dom(&bin, &server.url("/ui/#orion"));
    let orion = element(&dom, "id=\"orion\"", "</table>");
    assert!(orion.contains("data-state=\"done\""), "{orion}");
    assert!(orion.contains(">checkout<") && orion.contains(">orders<") && orion.contains(">90<"));
}

#[test]
fn browser_without_a_token_asks_for_one() {
    let Some(bin) = chromium() else { return };
    let (server, _clock) = Server::at(NOW, |o| o.tokens = Some(tokens()));
    let dom = dump_dom(&bin, &server.url(&format!("/ui/#chart?{CHART}")));
    let banner = element(&dom, "id=\"banner\"", "</div>");
    assert!(banner.contains("needs a read token"), "{banner}");
    assert!(element(&dom, "id=\"chart\"", "</div>").contains("data-state=\"error\""));
}

#[test]
fn browser_screenshot() {
    let Some(bin) = chromium() else { return };
    let server = served();
    let profile = TempDir::new();
    let file = profile.0.join("dashboard.png");
    let mut cmd = browser(&bin, &profile.0.join("profile"));
    cmd.arg("--virtual-time-budget=5000")
        .arg("--window-size=1100,760")
        .arg(format!("--screenshot={}", file.display()))
        .arg(server.url(&format!(
            "/ui/#chart?{}",
            CHART.replace('{', "%7B").replace('}', "%7D")
        )));
    let (_, log) = bounded(cmd, Duration::from_secs(60));
    assert!(!log.contains("Uncaught"), "{log}");
    let png = std::fs::read(&file).unwrap_or_else(|e| panic!("no screenshot ({e}): {log}"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // A page with a chart, not a blank one (a blank 1100x760 PNG is a few kB).
    assert!(png.len() > 20_000, "{} bytes", png.len());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/dashboard.png");
        std::fs::write(keep, &png).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Over the DevTools protocol: what --dump-dom cannot do (type, wait in real time).

/// A headless chromium with one page, driven over its DevTools WebSocket.
struct Devtools {
    child: Child,
    ws: tungstenite::WebSocket<TcpStream>,
    next: u64,
    /// Exceptions the page threw (`Runtime.exceptionThrown`).
    exceptions: Vec<Value>,
    _profile: TempDir,
}

impl Devtools {
    fn start(bin: &Path) -> Devtools {
        let profile = TempDir::new();
        let mut cmd = browser(bin, &profile.0);
        cmd.args(["--remote-debugging-port=0", "about:blank"]);
        let mut child = cmd.spawn().expect("chromium starts");
        // DevToolsActivePort holds the port once the browser listens.
        let port_file = profile.0.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Some(port) = text.lines().next().and_then(|l| l.parse::<u16>().ok()) {
                    break port;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromium did not open its DevTools port");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let list: Value = ureq::get(&format!("http://127.0.0.1:{port}/json/list"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        let page = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let url = page["webSocketDebuggerUrl"].as_str().unwrap().to_owned();
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let (ws, _) = tungstenite::client(url, stream).expect("DevTools WebSocket");
        let mut dt = Devtools {
            child,
            ws,
            next: 0,
            exceptions: Vec::new(),
            _profile: profile,
        };
        dt.call("Runtime.enable", json!({}));
        dt.call("Page.enable", json!({}));
        dt
    }

    /// Sends a command and waits (at most 20 s) for its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let message = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(tungstenite::Message::text(message.to_string()))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "no answer to {method}");
            let text = match self.ws.read() {
                Ok(tungstenite::Message::Text(t)) => t.to_string(),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue
                }
                Err(e) => panic!("DevTools: {e}"),
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["method"] == "Runtime.exceptionThrown" {
                self.exceptions.push(v["params"].clone());
            }
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is true, at most `limit` of real time.
    fn wait_for(&mut self, expression: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.eval(expression) != Value::Bool(true) {
            assert!(
                Instant::now() < deadline,
                "not within {limit:?}: {expression}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Devtools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn browser_with_a_typed_token_watches_live_values() {
    let Some(bin) = chromium() else { return };
    let (server, _clock) = Server::at(NOW, |o| o.tokens = Some(tokens()));
    // Pushed with the admin token (ingest), read by the page with the read token.
    let (status, body) = server.post_with(
        "/api/v1/events",
        "application/json",
        &json!([{"name": "orders", "type": "counter", "value": 7, "service": "shop"}]).to_string(),
        &[("Authorization", "Bearer admin-secret-0123456789")],
    );
    assert_eq!(status, 200, "{body}");
    let mut page = Devtools::start(&bin);
    let url = server.url("/ui/#live?s=Service%3Ashop~orders");
    page.call("Page.navigate", json!({"url": url}));
    // Without a token the stream is refused and the page asks for one.
    page.wait_for(
        "document.querySelector('#live')?.dataset.state === 'error' && !document.querySelector('#banner').hidden",
        Duration::from_secs(20),
    );
    // Typed into the page: kept in sessionStorage, sent as a header, never in the address.
    page.eval(&format!(
        "document.querySelector('#token').value = '{READ}';\
         document.querySelector('#token-form').requestSubmit(); true"
    ));
    page.wait_for(
        "Number(document.querySelector('#live').dataset.updates || 0) >= 2",
        Duration::from_secs(20),
    );
    let row = page.eval("document.querySelector('#live tr[data-id=\"orders\"]').innerText");
    assert!(row.as_str().unwrap().contains('7'), "{row}");
    assert_eq!(page.eval("sessionStorage.getItem('meterd.token')"), READ);
    let href = page.eval("location.href");
    assert!(!href.as_str().unwrap().contains(READ), "{href}");
    assert!(page.eval("document.querySelector('#live svg.spark polyline') !== null") == true);
    assert!(page.exceptions.is_empty(), "{:?}", page.exceptions);
    assert_eq!(page.eval("document.body.dataset.errors || ''"), "");
}
