//! Roles within a workspace. Owner > admin > agent: each role can do everything the roles
//! below it can.

use crate::ValidationError;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            other => Err(ValidationError::new(
                "invalid_role",
                format!("`{other}` is not a role; use owner, admin or agent."),
            )
            .on("role")),
        }
    }

    /// Whether this role includes everything `required` may do.
    pub fn at_least(self, required: Role) -> bool {
        self >= required
    }

    /// Admins manage members, invitations, tokens and settings; only an owner may hand out
    /// or take away the owner role.
    pub fn can_grant(self, role: Role) -> bool {
        match role {
            Role::Owner => self == Role::Owner,
            Role::Admin | Role::Agent => self.at_least(Role::Admin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Admin.at_least(Role::Agent));
        assert!(!Role::Agent.at_least(Role::Admin));
    }

    #[test]
    fn only_owners_grant_ownership() {
        assert!(Role::Owner.can_grant(Role::Owner));
        assert!(!Role::Admin.can_grant(Role::Owner));
        assert!(Role::Admin.can_grant(Role::Agent));
        assert!(!Role::Agent.can_grant(Role::Agent));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert_eq!(Role::parse("root").unwrap_err().code, "invalid_role");
    }
}
