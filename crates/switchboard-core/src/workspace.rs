//! Workspace lifecycle.

use crate::ValidationError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceStatus {
    Active,
    /// Deactivated by its owner or the operator; its data is erased on the privacy schedule.
    Deactivated,
}

impl WorkspaceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceStatus::Active => "active",
            WorkspaceStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "active" => Ok(Self::Active),
            "deactivated" => Ok(Self::Deactivated),
            other => Err(ValidationError::new(
                "invalid_status",
                format!("`{other}` is not a workspace status"),
            )),
        }
    }
}

/// A workspace's display name: 1 to 100 characters after trimming, no control characters.
pub fn parse_workspace_name(input: &str) -> Result<String, ValidationError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "invalid_name",
            "A workspace name is 1 to 100 characters, without control characters.",
        )
        .on("name"));
    }
    Ok(name.to_owned())
}

/// A person's or workspace's name typed into a form: trimmed, 1 to 100 characters, no control
/// characters (PostgreSQL's text cannot hold U+0000, and the others only hide what a name
/// says).
pub fn parse_name(input: &str, field: &'static str) -> Result<String, ValidationError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(ValidationError::new("name_required", "Enter a name.").on(field));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "invalid_name",
            "Use at most 100 characters, without control characters.",
        )
        .on(field));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(parse_name("  Ada  ", "name").unwrap(), "Ada");
        assert_eq!(parse_name(" ", "name").unwrap_err().code, "name_required");
        assert_eq!(
            parse_name("A\u{0}da", "name").unwrap_err().code,
            "invalid_name"
        );
        assert_eq!(
            parse_name(&"x".repeat(101), "name").unwrap_err().code,
            "invalid_name"
        );
        assert_eq!(
            parse_workspace_name("Acme\u{0}").unwrap_err().code,
            "invalid_name"
        );
        assert_eq!(parse_workspace_name(" Acme ").unwrap(), "Acme");
    }
}
