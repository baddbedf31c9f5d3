//! Audit events as data: the domain decides what is recorded, storage writes
//! it in the same transaction as the change it records.

use crate::access::CredentialKind;
use crate::id::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares the audit actions once: each variant with the name the API,
/// the database and the PostgreSQL change trigger know it by.
macro_rules! audit_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// What an audit event records. The names are the API's (`pat.created`);
        /// stored events keep the name, so a name never changes.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            /// Every action, in the order the API lists them.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            pub fn parse(name: &str) -> Option<AuditAction> {
                match name {
                    $($name => Some(AuditAction::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

audit_actions! {
    OrgCreated => "org.created",
    OrgPlanChanged => "org.plan_changed",
    MemberInvited => "member.invited",
    MemberInviteReissued => "member.invite_reissued",
    MemberInviteWithdrawn => "member.invite_withdrawn",
    MemberJoined => "member.joined",
    MemberUpdated => "member.updated",
    MemberRoleChanged => "member.role_changed",
    MemberSuspended => "member.suspended",
    MemberUnsuspended => "member.unsuspended",
    MemberRemoved => "member.removed",
    ProjectCreated => "project.created",
    ProjectUpdated => "project.updated",
    ProjectDeleted => "project.deleted",
    ProjectAccessGranted => "project_access.granted",
    ProjectAccessRevoked => "project_access.revoked",
    RoleCreated => "role.created",
    RoleUpdated => "role.updated",
    RoleDeleted => "role.deleted",
    TeamCreated => "team.created",
    TeamUpdated => "team.updated",
    TeamDeleted => "team.deleted",
    TeamMemberAdded => "team.member_added",
    TeamMemberRemoved => "team.member_removed",
    TeamProjectAccessGranted => "team.project_access_granted",
    TeamProjectAccessRevoked => "team.project_access_revoked",
    PatCreated => "pat.created",
    PatUpdated => "pat.updated",
    PatRotated => "pat.rotated",
    PatRevoked => "pat.revoked",
    ApiKeyCreated => "api_key.created",
    ApiKeyUpdated => "api_key.updated",
    ApiKeyRotated => "api_key.rotated",
    ApiKeyRevoked => "api_key.revoked",
    ServiceAccountCreated => "service_account.created",
    ServiceAccountUpdated => "service_account.updated",
    ServiceAccountRotated => "service_account.rotated",
    ServiceAccountDeleted => "service_account.deleted",
    UserPasswordChanged => "user.password_changed",
    // Records no change: the PostgreSQL trigger that tells other replicas
    // of changes (migration 0004) skips it by this name.
    AuthRefused => "auth.refused",
}

/// What an audit event is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Org,
    User,
    Project,
    Role,
    Pat,
    ApiKey,
    ServiceAccount,
    Team,
}

impl TargetKind {
    pub const ALL: [TargetKind; 8] = [
        TargetKind::Org,
        TargetKind::User,
        TargetKind::Project,
        TargetKind::Role,
        TargetKind::Pat,
        TargetKind::ApiKey,
        TargetKind::ServiceAccount,
        TargetKind::Team,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TargetKind::Org => "org",
            TargetKind::User => "user",
            TargetKind::Project => "project",
            TargetKind::Role => "role",
            TargetKind::Pat => "pat",
            TargetKind::ApiKey => "api_key",
            TargetKind::ServiceAccount => "service_account",
            TargetKind::Team => "team",
        }
    }

    pub fn parse(name: &str) -> Option<TargetKind> {
        TargetKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ServiceAccount,
    ApiKey,
}

impl ActorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ServiceAccount => "service_account",
            ActorKind::ApiKey => "api_key",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        match s {
            "user" => Some(ActorKind::User),
            "service_account" => Some(ActorKind::ServiceAccount),
            "api_key" => Some(ActorKind::ApiKey),
            _ => None,
        }
    }
}

/// Who did something: `createdBy`, `updatedBy`, an audit event's actor.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub uuid: Uuid,
    pub name: String,
}

/// The credential a request was made with; never the secret, at most its
/// display prefix.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRef {
    pub kind: CredentialKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_prefix: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetKind,
    pub uuid: Uuid,
    pub name: String,
}

/// One append-only audit event. `at` is set by the caller (time is a parameter).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub org_uuid: OrgId,
    pub at: time::OffsetDateTime,
    pub action: AuditAction,
    pub actor: Option<Actor>,
    pub credential: Option<CredentialRef>,
    pub target: Option<Target>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

/// What the instance audit log records: changes to the instance itself,
/// which belong to no organization (so never in an organization's log).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum InstanceAction {
    ResourceServerCreated,
    ResourceServerRevoked,
}

impl InstanceAction {
    pub const ALL: [InstanceAction; 2] = [
        InstanceAction::ResourceServerCreated,
        InstanceAction::ResourceServerRevoked,
    ];

    /// Stored events keep the name, so a name never changes.
    pub const fn as_str(self) -> &'static str {
        match self {
            InstanceAction::ResourceServerCreated => "resource_server.created",
            InstanceAction::ResourceServerRevoked => "resource_server.revoked",
        }
    }

    pub fn parse(name: &str) -> Option<InstanceAction> {
        InstanceAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One append-only event of the instance log. The actor is who ran the
/// operator command (`operator`); the target is named, never its secret.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceAuditEvent {
    pub at: time::OffsetDateTime,
    pub action: InstanceAction,
    pub actor: String,
    pub target_uuid: Uuid,
    pub target_name: String,
    pub details: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_action_names_read_back() {
        for a in InstanceAction::ALL {
            assert_eq!(InstanceAction::parse(a.as_str()), Some(a));
            assert_eq!(AuditAction::parse(a.as_str()), None, "one log per name");
        }
    }

    #[test]
    fn action_and_target_names_read_back() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        for k in TargetKind::ALL {
            assert_eq!(TargetKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.as_str(), "the API's name is the stored one");
        }
        assert_eq!(AuditAction::parse("pat.deleted"), None);
        let unique: std::collections::HashSet<_> =
            AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(unique.len(), AuditAction::ALL.len());
    }
}
