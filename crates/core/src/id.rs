//! Typed identifiers. Every stored thing is named by a UUID, and a function
//! that takes an organization and a user should not accept them swapped: each
//! kind of thing has its own id type, a UUID underneath and on the wire.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id: random (version 4), as every id latchkey makes.
            pub fn random() -> $name {
                $name(Uuid::new_v4())
            }

            pub const fn from_uuid(uuid: Uuid) -> $name {
                $name(uuid)
            }

            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> $name {
                $name(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<$name, uuid::Error> {
                Uuid::try_parse(s).map($name)
            }
        }
    )*};
}

ids! {
    /// An organization.
    OrgId;
    /// A user (an account, in any number of organizations).
    UserId;
    /// A project of an organization.
    ProjectId;
    /// A credential of any kind: personal access token, API key, service
    /// account, resource server.
    CredentialId;
    /// A custom role.
    RoleId;
    /// A web session, as its owner's list names it (never its secret id).
    SessionId;
    /// A team of an organization's members.
    TeamId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_uuid_in_text_and_json() {
        let uuid = Uuid::new_v4();
        let id = OrgId::from(uuid);
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(id.to_string().parse::<OrgId>().ok(), Some(id));
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, serde_json::to_string(&uuid).expect("serializes"));
        assert_eq!(serde_json::from_str::<OrgId>(&json).ok(), Some(id));
        assert!("not-a-uuid".parse::<ProjectId>().is_err());
    }
}
