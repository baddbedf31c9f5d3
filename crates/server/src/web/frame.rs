//! The frame of a page that needs no visitor (sign-in, errors before or
//! without a session), and the notice every page may carry. The page shell
//! (`layout`) builds on it; the visitor and form extractors answer with it.

use super::client::Failure;
use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

/// A message at the top of a page.
pub enum Notice {
    Success(String),
    Error(String),
}

impl Notice {
    pub fn failed(failure: &Failure) -> Option<Notice> {
        Some(Notice::Error(failure.text()))
    }

    /// The message a `?done=` redirect asks for; only these fixed texts.
    pub fn done(key: Option<&str>) -> Option<Notice> {
        let text = match key? {
            "revoked" => "Token revoked. Anything still using it is refused from now on.",
            "updated" => "Saved.",
            "deleted" => "Deleted.",
            "removed" => "Removed.",
            "created" => "Created.",
            "switched" => "Switched organization.",
            "password_changed" => {
                "Password changed. Every other session of your account is signed out."
            }
            "signed_out" => "Signed out.",
            _ => return None,
        };
        Some(Notice::Success(text.into()))
    }
}

pub(super) fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · latchkey" }
            link rel="stylesheet" href="/assets/app.css";
            script src="/assets/app.js" defer {}
        }
    }
}

pub(super) fn notice(notice: Option<&Notice>) -> Markup {
    html! {
        @match notice {
            Some(Notice::Success(text)) => p.notice.success role="status" { (text) },
            Some(Notice::Error(text)) => p.notice.error role="alert" { (text) },
            None => {}
        }
    }
}

/// A page outside the settings: sign-in, invites, errors without a session.
pub fn plain(title: &str, flash: Option<&Notice>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.plain {
                main #main.card {
                    p.brand { "latchkey" }
                    h1 { (title) }
                    (notice(flash))
                    (content)
                }
            }
        }
    }
}

pub fn bare_error(status: StatusCode, message: &str) -> (StatusCode, Markup) {
    (
        status,
        plain(
            status.canonical_reason().unwrap_or("Error"),
            Some(&Notice::Error(message.into())),
            html! { p { a href="/settings/tokens" { "Back to settings" } } },
        ),
    )
}
