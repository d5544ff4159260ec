//! Tells the tests which services this machine lacks (`missing_redis`,
//! `missing_postgres`), so that a test needing one is reported as ignored
//! outside CI rather than passing without having run. With `CI` set nothing
//! is ignored: `scripts/test` installs the services, and a missing one fails.

use std::path::Path;

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}

fn postgres_installed() -> bool {
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .filter_map(Result::ok)
            .any(|v| v.path().join("bin/initdb").is_file())
    })
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    // Installing a package changes these directories: the check runs again.
    for dir in ["/usr/bin", "/usr/lib/postgresql"] {
        if Path::new(dir).is_dir() {
            println!("cargo::rerun-if-changed={dir}");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(missing_redis, missing_postgres)");
    if std::env::var_os("CI").is_some() {
        return;
    }
    if !(on_path("redis-server") && on_path("redis-cli")) {
        println!("cargo::rustc-cfg=missing_redis");
    }
    if !postgres_installed() {
        println!("cargo::rustc-cfg=missing_postgres");
    }
}
