//! The README's "Protect a service" shows the example files the proxy tests
//! run, verbatim: a change to one that is not made in the other fails here.

use crate::harness;

#[test]
fn the_readme_shows_every_example_as_it_is() {
    let readme = std::fs::read_to_string(harness::repo().join("README.md")).expect("README.md");
    for file in [
        "latchkey.toml",
        "nginx/latchkey.conf",
        "caddy/Caddyfile",
        "traefik/traefik.yml",
        "traefik/dynamic.yml",
        "envoy/envoy.yaml",
    ] {
        let text = harness::example(file);
        assert!(
            readme.contains(text.trim_end()),
            "README.md does not show examples/{file} as it is"
        );
    }
}
