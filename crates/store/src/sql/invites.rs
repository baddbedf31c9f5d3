//! Invitations: adding a person as an invited member, the links that let
//! them accept, and accepting.

use super::members::{insert_membership, insert_user};
use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::{Result, StoreError};
use latchkey_core::{AuditEvent, TokenHash};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

/// Invitations of one account are decided one after another: two
/// organizations inviting a new person at once cannot both hand out the link
/// that sets the password (PostgreSQL runs them in READ COMMITTED).
async fn lock_user(conn: &mut AnyConnection, user: UserId) -> Result<()> {
    let done = sqlx::query("UPDATE users SET uuid = uuid WHERE uuid = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    expect_one(done.rows_affected())
}

/// Whether an invitation being issued may set the account's password: the
/// account has none, and nothing in any other organization (no membership,
/// no pending invitation).
async fn first_invitation(conn: &mut AnyConnection, org: OrgId, user: UserId) -> Result<bool> {
    let row = sqlx::query(
        "SELECT (SELECT password_hash FROM users WHERE uuid = $2) AS password_hash, \
         (SELECT COUNT(*) FROM memberships WHERE user_uuid = $2 AND org_uuid <> $1) AS elsewhere",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_one(conn)
    .await?;
    let password: Option<String> = row.try_get("password_hash")?;
    let elsewhere: i64 = row.try_get("elsewhere")?;
    Ok(password.is_none() && elsewhere == 0)
}

async fn insert_invite(
    conn: &mut AnyConnection,
    org: OrgId,
    user: UserId,
    invite: &NewInvite,
    sets_password: bool,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO invites (code_hash, org_uuid, user_uuid, created_at, expires_at, sets_password) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(invite.code_hash.to_hex())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(ts(invite.created_at))
    .bind(ts(invite.expires_at))
    .bind(i64::from(sets_password))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn add_member(
    db: &SqlStore,
    new: &NewMember,
    invite: &NewInvite,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let user_uuid = match &new.user {
        MemberUser::Existing(uuid) => *uuid,
        MemberUser::New(user) => {
            insert_user(&mut tx, user, None).await?;
            user.uuid
        }
    };
    insert_membership(
        &mut tx,
        new.org_uuid,
        user_uuid,
        new.role.base_role(),
        new.now,
        None,
    )
    .await?;
    if let Some(custom) = new.role.custom() {
        sqlx::query(
            "UPDATE memberships SET custom_role_uuid = $1 WHERE org_uuid = $2 AND user_uuid = $3",
        )
        .bind(custom.to_string())
        .bind(new.org_uuid.to_string())
        .bind(user_uuid.to_string())
        .execute(&mut *tx)
        .await?;
    }
    lock_user(&mut tx, user_uuid).await?;
    let sets_password = first_invitation(&mut tx, new.org_uuid, user_uuid).await?;
    insert_invite(&mut tx, new.org_uuid, user_uuid, invite, sets_password).await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn reissue_invite(
    db: &SqlStore,
    org: OrgId,
    user: UserId,
    invite: &NewInvite,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let (o, u) = (org.to_string(), user.to_string());
    lock_user(&mut tx, user).await?;
    sqlx::query(
        "SELECT 1 AS one FROM memberships WHERE org_uuid = $1 AND user_uuid = $2 AND accepted_at IS NULL",
    )
    .bind(&o)
    .bind(&u)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    // The right to set the password stays with the invitation that had
    // it; a later one from elsewhere cannot take it.
    let had: i64 = sqlx::query(
        "SELECT COALESCE(MAX(sets_password), 0) AS had FROM invites WHERE org_uuid = $1 AND user_uuid = $2",
    )
    .bind(&o)
    .bind(&u)
    .fetch_one(&mut *tx)
    .await?
    .try_get("had")?;
    let sets_password = had != 0 || first_invitation(&mut tx, org, user).await?;
    sqlx::query("DELETE FROM invites WHERE org_uuid = $1 AND user_uuid = $2")
        .bind(&o)
        .bind(&u)
        .execute(&mut *tx)
        .await?;
    insert_invite(&mut tx, org, user, invite, sets_password).await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn withdraw_invite(
    db: &SqlStore,
    org: OrgId,
    user: UserId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let (o, u) = (org.to_string(), user.to_string());
    let done = sqlx::query(
        "DELETE FROM memberships WHERE org_uuid = $1 AND user_uuid = $2 AND accepted_at IS NULL",
    )
    .bind(&o)
    .bind(&u)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM invites WHERE org_uuid = $1 AND user_uuid = $2")
        .bind(&o)
        .bind(&u)
        .execute(&mut *tx)
        .await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn pending_invite(
    db: &SqlStore,
    code_hash: &TokenHash,
    now: OffsetDateTime,
) -> Result<Option<PendingInvite>> {
    let row = sqlx::query(
        "SELECT org_uuid, user_uuid, sets_password, expires_at FROM invites \
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(code_hash.to_hex())
    .bind(ts(now))
    .fetch_optional(&db.read)
    .await?;
    row.map(|row| {
        Ok(PendingInvite {
            org_uuid: uuid_at(&row, "org_uuid")?,
            user_uuid: uuid_at(&row, "user_uuid")?,
            sets_password: row.try_get::<i64, _>("sets_password")? != 0,
            expires_at: time_at(&row, "expires_at")?,
        })
    })
    .transpose()
}

pub(super) async fn accept_invite(
    db: &SqlStore,
    code_hash: &TokenHash,
    acceptance: &Acceptance<'_>,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<(User, OrgId)> {
    let mut tx = db.write.begin().await?;
    // The conditional update is what makes a code work once, even when
    // two requests race, and only in the way its invitation allows.
    let (sets_password, session_user) = match acceptance {
        Acceptance::SetPassword { .. } => (1i64, None),
        Acceptance::BySession { user_uuid } => (0, Some(user_uuid.to_string())),
    };
    let row = sqlx::query(
        "UPDATE invites SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         AND ($3 = 0 OR sets_password = 1) AND ($4 IS NULL OR user_uuid = $4) \
         RETURNING user_uuid, org_uuid",
    )
    .bind(ts(now))
    .bind(code_hash.to_hex())
    .bind(sets_password)
    .bind(session_user)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let user_uuid = uuid_at::<UserId>(&row, "user_uuid")?;
    let org_uuid = uuid_at::<OrgId>(&row, "org_uuid")?;
    let u = user_uuid.to_string();
    // Organizations besides the audited one whose caches must hear of this.
    let mut touched: Vec<OrgId> = Vec::new();
    if let Acceptance::SetPassword {
        password_hash,
        name,
    } = acceptance
    {
        // Never over a password the account has: only its owner changes that.
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, name = COALESCE($2, name) \
             WHERE uuid = $3 AND password_hash IS NULL",
        )
        .bind(*password_hash)
        .bind(name.map(str::to_string))
        .bind(&u)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        // Setting a password ends every session of the account, in any
        // organization: each one's caches are told.
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_uuid = $2 AND revoked_at IS NULL \
             RETURNING org_uuid",
        )
        .bind(ts(now))
        .bind(&u)
        .fetch_all(&mut *tx)
        .await?;
        for row in &ended {
            let org = uuid_at(row, "org_uuid")?;
            if org != org_uuid && !touched.contains(&org) {
                touched.push(org);
            }
        }
    }
    let done = sqlx::query(
        "UPDATE memberships SET accepted_at = $1 WHERE org_uuid = $2 AND user_uuid = $3 AND accepted_at IS NULL",
    )
    .bind(ts(now))
    .bind(org_uuid.to_string())
    .bind(&u)
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.uuid = $1");
    let user = user_from(&sqlx::query(&sql).bind(&u).fetch_one(&mut *tx).await?)?;
    db.finish_also(tx, audit, &touched).await?;
    Ok((user, org_uuid))
}
