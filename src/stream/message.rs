//! The messages meterd sends, in the Kanto metrics API's Ditto shape: the response to a
//! request, and the data messages (whole for WebSocket, only their `value` for SSE).

use super::filter::Filters;
use super::frame::Frame;
use super::request::Envelope;
use super::StreamError;
use serde::{Serialize, Serializer};

/// Where requests are sent.
pub const REQUEST_PATH: &str = "/features/Metrics/inbox/messages/request";
/// Where responses come from.
pub const RESPONSE_PATH: &str = "/features/Metrics/outbox/messages/request";
/// Where data messages come from.
pub const DATA_PATH: &str = "/features/Metrics/outbox/messages/data";
/// The topic of answers to requests that name none.
pub const DEFAULT_TOPIC: &str = "meterd/meterd:edge:containers/things/live/messages/request";
/// The content type every message declares.
const CONTENT_TYPE: &str = "application/json";

#[derive(Serialize)]
struct Headers<'a> {
    #[serde(rename = "content-type")]
    content_type: &'static str,
    #[serde(rename = "correlation-id", skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Response<'a> {
    topic: &'a str,
    headers: Headers<'a>,
    path: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<serde_json::Value>,
}

/// The response to a request: status 204 when `error` is `None`, else 400 with DESIGN.md's
/// error body as its `value`.
pub fn response(envelope: &Envelope, error: Option<&StreamError>) -> String {
    let message = Response {
        topic: &envelope.topic,
        headers: Headers {
            content_type: CONTENT_TYPE,
            correlation_id: envelope.correlation_id.as_deref(),
        },
        path: RESPONSE_PATH,
        status: if error.is_some() { 400 } else { 204 },
        value: error.map(StreamError::body),
    };
    serde_json::to_string(&message).expect("a response always serializes")
}

/// The topic of data messages answering a request on `topic`: its last segment (`request`)
/// becomes `data`.
pub fn data_topic(topic: &str) -> String {
    match topic.rsplit_once('/') {
        Some((thing, _)) => format!("{thing}/data"),
        None => format!("{topic}/data"),
    }
}

/// A measurement value: integral values print as integers (`10371616768`, `6`), as in Kanto.
struct Number(f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        let v = self.0;
        if v.fract() == 0.0 && v.abs() < EXACT {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

#[derive(Serialize)]
struct MeasurementOut<'a> {
    id: &'a str,
    value: Number,
}

#[derive(Serialize)]
struct OriginatorOut<'a> {
    originator: &'a str,
    measurements: Vec<MeasurementOut<'a>>,
}

/// The `value` of a data message: the measurements a subscriber wants from one frame.
#[derive(Serialize)]
pub struct DataValue<'a> {
    snapshot: Vec<OriginatorOut<'a>>,
    timestamp: i64,
}

/// What `filters` wants of `frame`; `None` when that is no measurement at all (nothing is
/// sent then).
pub fn select<'a>(frame: &'a Frame, filters: &Filters) -> Option<DataValue<'a>> {
    let snapshot: Vec<OriginatorOut<'a>> = frame
        .originators
        .iter()
        .filter_map(|o| {
            let wanted = filters.for_originator(&o.originator)?;
            let measurements: Vec<_> = o
                .measurements
                .iter()
                .filter(|m| wanted.matches(&m.id))
                .map(|m| MeasurementOut {
                    id: &m.id,
                    value: Number(m.value),
                })
                .collect();
            (!measurements.is_empty()).then_some(OriginatorOut {
                originator: &o.originator,
                measurements,
            })
        })
        .collect();
    (!snapshot.is_empty()).then_some(DataValue {
        snapshot,
        timestamp: frame.timestamp_ms,
    })
}

#[derive(Serialize)]
struct Data<'a> {
    topic: &'a str,
    headers: Headers<'a>,
    path: &'static str,
    value: &'a DataValue<'a>,
}

/// A whole data message on `topic` (a WebSocket text frame).
pub fn data_message(topic: &str, value: &DataValue<'_>) -> String {
    let message = Data {
        topic,
        headers: Headers {
            content_type: CONTENT_TYPE,
            correlation_id: None,
        },
        path: DATA_PATH,
        value,
    };
    serde_json::to_string(&message).expect("a data message always serializes")
}

/// One Server-Sent Event carrying a data message's `value`.
pub fn data_event(value: &DataValue<'_>) -> String {
    let json = serde_json::to_string(value).expect("a data value always serializes");
    format!("data: {json}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::filter::{Filter, Pattern};
    use crate::stream::frame::{Measurement, OriginatorReading};
    use serde_json::{json, Value};

    fn frame() -> Frame {
        let reading = |originator: &str, ms: &[(&str, f64)]| OriginatorReading {
            originator: originator.to_owned(),
            measurements: ms
                .iter()
                .map(|&(id, value)| Measurement {
                    id: id.to_owned(),
                    value,
                })
                .collect(),
        };
        Frame {
            timestamp_ms: 1_234_567_890,
            originators: vec![
                reading(
                    "SYSTEM",
                    &[
                        ("cpu.utilization", 8.75),
                        ("memory.total", 10_371_616_768.0),
                        ("pids", 6.0),
                    ],
                ),
                reading("Service:shop", &[("orders", 3.0), ("latency", 0.25)]),
            ],
            has_services: true,
        }
    }

    #[test]
    fn responses_echo_topic_and_correlation_id() {
        let envelope = Envelope {
            topic: "edge/device:edge:containers/things/live/messages/request".into(),
            correlation_id: Some("abc".into()),
        };
        let ok: Value = serde_json::from_str(&response(&envelope, None)).unwrap();
        assert_eq!(
            ok,
            json!({
                "topic": "edge/device:edge:containers/things/live/messages/request",
                "headers": {"content-type": "application/json", "correlation-id": "abc"},
                "path": "/features/Metrics/outbox/messages/request",
                "status": 204
            })
        );
        let err = StreamError::FrequencyOutOfRange("10ms".into());
        let bad: Value = serde_json::from_str(&response(&Envelope::default(), Some(&err))).unwrap();
        assert_eq!(bad["status"], 400);
        assert_eq!(bad["value"]["error"]["code"], "bad_frequency");
        assert_eq!(bad["topic"], DEFAULT_TOPIC);
        assert!(bad["headers"].get("correlation-id").is_none());
    }

    #[test]
    fn data_topic_swaps_the_last_segment() {
        assert_eq!(
            data_topic("edge/device:edge:containers/things/live/messages/request"),
            "edge/device:edge:containers/things/live/messages/data"
        );
        assert_eq!(data_topic("x"), "x/data");
    }

    #[test]
    fn data_message_in_the_seed_shape() {
        let frame = frame();
        let value = select(&frame, &Filters::default()).unwrap();
        let text = data_message("t/things/live/messages/data", &value);
        assert!(text.contains(r#""value":10371616768}"#), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({
                "topic": "t/things/live/messages/data",
                "headers": {"content-type": "application/json"},
                "path": "/features/Metrics/outbox/messages/data",
                "value": {
                    "snapshot": [
                        {"originator": "SYSTEM", "measurements": [
                            {"id": "cpu.utilization", "value": 8.75},
                            {"id": "memory.total", "value": 10_371_616_768i64},
                            {"id": "pids", "value": 6}
                        ]},
                        {"originator": "Service:shop", "measurements": [
                            {"id": "orders", "value": 3},
                            {"id": "latency", "value": 0.25}
                        ]}
                    ],
                    "timestamp": 1_234_567_890
                }
            })
        );
    }

    #[test]
    fn filters_select_and_empty_snapshots_are_not_sent() {
        let frame = frame();
        let cpu = Filters(vec![Filter {
            ids: vec![Pattern::parse("cpu.*").unwrap()],
            originator: Some(Pattern::parse("SYSTEM").unwrap()),
        }]);
        let event = data_event(&select(&frame, &cpu).unwrap());
        assert_eq!(
            event,
            "data: {\"snapshot\":[{\"originator\":\"SYSTEM\",\"measurements\":[{\"id\":\"cpu.utilization\",\"value\":8.75}]}],\"timestamp\":1234567890}\n\n"
        );
        let nothing = Filters(vec![Filter {
            ids: vec![Pattern::parse("disk.*").unwrap()],
            originator: None,
        }]);
        assert!(select(&frame, &nothing).is_none());
    }
}
