//! latchkey's domain rules, in plain Rust with no I/O.
//!
//! Everything that decides *whether* something is allowed lives here: roles and
//! their scope sets, how a credential's effective scopes are computed, the token
//! format, the keyed hash that is all latchkey ever stores of a token, and the
//! expiry and rotation rules. Time is always a parameter, never read here.

pub mod access;
pub mod audit;
pub mod forward;
pub mod grant;
pub mod id;
pub mod limits;
pub mod policy;
pub mod role;
pub mod scope;
pub mod secret;
pub mod throttle;
pub mod token;

pub use access::{Access, AccountScope, CredentialKind};
pub use audit::{
    Actor, ActorKind, AuditAction, AuditEvent, CredentialRef, InstanceAction, InstanceAuditEvent,
    Target, TargetKind,
};
pub use grant::{Grant, Reach, RoleRef};
pub use id::{CredentialId, OrgId, ProjectId, RoleId, SessionId, TeamId, UserId};
pub use role::{Plan, Role};
pub use scope::{Scope, ScopeCatalog, ScopeSet};
pub use secret::{ExposeSecret, SecretString};
pub use token::{TokenHash, TokenHasher, TokenKind, TokenSecret};
