//! Workspace slugs: the short, URL-safe name a workspace is addressed by in paths and the CLI.

use crate::ValidationError;
use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct WorkspaceSlug(String);

impl WorkspaceSlug {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let ok_chars = input
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(2..=48).contains(&input.len())
            || !ok_chars
            || input.starts_with('-')
            || input.ends_with('-')
        {
            return Err(ValidationError::new(
                "invalid_slug",
                "A workspace slug is 2 to 48 lower-case letters, digits or dashes, not starting or ending with a dash.",
            )
            .on("slug"));
        }
        Ok(Self(input.to_owned()))
    }

    /// Derives a slug from a display name ("Acme Shoes GmbH" -> "acme-shoes-gmbh").
    pub fn from_name(name: &str) -> Result<Self, ValidationError> {
        let mut slug = String::new();
        for c in name.trim().chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_end_matches('-').chars().take(48).collect();
        Self::parse(slug.trim_end_matches('-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for WorkspaceSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_derive_from_names() {
        assert_eq!(
            WorkspaceSlug::from_name("Acme Shoes GmbH")
                .unwrap()
                .as_str(),
            "acme-shoes-gmbh"
        );
        assert_eq!(
            WorkspaceSlug::from_name("  Café  Ünïcode! ")
                .unwrap()
                .as_str(),
            "caf-n-code"
        );
    }

    #[test]
    fn bad_slugs_are_refused() {
        for bad in ["", "a", "-abc", "abc-", "ABC", "a b", "a_b"] {
            assert!(WorkspaceSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
