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

/// A workspace's display name: 1 to 100 characters after trimming.
pub fn parse_workspace_name(input: &str) -> Result<String, ValidationError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ValidationError::new(
            "invalid_name",
            "A workspace name is 1 to 100 characters.",
        )
        .on("name"));
    }
    Ok(name.to_owned())
}
