//! `ApiJson<T>`: axum's JSON extractor with its rejections turned into our error body, so a
//! malformed, mistyped or oversized body gets a 4xx with a code like everything else.
//!
//! It also refuses text holding U+0000 (`\u0000` in JSON): PostgreSQL's `text` cannot store
//! it, so letting it through would make the same request succeed on SQLite and fail with a
//! 500 on PostgreSQL.

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(JsonRejection::from(e)))?;
        let has_nul = holds_nul(&bytes);
        let mut req = Request::new(axum::body::Body::from(bytes));
        *req.headers_mut() = headers;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(_) if has_nul => Err(ApiError::bad_request(
                "invalid_body",
                "Text may not contain the NUL character (\\u0000).",
            )),
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Whether the JSON text escapes U+0000 anywhere: `\u0000` whose backslash is not itself
/// escaped. (A raw NUL byte is not valid JSON; the parser refuses it.)
fn holds_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, w)| {
        w == b"\\u0000"
            && json
                .get(..at)
                .unwrap_or_default()
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count()
                % 2
                == 0
    })
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::BadRequest {
            code: "invalid_body",
            // serde's message names the field and what was expected ("missing field `name`",
            // "unknown field `x`", "invalid type: integer, expected a string").
            message: e.body_text(),
        },
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest {
            code: "malformed_json",
            message: e.body_text(),
        },
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge
        }
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::holds_nul;

    #[test]
    fn only_an_unescaped_nul_escape_counts() {
        assert!(holds_nul(br#"{"a": "x\u0000y"}"#));
        assert!(holds_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!holds_nul(br#"{"a": "x\\u0000y"}"#));
        assert!(!holds_nul(br#"{"a": "\u0001"}"#));
    }
}
