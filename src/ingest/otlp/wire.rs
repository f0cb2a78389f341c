//! OTLP/HTTP on the wire: the body's encoding, the request decoded
//! into the OpenTelemetry project's generated types, and the answers encoded back.

use super::OtlpError;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;

/// How an OTLP/HTTP body is encoded (its `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`: binary protobuf.
    Protobuf,
    /// `application/json`: OTLP/JSON (protobuf's JSON mapping with OTLP's exceptions).
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters such as `charset` ignored), or `None`
    /// for any other type (answered 415).
    pub fn from_content_type(content_type: &str) -> Option<Encoding> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of answers in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Decodes an `ExportMetricsServiceRequest`.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportMetricsServiceRequest, OtlpError> {
    match encoding {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(body)
            .map_err(|e| OtlpError::Malformed(format!("not an OTLP protobuf request: {e}"))),
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| OtlpError::Malformed(format!("not an OTLP/JSON request: {e}"))),
    }
}

/// The success answer: `ExportMetricsServiceResponse`, with `partialSuccess` when points were
/// rejected (or a warning is given).
pub fn response(rejected: u64, message: &str, encoding: Encoding) -> Vec<u8> {
    let partial_success =
        (rejected > 0 || !message.is_empty()).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message.to_owned(),
        });
    let answer = ExportMetricsServiceResponse { partial_success };
    match encoding {
        Encoding::Protobuf => answer.encode_to_vec(),
        // Serialising generated types with no maps or non-string keys cannot fail.
        Encoding::Json => serde_json::to_vec(&answer).unwrap_or_default(),
    }
}

/// `google.rpc.Status`, the body of OTLP/HTTP error answers. It is not among the OTLP
/// definitions, and its crates come with a gRPC stack; these are its first two fields, tags and
/// types as in `google/rpc/status.proto` (`details`, field 3, is never sent).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// A `google.rpc.Code` (3 `INVALID_ARGUMENT`, 8 `RESOURCE_EXHAUSTED`, 14 `UNAVAILABLE`, ...).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// What went wrong, for a person.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The `google.rpc.Code` closest to an HTTP error status.
pub fn rpc_code(http_status: u16) -> i32 {
    match http_status {
        400 => 3,       // INVALID_ARGUMENT
        401 => 16,      // UNAUTHENTICATED
        403 => 7,       // PERMISSION_DENIED
        404 => 5,       // NOT_FOUND
        409 => 6,       // ALREADY_EXISTS (a type conflict with an existing series)
        413 | 429 => 8, // RESOURCE_EXHAUSTED
        503 => 14,      // UNAVAILABLE
        _ => 2,         // UNKNOWN
    }
}

/// An error answer's body: a `Status` in the request's encoding.
pub fn status(http_status: u16, message: &str, encoding: Encoding) -> Vec<u8> {
    let status = Status {
        code: rpc_code(http_status),
        message: message.to_owned(),
    };
    match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&status).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type("application/x-protobuf"),
            Some(Encoding::Protobuf)
        );
        assert_eq!(
            Encoding::from_content_type("Application/JSON; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
        assert_eq!(Encoding::from_content_type(""), None);
    }

    #[test]
    fn answers_in_both_encodings() {
        let json: serde_json::Value =
            serde_json::from_slice(&response(3, "3 points refused", Encoding::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"partialSuccess": {"rejectedDataPoints": 3, "errorMessage": "3 points refused"}})
        );
        let empty = response(0, "", Encoding::Protobuf);
        assert!(empty.is_empty(), "a full success is an empty message");
        let pb =
            ExportMetricsServiceResponse::decode(&*response(2, "x", Encoding::Protobuf)).unwrap();
        assert_eq!(pb.partial_success.unwrap().rejected_data_points, 2);
        let st = Status::decode(&*status(400, "bad", Encoding::Protobuf)).unwrap();
        assert_eq!((st.code, st.message.as_str()), (3, "bad"));
        let st: serde_json::Value =
            serde_json::from_slice(&status(503, "busy", Encoding::Json)).unwrap();
        assert_eq!(st, serde_json::json!({"code": 14, "message": "busy"}));
    }
}
