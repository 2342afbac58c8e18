//! The store's one error type. Variants say what went wrong in the domain's words; the
//! server maps each `code()` to an HTTP status.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (an email already registered, a slug taken).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database could not take a write (a group commit that failed as a whole).
    #[error("the database could not take the write: {0}")]
    Unavailable(String),
    /// A stored value could not be read back (a bad id, an unknown enum value).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A sealed value could not be sealed or opened (wrong master key, a destroyed key,
    /// tampering).
    #[error("{0}")]
    Sealing(#[from] switchboard_keys::KeyError),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { code, .. } => code,
            StoreError::UnsupportedUrl(_) => "unsupported_database_url",
            StoreError::Database(_)
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Unavailable(_) => "storage_error",
            StoreError::Sealing(e) => e.code(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Whether the database refused a row because of a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            other => StoreError::Database(other),
        }
    }
}

/// Maps a unique-constraint failure to a `Conflict` with the given code and message.
pub(crate) fn on_unique<T>(
    result: Result<T, StoreError>,
    code: &'static str,
    message: &str,
) -> Result<T, StoreError> {
    match result {
        Err(e) if e.is_unique_violation() => Err(StoreError::conflict(code, message)),
        other => other,
    }
}
