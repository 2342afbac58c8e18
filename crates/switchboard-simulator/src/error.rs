//! Errors of the control surface (`/_sim/*`) and of starting the simulator. Platform errors
//! are not here: those are answers in the platform's own shape, built where the platform is.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {0}")]
    Bind(String),
    #[error("the simulator's server failed: {0}")]
    Serve(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0} is not configured; set it with POST /_sim/config")]
    SecretMissing(&'static str),
    #[error("the target did not answer: {0}")]
    Target(String),
}

impl SimError {
    pub fn code(&self) -> &'static str {
        match self {
            SimError::Bind(_) => "cannot_bind",
            SimError::Serve(_) => "server_failed",
            SimError::Client(_) => "client_failed",
            SimError::BadRequest(_) => "bad_request",
            SimError::NotFound(_) => "not_found",
            SimError::SecretMissing(_) => "secret_missing",
            SimError::Target(_) => "target_unreachable",
        }
    }

    pub fn bad(message: impl std::fmt::Display) -> Self {
        SimError::BadRequest(message.to_string())
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self {
            SimError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SimError::NotFound(_) => StatusCode::NOT_FOUND,
            SimError::SecretMissing(_) => StatusCode::CONFLICT,
            SimError::Target(_) => StatusCode::BAD_GATEWAY,
            SimError::Bind(_) | SimError::Serve(_) | SimError::Client(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let body = serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}
