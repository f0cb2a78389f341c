//! A cluster's own endpoints: `GET /cluster` (members, and per partition its owner, the
//! position applied and the lag), and the 501 answers of the reads a cluster does not serve
//! yet (they need history and entities, which stay on single nodes in this step).

use super::error::not_in_cluster;
use super::{ApiError, AppState};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// Routes of the cluster API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/cluster", web::get().to(status));
}

async fn status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(cluster) = &state.cluster else {
        return Err(ApiError::not_found(
            "this meterd is a single node (start it with --cluster to join a cluster)",
        ));
    };
    Ok(HttpResponse::Ok().json(cluster.status().await.view().to_json()))
}

/// What each read a cluster does not serve yet needs: (path prefix, what, missing part).
const GAPS: &[(&str, &str, &str)] = &[
    (
        "/api/query",
        "OpenTSDB queries",
        "downsampled history kept per partition",
    ),
    (
        "/api/suggest",
        "OpenTSDB suggestions",
        "downsampled history kept per partition",
    ),
    (
        "/api/v2/projects/",
        "Blink queries",
        "downsampled history kept per partition",
    ),
    (
        "/api/metric",
        "ODSL queries",
        "ODSL entities captured from the partitions' stream",
    ),
    (
        "/ui/chart.svg",
        "history charts",
        "downsampled history kept per partition",
    ),
    (
        "/ui/api/catalog",
        "the history catalog",
        "downsampled history kept per partition",
    ),
];

/// In cluster mode, answers 501 with the JSON error body for the reads listed in `GAPS`.
pub async fn cluster_gaps(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let clustered = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.cluster.is_some());
    if clustered {
        let path = req.path();
        if let Some((_, what, missing)) = GAPS.iter().find(|(p, _, _)| path.starts_with(p)) {
            let resp = not_in_cluster(what, missing).error_response_json();
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ClusterError;
    use actix_web::http::StatusCode;

    #[test]
    fn cluster_errors_are_503_with_retry_after_and_gaps_501() {
        for (e, code) in [
            (
                ClusterError::Unavailable("no server".into()),
                "cluster_unavailable",
            ),
            (ClusterError::Busy("acks".into()), "busy"),
            (ClusterError::Protocol("odd".into()), "cluster_unavailable"),
        ] {
            let api = ApiError::from(e);
            assert_eq!(
                (api.status, api.code, api.retry_after),
                (StatusCode::SERVICE_UNAVAILABLE, code, Some(1))
            );
        }
        let unknown = ApiError::from(ClusterError::OutcomeUnknown("lost".into()));
        assert_eq!(
            (unknown.status, unknown.code, unknown.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "outcome_unknown", None)
        );
        let gap = not_in_cluster("OpenTSDB queries", "history");
        assert_eq!(gap.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(gap.body()["error"]["code"], "not_in_cluster");
        assert!(GAPS.iter().any(|(p, _, _)| *p == "/api/query"));
    }
}
