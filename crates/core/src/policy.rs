//! Expiry and rotation rules for every kind of credential.

use time::{Duration, OffsetDateTime};

/// A credential may be rotated at most once in this long.
pub const ROTATION_COOLDOWN: Duration = Duration::hours(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialState {
    Active,
    Expired,
    Revoked,
}

pub fn credential_state(
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> CredentialState {
    if revoked_at.is_some() {
        CredentialState::Revoked
    } else if expires_at.is_some_and(|e| e <= now) {
        CredentialState::Expired
    } else {
        CredentialState::Active
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the expiry must be in the future")]
    ExpiryNotInFuture,
    #[error("the expiry may be brought forward, never pushed back")]
    ExpiryExtension,
    #[error("an expired credential cannot be rotated")]
    CredentialExpired,
    /// A credential made or rotated with a token may not outlive that token.
    #[error("a credential may not expire later than the token that makes it")]
    LifetimeTooLong { max_expires_at: OffsetDateTime },
    #[error("a credential without an expiry cannot be rotated")]
    RotationRequiresExpiry,
    #[error("a credential can be rotated at most once per hour")]
    RotationTooSoon { retry_after_secs: u64 },
}

/// An expiry given at creation.
pub fn check_new_expiry(
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), PolicyError> {
    match expires_at {
        Some(e) if e <= now => Err(PolicyError::ExpiryNotInFuture),
        _ => Ok(()),
    }
}

/// An expiry given in an edit: only ever earlier than the current one (API.md:
/// `expiry_extension_not_allowed`). A first expiry on a credential that has
/// none is allowed: it only shortens its life.
pub fn check_expiry_change(
    current: Option<OffsetDateTime>,
    requested: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), PolicyError> {
    match current {
        Some(c) if requested > c => Err(PolicyError::ExpiryExtension),
        _ if requested <= now => Err(PolicyError::ExpiryNotInFuture),
        _ => Ok(()),
    }
}

/// Nothing mints a credential more powerful than itself, in time as well: a
/// credential created or rotated with a token that expires may not expire
/// later than it (nor never). `minter` is `None` for a web session or a token
/// without an expiry: no cap.
pub fn check_lifetime(
    minter: Option<OffsetDateTime>,
    requested: Option<OffsetDateTime>,
) -> Result<(), PolicyError> {
    match (minter, requested) {
        (Some(max), None) => Err(PolicyError::LifetimeTooLong {
            max_expires_at: max,
        }),
        (Some(max), Some(e)) if e > max => Err(PolicyError::LifetimeTooLong {
            max_expires_at: max,
        }),
        _ => Ok(()),
    }
}

/// Rotation: the credential must have an expiry, the new one must be in the
/// future, and the previous rotation (if any) at least an hour ago.
pub fn check_rotation(
    current_expiry: Option<OffsetDateTime>,
    last_rotated: Option<OffsetDateTime>,
    new_expiry: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), PolicyError> {
    match current_expiry {
        None => return Err(PolicyError::RotationRequiresExpiry),
        // A rotation would bring a dead credential back to life.
        Some(e) if e <= now => return Err(PolicyError::CredentialExpired),
        Some(_) => {}
    }
    if let Some(last) = last_rotated {
        let next_allowed = last + ROTATION_COOLDOWN;
        if next_allowed > now {
            let wait = (next_allowed - now).whole_seconds().max(1) as u64;
            return Err(PolicyError::RotationTooSoon {
                retry_after_secs: wait,
            });
        }
    }
    check_new_expiry(Some(new_expiry), now)
}

/// The latest previous rotation that still allows a rotation at `now`;
/// storage makes the rotation conditional on it so two racing replicas
/// cannot both rotate within the hour.
pub fn rotation_allowed_if_last_before(now: OffsetDateTime) -> OffsetDateTime {
    now - ROTATION_COOLDOWN
}

/// Whole days from `now` until `expires_at`, a partial day counting as a
/// whole one: the "expires in N days" of the pages and of the CLI, so that a
/// token made to last 30 days says 30 days a moment later. Zero or less once
/// expired (rounded up as well: a day and a half ago is `-1`).
pub fn days_left(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let left = (expires_at - now).whole_nanoseconds();
    let day = Duration::DAY.whole_nanoseconds();
    // Integer division truncates toward zero: up for the past already.
    let days = if left > 0 {
        (left + day - 1) / day
    } else {
        left / day
    };
    days as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    #[test]
    fn state_follows_revocation_then_expiry() {
        use CredentialState::*;
        assert_eq!(credential_state(None, None, NOW), Active);
        assert_eq!(credential_state(Some(NOW), None, NOW), Expired);
        assert_eq!(
            credential_state(Some(NOW + Duration::SECOND), None, NOW),
            Active
        );
        assert_eq!(
            credential_state(Some(NOW - Duration::DAY), Some(NOW), NOW),
            Revoked
        );
    }

    #[test]
    fn expiry_can_only_come_forward() {
        let current = Some(NOW + Duration::days(30));
        assert_eq!(
            check_expiry_change(current, NOW + Duration::days(7), NOW),
            Ok(())
        );
        assert_eq!(
            check_expiry_change(current, NOW + Duration::days(30), NOW),
            Ok(())
        );
        assert_eq!(
            check_expiry_change(current, NOW + Duration::days(31), NOW),
            Err(PolicyError::ExpiryExtension)
        );
        // A first expiry only shortens a credential's life.
        assert_eq!(
            check_expiry_change(None, NOW + Duration::days(1), NOW),
            Ok(())
        );
        assert_eq!(
            check_expiry_change(None, NOW, NOW),
            Err(PolicyError::ExpiryNotInFuture)
        );
        assert_eq!(
            check_expiry_change(current, NOW - Duration::SECOND, NOW),
            Err(PolicyError::ExpiryNotInFuture)
        );
    }

    #[test]
    fn rotation_rules() {
        let exp = Some(NOW + Duration::days(1));
        let next = NOW + Duration::days(30);
        assert_eq!(
            check_rotation(None, None, next, NOW),
            Err(PolicyError::RotationRequiresExpiry)
        );
        assert_eq!(check_rotation(exp, None, next, NOW), Ok(()));
        assert_eq!(
            check_rotation(exp, None, NOW, NOW),
            Err(PolicyError::ExpiryNotInFuture)
        );
        assert_eq!(
            check_rotation(exp, Some(NOW - Duration::minutes(59)), next, NOW),
            Err(PolicyError::RotationTooSoon {
                retry_after_secs: 60
            })
        );
        assert_eq!(
            check_rotation(exp, Some(NOW - Duration::HOUR), next, NOW),
            Ok(())
        );
        // An expired credential stays dead.
        assert_eq!(
            check_rotation(Some(NOW - Duration::DAY), None, next, NOW),
            Err(PolicyError::CredentialExpired)
        );
        assert_eq!(
            check_rotation(Some(NOW), None, next, NOW),
            Err(PolicyError::CredentialExpired)
        );
        assert_eq!(rotation_allowed_if_last_before(NOW), NOW - Duration::HOUR);
    }

    #[test]
    fn nothing_outlives_its_minter() {
        let max = NOW + Duration::days(1);
        assert_eq!(check_lifetime(None, None), Ok(()));
        assert_eq!(
            check_lifetime(None, Some(NOW + Duration::days(900))),
            Ok(())
        );
        assert_eq!(check_lifetime(Some(max), Some(max)), Ok(()));
        assert_eq!(check_lifetime(Some(max), Some(NOW)), Ok(()));
        let too_long = Err(PolicyError::LifetimeTooLong {
            max_expires_at: max,
        });
        assert_eq!(check_lifetime(Some(max), None), too_long);
        assert_eq!(
            check_lifetime(Some(max), Some(max + Duration::SECOND)),
            too_long
        );
    }

    #[test]
    fn days_left_rounds_partial_days_up() {
        let thirty = NOW + Duration::days(30);
        assert_eq!(days_left(thirty - Duration::SECOND, NOW), 30);
        assert_eq!(days_left(thirty, NOW), 30);
        assert_eq!(days_left(thirty + Duration::NANOSECOND, NOW), 31);
        assert_eq!(days_left(NOW + Duration::SECOND, NOW), 1);
        assert_eq!(days_left(NOW + Duration::DAY, NOW), 1);
        assert_eq!(days_left(NOW, NOW), 0);
        assert_eq!(days_left(NOW - Duration::SECOND, NOW), 0);
        assert_eq!(days_left(NOW - Duration::hours(36), NOW), -1);
    }
}
