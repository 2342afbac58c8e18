//! Reading typed values out of `Any` rows: ids from UUID text, timestamps from milliseconds,
//! domain values through their own `parse`.

use crate::StoreError;
use sqlx::Row;
use sqlx::any::{AnyQueryResult, AnyRow};
use std::str::FromStr;
use switchboard_core::clock::from_millis;
use switchboard_core::{Timestamp, ValidationError};

pub(crate) trait RowExt {
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError>;
    fn time(&self, col: &str) -> Result<Timestamp, StoreError>;
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, StoreError>;
    fn parsed<T: FromStr>(&self, col: &str) -> Result<T, StoreError>;
    fn opt_parsed<T: FromStr>(&self, col: &str) -> Result<Option<T>, StoreError>;
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A domain value (`Role`, `EmailAddress`, ...) through its validating `parse`: a stored
    /// value that fails it is corrupt.
    fn valid<T>(
        &self,
        col: &str,
        parse: fn(&str) -> Result<T, ValidationError>,
    ) -> Result<T, StoreError>;
}

impl RowExt for AnyRow {
    fn text(&self, col: &str) -> Result<String, StoreError> {
        Ok(self.try_get::<String, _>(col)?)
    }

    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get::<Option<String>, _>(col)?)
    }

    fn int(&self, col: &str) -> Result<i64, StoreError> {
        Ok(self.try_get::<i64, _>(col)?)
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get::<Option<i64>, _>(col)?)
    }

    fn time(&self, col: &str) -> Result<Timestamp, StoreError> {
        self.int(col).map(from_millis)
    }

    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.opt_int(col)?.map(from_millis))
    }

    fn parsed<T: FromStr>(&self, col: &str) -> Result<T, StoreError> {
        let raw = self.text(col)?;
        raw.parse()
            .map_err(|_| StoreError::Corrupt(format!("column {col} holds an unreadable value")))
    }

    fn opt_parsed<T: FromStr>(&self, col: &str) -> Result<Option<T>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                StoreError::Corrupt(format!("column {col} holds an unreadable value"))
            }),
        }
    }

    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.try_get::<Option<Vec<u8>>, _>(col)?)
    }

    fn valid<T>(
        &self,
        col: &str,
        parse: fn(&str) -> Result<T, ValidationError>,
    ) -> Result<T, StoreError> {
        parse(&self.text(col)?).map_err(|e| StoreError::Corrupt(e.message))
    }
}

/// Milliseconds for binding a timestamp.
pub(crate) fn ms(at: Timestamp) -> i64 {
    switchboard_core::clock::to_millis(at)
}

/// Not found when an update or delete by id touched no row: the id is unknown, or belongs to
/// another workspace or account.
pub(crate) fn found(done: AnyQueryResult) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A closed set of values stored as text: `as_str` for binding, `parse` for reading back (and
/// for input), serde with the same names.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// Reads a [`text_enum!`] value; an unknown one is corrupt data.
pub(crate) fn known<T>(
    row: &AnyRow,
    col: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let raw = row.text(col)?;
    parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("column {col} holds `{raw}`")))
}

/// Reads a JSON text column.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    col: &str,
) -> Result<T, StoreError> {
    let raw = row.text(col)?;
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}
