//! Why a client command failed, its exit code, and how it is reported.

use crate::output::Mode;
use serde_json::{json, Value};
use std::fmt;

/// Why a client command failed, and so its exit code.
pub enum Failure {
    /// The API answered with its error envelope: exit 1.
    Api {
        status: u16,
        code: String,
        message: String,
        details: Option<Value>,
    },
    /// Refused here before asking the server to act (no such name, two
    /// things with that name): exit 1.
    Refused { code: &'static str, message: String },
    /// Wrong usage or no login configured: exit 2.
    Usage(String),
    /// No answer, or an answer that is not latchkey's API: exit 3.
    Unreachable(String),
    /// A local problem (the config file): exit 1.
    Local(String),
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Api { .. } | Failure::Refused { .. } | Failure::Local(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
        }
    }

    fn code(&self) -> &str {
        match self {
            Failure::Api { code, .. } => code,
            Failure::Refused { code, .. } => code,
            Failure::Usage(_) => "usage",
            Failure::Unreachable(_) => "unreachable",
            Failure::Local(_) => "local_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Api { message, .. } => message.clone(),
            Failure::Refused { message, .. }
            | Failure::Usage(message)
            | Failure::Unreachable(message)
            | Failure::Local(message) => message.clone(),
        }
    }

    /// To stderr: `latchkey: code: message`, or with `--json` one JSON line
    /// (the API's error object, or the same shape for a local failure).
    pub fn report(&self, mode: Mode) {
        if mode.json {
            let mut error = json!({ "code": self.code(), "message": self.message() });
            if let Failure::Api {
                status, details, ..
            } = self
            {
                error["statusCode"] = json!(status);
                if let Some(d) = details {
                    error["details"] = d.clone();
                }
            }
            eprintln!("{}", json!({ "status": "error", "error": error }));
            return;
        }
        match self {
            Failure::Api {
                status,
                code,
                message,
                details,
            } => {
                let mut line = format!("latchkey: {code}: {message} (HTTP {status})");
                if let Some(field) = details
                    .as_ref()
                    .and_then(|d| d.get("field"))
                    .and_then(Value::as_str)
                {
                    line.push_str(&format!(" [field {field}]"));
                }
                eprintln!("{line}");
                if *status == 401 {
                    eprintln!(
                        "latchkey: hint: the server refused the token; use another one (`latchkey login URL --token-stdin`, LATCHKEY_TOKEN or --token)"
                    );
                }
            }
            Failure::Usage(m) => eprintln!("latchkey: usage: {m}"),
            other => eprintln!("latchkey: {}: {}", other.code(), other.message()),
        }
    }
}
