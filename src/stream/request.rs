//! Parsing and checking subscription requests: the Kanto request message of a WebSocket, and
//! the query string of a Server-Sent Events stream.

use super::filter::{Filter, Filters, Pattern};
use super::frequency::Frequency;
use super::message::{DEFAULT_TOPIC, REQUEST_PATH};
use super::StreamError;
use serde_json::{Map, Value};
use std::time::Duration;

/// What a request message asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Who to answer: topic and correlation id.
    pub envelope: Envelope,
    /// `headers."response-required"` (default true): whether to send the 204 response.
    pub response_required: bool,
    /// How often to send data, or stop.
    pub frequency: Frequency,
    /// Which measurements to send.
    pub filters: Filters,
}

/// The parts of a request its response echoes; known even when the request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The request's topic (or [`DEFAULT_TOPIC`]).
    pub topic: String,
    /// `headers."correlation-id"`, echoed in the response.
    pub correlation_id: Option<String>,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            topic: DEFAULT_TOPIC.to_owned(),
            correlation_id: None,
        }
    }
}

/// Parses a request message. A refused request answers the envelope read so far, so that its
/// 400 response still carries the topic and correlation id.
pub fn parse_request(text: &str) -> Result<Request, (Envelope, StreamError)> {
    let message: Value = serde_json::from_str(text)
        .map_err(|e| (Envelope::default(), StreamError::Malformed(e.to_string())))?;
    let Value::Object(message) = message else {
        return Err((
            Envelope::default(),
            StreamError::Malformed("expected an object".into()),
        ));
    };
    let envelope = envelope(&message);
    match check(&message) {
        Ok((response_required, frequency, filters)) => Ok(Request {
            envelope,
            response_required,
            frequency,
            filters,
        }),
        Err(e) => Err((envelope, e)),
    }
}

/// Reads topic and correlation id as far as they are usable.
fn envelope(message: &Map<String, Value>) -> Envelope {
    let topic = match message.get("topic") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => DEFAULT_TOPIC.to_owned(),
    };
    let correlation_id = header(message, "correlation-id").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    Envelope {
        topic,
        correlation_id,
    }
}

/// A header by name; Ditto header names are case-insensitive.
fn header<'a>(message: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let Some(Value::Object(headers)) = message.get("headers") else {
        return None;
    };
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn check(message: &Map<String, Value>) -> Result<(bool, Frequency, Filters), StreamError> {
    let bad = |m: &str| Err(StreamError::BadField(m.to_owned()));
    match message.get("topic") {
        None | Some(Value::String(_)) => {}
        Some(_) => return bad("topic must be a string"),
    }
    match message.get("headers") {
        None | Some(Value::Object(_)) => {}
        Some(_) => return bad("headers must be an object"),
    }
    match message.get("path") {
        None => {}
        Some(Value::String(p)) if p.trim_end_matches('/') == REQUEST_PATH => {}
        Some(Value::String(p)) => return Err(StreamError::BadPath(p.clone())),
        Some(_) => return bad("path must be a string"),
    }
    let response_required = match header(message, "response-required") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => return bad("headers.response-required must be true or false"),
    };
    let Some(Value::Object(value)) = message.get("value") else {
        return bad("value must be an object with frequency and filter");
    };
    if let Some(unknown) = value.keys().find(|k| *k != "frequency" && *k != "filter") {
        return bad(&format!(
            "unknown field value.{unknown}; use frequency and filter"
        ));
    }
    let frequency = Frequency::from_json(value.get("frequency").unwrap_or(&Value::Null))?;
    let filters = filters(value.get("filter").unwrap_or(&Value::Null))?;
    Ok((response_required, frequency, filters))
}

/// Parses `value.filter`: `null` or an array of `{"id": [..] | null, "originator": ".." | null}`.
fn filters(value: &Value) -> Result<Filters, StreamError> {
    let entries = match value {
        Value::Null => return Ok(Filters::default()),
        Value::Array(entries) => entries,
        _ => return Err(bad_filter("filter must be an array of {id, originator}")),
    };
    let mut filters = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(bad_filter(&format!("entry {i} must be an object")));
        };
        if let Some(unknown) = entry.keys().find(|k| *k != "id" && *k != "originator") {
            return Err(bad_filter(&format!(
                "entry {i}: unknown field {unknown:?}; use id and originator"
            )));
        }
        let ids = match entry.get("id") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| match id {
                    Value::String(s) => Pattern::parse(s),
                    _ => Err(bad_filter(&format!(
                        "entry {i}: id must be an array of strings"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(bad_filter(&format!(
                    "entry {i}: id must be an array of strings or null"
                )))
            }
        };
        let originator = match entry.get("originator") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(Pattern::parse(s)?),
            Some(_) => {
                return Err(bad_filter(&format!(
                    "entry {i}: originator must be a string"
                )))
            }
        };
        filters.push(Filter { ids, originator });
    }
    Ok(Filters(filters))
}

fn bad_filter(message: &str) -> StreamError {
    StreamError::BadFilter(message.to_owned())
}

/// A Server-Sent Events subscription: `frequency` (default `1s`), any number of `id`, and any
/// number of `originator` (each with every `id`).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamQuery {
    /// How often to send data.
    pub every: Duration,
    /// Which measurements to send.
    pub filters: Filters,
}

/// The frequency of a stream that names none.
pub const DEFAULT_STREAM_PERIOD: Duration = Duration::from_secs(1);

/// Parses the query parameters of a stream, in order.
pub fn parse_query(params: &[(String, String)]) -> Result<StreamQuery, StreamError> {
    let mut every = None;
    let mut ids = Vec::new();
    let mut originators = Vec::new();
    for (name, value) in params {
        match name.as_str() {
            "frequency" => {
                every = Some(match Frequency::parse(value)? {
                    Frequency::Every(period) => period,
                    Frequency::Stop => return Err(StreamError::StreamStopped(value.clone())),
                })
            }
            "id" => ids.push(Pattern::parse(value)?),
            "originator" if value.is_empty() => {}
            "originator" => originators.push(Pattern::parse(value)?),
            other => return Err(StreamError::UnknownParameter(other.to_owned())),
        }
    }
    let filters = if originators.is_empty() {
        vec![Filter {
            ids,
            originator: None,
        }]
    } else {
        originators
            .into_iter()
            .map(|o| Filter {
                ids: ids.clone(),
                originator: Some(o),
            })
            .collect()
    };
    Ok(StreamQuery {
        every: every.unwrap_or(DEFAULT_STREAM_PERIOD),
        filters: Filters(filters),
    })
}

#[cfg(test)]
mod tests;
