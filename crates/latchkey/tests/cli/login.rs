//! Logging in, where the token comes from, exit codes.

use crate::harness::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_only_a_verified_token_privately() {
    let (server, admin, token) = start(&[]).await;
    let url = server.base();
    let home = Home::new();

    // Rejected tokens: nothing stored, the API's code said, exit 1.
    home.run_stdin(&["login", &url, "--token-stdin"], "lkpat_not-a-token\n")
        .code(1)
        .err_has("malformed_token")
        .err_has("nothing was stored");
    let (revoked_uuid, revoked) = pat(&admin, "revoked", None).await;
    let (status, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/user/me/personal-access-tokens/{revoked_uuid}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 204);
    home.run(&["login", &url, "--token", &revoked])
        .code(1)
        .err_has("token_revoked")
        .hides(&[&revoked]);
    assert!(
        !home.config_file().exists(),
        "a refused token is not stored"
    );
    assert!(!home.config_dir().exists());
    // No token at all is a usage error.
    home.run(&["login", &url]).code(2).err_has("--token-stdin");

    // A good one, from stdin; the URL's trailing slash is dropped.
    home.run_stdin(
        &["login", &format!("{url}/"), "--token-stdin"],
        &format!("{token}\n"),
    )
    .ok()
    .out_has("Acme")
    .out_has(ADMIN)
    .hides(&[&token]);
    let stored = std::fs::read_to_string(home.config_file()).unwrap();
    assert!(stored.contains(&token) && stored.contains(&format!("url = \"{url}\"")));
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&home.config_file()), 0o600);
        assert_eq!(mode_of(&home.config_dir()), 0o700);
    }

    // Every command now uses it.
    home.run(&["whoami"])
        .ok()
        .out_has("Acme")
        .out_has("admin")
        .out_has("personal access token \"cli-admin\"")
        .out_has(&token[..10])
        .hides(&[&token]);
    let me = home.run(&["whoami", "--json"]).json();
    assert_eq!(me["org"]["name"], "Acme");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["principal"]["email"], ADMIN);
    assert_eq!(me["credential"]["kind"], "pat");
    assert_eq!(me["credential"]["name"], "cli-admin");
    assert!(me["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("audit:read")));

    // Logout forgets it; a second logout has nothing to do.
    home.run(&["logout"]).ok().out_has("Logged out");
    assert!(!home.config_file().exists());
    home.run(&["whoami"]).code(2).err_has("not logged in");
    home.run(&["logout"]).ok().out_has("Not logged in");

    // A config directory made too open by someone else is tightened.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.config_dir(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        home.run(&["login", &url, "--token", &token, "--quiet"])
            .ok()
            .hides(&[&token]);
        assert_eq!(mode_of(&home.config_dir()), 0o700);
        assert_eq!(mode_of(&home.config_file()), 0o600);
        // A file someone opened up is still read, with a warning.
        std::fs::set_permissions(home.config_file(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        home.run(&["whoami", "--quiet"])
            .ok()
            .err_has("readable by others");
    }

    // Without XDG_CONFIG_HOME: the platform's config directory.
    #[cfg(target_os = "linux")]
    {
        let plain = Home::new();
        let mut cmd = plain.command(&["login", &url, "--token-stdin"], &[]);
        cmd.env_remove("XDG_CONFIG_HOME");
        Home::output(cmd, Some(&token)).ok();
        let path = plain.dir.path().join(".config/latchkey/config.toml");
        assert_eq!(mode_of(&path), 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_beats_env_beats_stored_login() {
    let (server, admin, _) = start(&[]).await;
    let url = server.base();
    let file = pat(&admin, "file", None).await.1;
    let env = pat(&admin, "env", None).await.1;
    let flag = pat(&admin, "flag", None).await.1;
    let dead = dead_url();
    let home = Home::new();
    home.run(&["login", &url, "--token", &file]).ok();
    let name = |out: Out| out.json()["credential"]["name"].clone();

    assert_eq!(name(home.run(&["whoami", "--json"])), "file");
    assert_eq!(
        name(home.run_env(&["whoami", "--json"], &[("LATCHKEY_TOKEN", &env)])),
        "env"
    );
    assert_eq!(
        name(home.run_env(
            &["whoami", "--json", "--token", &flag],
            &[("LATCHKEY_TOKEN", &env)]
        )),
        "flag"
    );
    // An empty variable (a CI secret that is not set) counts as unset.
    assert_eq!(
        name(home.run_env(&["whoami", "--json"], &[("LATCHKEY_TOKEN", "")])),
        "file"
    );
    // The URL too: the environment's beats the file's, the flag beats both.
    home.run_env(
        &["whoami"],
        &[("LATCHKEY_URL", &dead), ("LATCHKEY_TOKEN", &env)],
    )
    .code(3)
    .err_has("cannot reach");
    assert_eq!(
        name(home.run_env(
            &["whoami", "--json", "--url", &url],
            &[("LATCHKEY_URL", &dead), ("LATCHKEY_TOKEN", &env)]
        )),
        "env"
    );
    // The stored token never goes to another server than the stored one.
    home.run_env(&["whoami"], &[("LATCHKEY_URL", &dead)])
        .code(2)
        .err_has("no token for");
    home.run(&["whoami", "--url", &format!("{url}/")]).ok();

    // CI: only the environment, nothing stored.
    let ci = Home::new();
    assert_eq!(name(ci.ci(&url, &env, &["whoami", "--json"])), "env");
    ci.run_env(&["whoami"], &[("LATCHKEY_URL", &url)])
        .code(2)
        .err_has("no token for");
    assert!(!ci.config_file().exists());

    // A broken config file is named, never quoted (it may hold a token), and
    // a job with both variables does not depend on it.
    let broken = Home::new();
    std::fs::create_dir_all(broken.config_dir()).unwrap();
    std::fs::write(
        broken.config_file(),
        format!("url = \"{url}\"\ntoken = {env}\n"),
    )
    .unwrap();
    broken
        .run(&["whoami"])
        .code(1)
        .err_has("not a valid latchkey config file")
        .hides(&[&env]);
    assert_eq!(name(broken.ci(&url, &flag, &["whoami", "--json"])), "flag");
}

#[test]
fn unreachable_and_foreign_servers_exit_3() {
    let home = Home::new();
    let token = "lkpat_0000000000000000000000000000000000000";
    let dead = dead_url();
    home.ci(&dead, token, &["whoami"])
        .code(3)
        .err_has("cannot reach the latchkey server")
        .hides(&[token]);
    home.run(&["login", &dead, "--token", token])
        .code(3)
        .hides(&[token]);
    assert!(!home.config_file().exists());

    let foreign = foreign_url();
    home.ci(&foreign, token, &["tokens", "list"])
        .code(3)
        .err_has("is not a latchkey API")
        .err_has("text/html");
    home.run_stdin(&["login", &foreign, "--token-stdin"], token)
        .code(3)
        .err_has("is not a latchkey API");
    assert!(!home.config_file().exists());
    // With --json the failure is one JSON line on stderr.
    let out = home.ci(&foreign, token, &["whoami", "--json"]);
    out.code(3);
    let error: Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(error["error"]["code"], "unreachable");
    assert_eq!(out.stdout, "");
}

#[test]
fn usage_errors_exit_2_and_completions_print() {
    let home = Home::new();
    home.run(&["whoami"]).code(2).err_has("not logged in");
    home.run(&["tokens", "frobnicate"]).code(2);
    home.run(&["tokens", "create"]).code(2).err_has("--name");
    home.run(&["tokens", "rotate", "x"])
        .code(2)
        .err_has("--expires-in");
    home.run(&["tokens", "create", "--name", "x", "--expires-in", "3x"])
        .code(2)
        .err_has("not a duration");
    home.run(&[
        "tokens",
        "create",
        "--name",
        "x",
        "--expires-in",
        "1d",
        "--no-expiry",
    ])
    .code(2);
    home.run(&["tokens", "edit", "x"]).code(2);
    home.run(&["api-keys", "create", "--name", "x", "--role", "owner"])
        .code(2);
    home.run(&["members", "set-role", "a@b.test", "owner"])
        .code(2);
    home.run(&["service-accounts", "create", "--description", "x"])
        .code(2);
    home.run(&["audit", "--since", "last tuesday"]).code(2);
    home.run(&["audit", "--limit", "501"]).code(2);
    home.run(&["whoami", "--json", "--quiet"]).code(2);
    home.ci("not a url", "lkpat_x", &["whoami"])
        .code(2)
        .err_has("not a server URL");
    home.run(&["login", "ftp://example.com", "--token", "x"])
        .code(2);
    assert!(!home.config_file().exists());

    for shell in ["bash", "zsh", "fish"] {
        let out = home.run(&["completions", shell]);
        out.ok();
        assert!(
            out.stdout.len() > 1000 && out.stdout.contains("api-keys"),
            "{shell}: {out:#?}"
        );
    }
    home.run(&["completions", "tcsh"]).code(2);
}
