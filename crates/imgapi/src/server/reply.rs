//! What the server answers: JSON bodies, IMGAPI's `{"code", "message"}`
//! errors, and the checks every `:uuid` route makes first.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::CatalogError;

/// An error answer: `{"code": ..., "message": ...}` with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// IMGAPI's 404 for an image.
    pub fn no_image(uuid: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("image {uuid} was not found"),
        )
    }

    /// IMGAPI's 422 for a bad parameter.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidParameter",
            message,
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: e.code,
            message: e.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = %self.code, message = %self.message, "request failed");
        }
        json_response(
            self.status,
            &json!({"code": self.code, "message": self.message}),
        )
    }
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("a JSON value serialises");
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Whether `s` is a uuid (`8-4-4-4-12` hex digits). Every `:uuid` in a
/// path is checked before it names anything, on disk above all.
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::is_uuid;

    #[test]
    fn uuids_are_checked() {
        assert!(is_uuid("01b2c898-945f-11e1-a523-af1afbe22822"));
        assert!(is_uuid("01B2C898-945F-11E1-A523-AF1AFBE22822"));
        assert!(!is_uuid("01b2c898-945f-11e1-a523-af1afbe2282"));
        assert!(!is_uuid("01b2c898x945f-11e1-a523-af1afbe22822"));
        assert!(!is_uuid("../../../../etc/passwd-aaaaaaaaaaaaaaa"));
        assert!(!is_uuid("01b2c898-945f-11e1-a523-af1afbe2282g"));
    }
}
