//! The container deployment: `docker-compose.yml` cannot run on the development machines (no
//! Docker engine), so this checks that it parses and wires every service.

use serde_yaml::Value;

use crate::helpers::services_of_the_cli;

fn compose_file() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let text = std::fs::read_to_string(path).expect("docker-compose.yml at the repository root");
    let mut value: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML");
    // Compose resolves `<<:` merge keys (the shared service settings); do the same.
    value.apply_merge().expect("merge keys resolve");
    value
}

const STORES: &[&str] = &["postgres", "mongodb", "redis", "rabbitmq"];

#[test]
fn docker_compose_runs_every_store_and_service_with_health_checks() {
    let compose = compose_file();
    let services = compose["services"]
        .as_mapping()
        .expect("a services mapping");
    // The services of the binary's one list, as `emporium serve --help` names them.
    let roles = services_of_the_cli();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    for name in STORES.iter().chain(&roles) {
        let service = services
            .get(*name)
            .unwrap_or_else(|| panic!("docker-compose.yml has no {name} service"));
        assert!(
            service["healthcheck"]["test"].is_sequence(),
            "{name} has no health check"
        );
    }
    for name in &roles {
        let service = &services[*name];
        let command: Vec<&str> = service["command"]
            .as_sequence()
            .expect("command")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(command, ["serve", name], "{name} runs its own role");
        assert_eq!(
            service["image"].as_str(),
            Some("emporium:latest"),
            "{name} uses the one image"
        );
        assert!(
            service["depends_on"].is_mapping(),
            "{name} waits for what it needs"
        );
    }
    assert_eq!(services["router"]["ports"][0].as_str(), Some("4000:4000"));
    let mongo_command: Vec<&str> = services["mongodb"]["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        mongo_command.contains(&"--replSet"),
        "MongoDB runs as a replica set (transactions need one)"
    );
}

#[test]
fn the_dockerfile_builds_the_one_binary() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile"))
        .expect("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked -p emporium"));
    assert!(dockerfile.contains("ENTRYPOINT [\"emporium\"]"));
}

/// The containers that keep data, and where each keeps it.
const STATEFUL: &[(&str, &str)] = &[
    ("postgres", "/var/lib/postgresql/data"),
    ("mongodb", "/data/db"),
    ("redis", "/data"),
    ("rabbitmq", "/var/lib/rabbitmq"),
    // The token signing key.
    ("users", "/var/lib/emporium"),
    // The key that opens sealed card tokens.
    ("payments", "/var/lib/emporium"),
    // The search index.
    ("search", "/var/lib/emporium"),
];

#[test]
fn every_stateful_container_keeps_its_data_in_a_named_volume() {
    let compose = compose_file();
    let declared = compose["volumes"].as_mapping().expect("top-level volumes");
    for (name, path) in STATEFUL {
        let mounts: Vec<&str> = compose["services"][*name]["volumes"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} has no volume"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mount = mounts
            .iter()
            .find(|m| m.ends_with(&format!(":{path}")))
            .unwrap_or_else(|| panic!("{name} does not keep {path} in a volume: {mounts:?}"));
        let volume = mount.split(':').next().expect("a volume name");
        assert!(
            declared.contains_key(volume),
            "{name}'s volume {volume} is a named volume"
        );
    }
    // RabbitMQ finds its data by node name: the hostname must not change with the container.
    assert_eq!(
        compose["services"]["rabbitmq"]["hostname"].as_str(),
        Some("rabbitmq")
    );
    assert_eq!(
        compose["services"]["redis"]["command"][2].as_str(),
        Some("yes"),
        "Redis writes its append-only file"
    );
}

#[test]
fn the_admin_passwords_and_the_seed_toggle_are_settings_of_the_compose_file() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docker-compose.yml"
    ))
    .expect("docker-compose.yml");
    let compose = compose_file();
    let users = &compose["services"]["users"]["environment"];
    for variable in ["EMPORIUM_ADMIN_EMAIL", "EMPORIUM_ADMIN_PASSWORD"] {
        let value = users[variable].as_str().unwrap_or_default();
        assert!(
            value.starts_with(&format!("${{{variable}:?")),
            "{variable} is required from the environment: {value:?}"
        );
    }
    assert!(users["EMPORIUM_ADMIN_NAME"].is_string());
    let seed = &compose["services"]["seed"];
    assert_eq!(seed["command"][0].as_str(), Some("seed"));
    assert_eq!(
        seed["environment"]["EMPORIUM_SEED_DEMO_CATALOG"].as_str(),
        Some("${EMPORIUM_SEED_DEMO_CATALOG:-true}"),
        "the seed service honours the toggle"
    );
    // Every database URL and the broker's carry the configured password; nothing trusts.
    for (variable, value) in compose["x-emporium"]["environment"]
        .as_mapping()
        .expect("shared environment")
    {
        let (Some(variable), Some(value)) = (variable.as_str(), value.as_str()) else {
            continue;
        };
        if variable.ends_with("DATABASE_URL") {
            assert!(
                value.starts_with("postgres://emporium:${EMPORIUM_POSTGRES_PASSWORD:-"),
                "{variable}={value}"
            );
        }
    }
    assert!(compose["x-emporium"]["environment"]["EMPORIUM_AMQP_URL"]
        .as_str()
        .is_some_and(|url| url.contains("${EMPORIUM_RABBITMQ_PASSWORD:-")));
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example"))
        .expect(".env.example");
    for variable in [
        "EMPORIUM_ADMIN_EMAIL",
        "EMPORIUM_ADMIN_PASSWORD",
        "EMPORIUM_POSTGRES_PASSWORD",
        "EMPORIUM_RABBITMQ_PASSWORD",
        "EMPORIUM_SEED_DEMO_CATALOG",
    ] {
        assert!(
            text.contains(variable),
            "the compose file documents {variable}"
        );
        assert!(
            example.contains(&format!("{variable}=")),
            ".env.example lists {variable}"
        );
    }
}

#[test]
fn the_docker_build_context_leaves_out_build_output_packages_keys_and_git() {
    let ignore = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.dockerignore"))
        .expect(".dockerignore at the repository root");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for excluded in ["target/", "node_modules/", ".emporium/", ".git/", ".env"] {
        assert!(
            patterns.contains(&excluded),
            ".dockerignore lacks {excluded}"
        );
    }
    for needed in ["data", "schema.graphql", "migrations", "Cargo.lock"] {
        assert!(
            !patterns.iter().any(|p| p.trim_end_matches('/') == needed),
            "the build needs {needed}"
        );
    }
}
