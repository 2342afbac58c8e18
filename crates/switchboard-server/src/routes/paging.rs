//! What the API's list endpoints share: query strings parsed into our error body, the
//! `limit` parameter and opaque cursors.

use crate::error::ApiError;
use switchboard_core::ValidationError;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

pub fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub fn parse_query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))
}

pub fn parse_limit(v: &Option<String>) -> Result<i64, ApiError> {
    match nonempty(v) {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ValidationError::new(
                    "invalid_limit",
                    format!("The limit is a number from 1 to {MAX_LIMIT}."),
                )
                .on("limit")
                .into()
            }),
    }
}

pub fn invalid_cursor() -> ApiError {
    ValidationError::new("invalid_cursor", "Use the next_cursor of a previous page.")
        .on("cursor")
        .into()
}
