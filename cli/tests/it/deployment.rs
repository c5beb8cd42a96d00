//! The container deployment: `docker-compose.yml` cannot run on the development machines (no
//! Docker engine), so this checks that it parses and wires every service.

use serde_yaml::Value;

fn compose_file() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let text = std::fs::read_to_string(path).expect("docker-compose.yml at the repository root");
    let mut value: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML");
    // Compose resolves `<<:` merge keys (the shared service settings); do the same.
    value.apply_merge().expect("merge keys resolve");
    value
}

/// The `emporium serve <service>` roles; each must have a container.
const SERVICES: &[&str] = &[
    "router",
    "users",
    "products",
    "inventory",
    "search",
    "orders",
    "payments",
    "notifications",
];
const STORES: &[&str] = &["postgres", "mongodb", "redis", "rabbitmq"];

#[test]
fn docker_compose_runs_every_store_and_service_with_health_checks() {
    let compose = compose_file();
    let services = compose["services"]
        .as_mapping()
        .expect("a services mapping");
    for name in STORES.iter().chain(SERVICES) {
        let service = services
            .get(*name)
            .unwrap_or_else(|| panic!("docker-compose.yml has no {name} service"));
        assert!(
            service["healthcheck"]["test"].is_sequence(),
            "{name} has no health check"
        );
    }
    for name in SERVICES {
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
