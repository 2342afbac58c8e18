use crate::{TestApp, app_tests};
use serde_json::Value;

app_tests!(
    health_and_readiness_report_ok,
    metrics_are_prometheus_text,
    unknown_api_paths_get_json_404,
    responses_carry_security_headers,
);

async fn health_and_readiness_report_ok(app: TestApp) {
    let r = app.api().get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.api().get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["pending_migrations"], 0);
}

async fn metrics_are_prometheus_text(app: TestApp) {
    app.api().get(app.at("/healthz")).send().await.unwrap();
    let text = app.metrics().await;
    assert!(text.contains("switchboard_http_requests_total"), "{text}");
    assert!(text.contains("status=\"200\""), "{text}");
}

async fn unknown_api_paths_get_json_404(app: TestApp) {
    let r = app.api().get(app.at("/api/v1/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

async fn responses_carry_security_headers(app: TestApp) {
    let r = app.api().get(app.at("/healthz")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers().contains_key("x-request-id"));
}
