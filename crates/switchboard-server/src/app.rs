//! Assembling the application: routes, the OpenAPI document, middleware, and serving with
//! graceful shutdown.

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::routes;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   object-src 'none'";

/// The `/api/v1` routers of every feature, with their OpenAPI paths.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::workspaces::api_router())
        .merge(routes::members::api_router())
        .merge(routes::invitations::api_router())
        .merge(routes::tokens::api_router())
        .merge(routes::connections::api_router())
        .merge(routes::audit::api_router())
        .merge(routes::jobs::api_router())
        .merge(routes::api_me::api_router())
        .merge(routes::conversations::api_router())
        .merge(routes::contacts::api_router())
        .merge(routes::contacts_csv::api_router())
        .merge(routes::contact_attributes::api_router())
        .merge(routes::segments::api_router())
        .merge(routes::templates::api_router())
        .merge(routes::comments::api_router())
        .merge(routes::conversation_work::api_router())
        .merge(routes::labels::api_router())
        .merge(routes::teams::api_router())
        .merge(routes::canned_responses::api_router())
        .merge(routes::search::api_router())
        .merge(routes::events::api_router())
        .merge(crate::privacy::api::api_router())
        .merge(crate::privacy::intake_api::api_router())
        .merge(crate::privacy::holidays::api_router())
        .merge(routes::privacy_settings::api_router())
        .merge(routes::privacy_contacts::api_router())
        .merge(routes::webhooks_out::api_router())
        .merge(routes::account_deletion::api_router())
}

pub fn build_router(state: AppState) -> Router {
    let (api, openapi) = api_router().split_for_parts();
    let openapi_json = openapi.to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi_json.clone(),
                )
            }),
        )
        .merge(routes::health::router())
        .merge(routes::webhooks::router())
        .merge(crate::attachments::router())
        .merge(routes::widget::router(state.clone()))
        .merge(crate::privacy::public::router())
        .merge(routes::home::router())
        .merge(routes::inbox::router())
        .merge(routes::contacts_web::router())
        .merge(routes::members::web_router())
        .merge(routes::teams::web_router())
        .merge(routes::invitations::web_router())
        .merge(routes::tokens::web_router())
        .merge(routes::webhooks_out::web_router())
        .merge(routes::connections::web_router())
        .merge(routes::audit::web_router())
        .merge(routes::jobs::web_router())
        .merge(crate::privacy::web::router())
        .merge(crate::privacy::intake_web::router())
        .merge(crate::privacy::holidays::router())
        .merge(routes::privacy_settings::web_router())
        .merge(routes::account_deletion::web_router())
        .merge(routes::signup::router())
        .merge(routes::login::router())
        .merge(routes::password_reset::router())
        .merge(routes::settings_profile::router())
        .merge(routes::settings_security::router())
        .route("/assets/{name}", get(crate::web::asset))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard_and_count,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a request handler panicked").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The span of one request: method and path, never the query string, and emailed-link
/// secrets redacted from the path.
fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %crate::auth::secret_token::redact_path(request.uri().path()),
    )
}

async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        ApiError::NotFound.into_response()
    } else {
        crate::web::error_page(ApiError::NotFound)
    }
}

/// Security headers on every answer, a cross-site guard for cookie-authenticated writes,
/// and the request counter.
async fn guard_and_count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Defence in depth beside the CSRF tokens: browsers label cross-site requests, and no
    // page of another site has any business posting with our session cookie.
    let cross_site = request
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    let has_cookie = request.headers().contains_key(header::COOKIE);
    let mut response = if unsafe_method && cross_site && has_cookie {
        ApiError::Forbidden("Cross-site requests with a session cookie are refused.")
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if state.config.secure_cookies() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    state
        .metrics
        .http_requests
        .get_or_create(&crate::metrics::HttpLabels {
            method: method.as_str().to_owned(),
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
