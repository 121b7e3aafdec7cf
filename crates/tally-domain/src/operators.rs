//! Operators: the people who run a tenant's programs in the console. Each has one role; what a
//! role may do is decided here, once, so every page asks the same question the same way.

use crate::ids::{OperatorId, TenantId};
use crate::text::Email;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Serves customers at the till: the cashier screen only.
    Cashier,
    /// Runs the program: members, rewards, locations, dashboard.
    Manager,
    /// Everything a manager does, plus API keys, operators and program settings.
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Manager, Role::Cashier];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Cashier => "cashier",
        }
    }

    pub fn parse(raw: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| "must be one of owner, manager, cashier".to_owned())
    }

    /// The dashboard, members, rewards and locations.
    pub fn can_manage(self) -> bool {
        self >= Role::Manager
    }

    /// API keys, operators and program settings.
    pub fn can_administer(self) -> bool {
        self == Role::Owner
    }
}

/// An operator account as the console sees it (never with its password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub id: OperatorId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    /// `en` or `pl`: the console's language for this operator.
    pub locale: String,
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_their_names_say() {
        assert!(!Role::Cashier.can_manage());
        assert!(Role::Manager.can_manage() && !Role::Manager.can_administer());
        assert!(Role::Owner.can_manage() && Role::Owner.can_administer());
        assert_eq!(Role::parse("manager"), Ok(Role::Manager));
        assert!(Role::parse("admin").is_err());
    }
}
