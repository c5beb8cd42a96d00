//! The rendered configuration, read back by hive-router's own parser.

use super::*;
use crate::settings::{LogFormat, LogLevel, RouterLog};
use hive_router::{background_tasks::BackgroundTasksManager, config::parse_yaml_config};

/// A directory of its own under the system temp dir, with the files the config names.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emporium-router-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    std::fs::write(dir.join("schema.graphql"), "type Query { a: Int }")
        .expect("temp dir is writable");
    std::fs::write(dir.join("jwks.json"), r#"{"keys":[]}"#).expect("temp dir is writable");
    dir
}

fn settings(dir: &Path, jwks: JwksSource) -> RouterSettings {
    RouterSettings {
        listen: "127.0.0.1:4100".parse().expect("a valid socket address"),
        supergraph_path: dir.join("schema.graphql"),
        subgraph_urls: vec![
            ("users".into(), "http://127.0.0.1:4001/graphql".into()),
            ("odd \"name\"\n".into(), "http://x/graphql".into()),
        ],
        jwks,
        work_dir: dir.to_path_buf(),
        max_body_bytes: 12_345,
        max_document_chars: 999,
        max_depth: 7,
        max_aliases: 9,
        max_tokens: 1_000,
        max_directives: 20,
        max_fields: 500,
        max_json_depth: 16,
        introspection: false,
        playground: true,
        metrics: true,
        metrics_port: Some(9090),
        cors_origins: vec!["https://shop.example".into()],
        cost: crate::CostSettings {
            enabled: true,
            max_cost: 500,
            default_list_size: 20,
        },
        timeouts: crate::TimeoutSettings {
            request: std::time::Duration::from_secs(20),
            subgraph: std::time::Duration::from_millis(1500),
            breaker_error_percent: 50,
            breaker_volume: 5,
            breaker_reset: std::time::Duration::from_secs(10),
        },
        rate_limit: None,
        log: RouterLog {
            level: LogLevel::Debug,
            filter: Some("info,hyper=warn".into()),
            format: LogFormat::Json,
        },
        storefront_dir: None,
    }
}

#[test]
fn the_rendered_config_is_accepted_by_hive_router_and_carries_the_settings() {
    let dir = scratch_dir("render");
    let settings = settings(&dir, JwksSource::File(dir.join("jwks.json")));

    let config = parse_yaml_config(render(&settings)).expect("hive-router accepts the config");

    assert_eq!(config.address(), "127.0.0.1:4100");
    assert_eq!(config.graphql_path(), GRAPHQL_PATH);
    assert_eq!(config.websocket_path(), Some(GRAPHQL_PATH));
    assert!(!config.laboratory.enabled);
    assert!(config.subscriptions.enabled);
    assert!(config.cors.enabled && !config.cors.allow_any_origin);
    assert_eq!(
        config.cors.policies[0].origins.as_deref(),
        Some(&["https://shop.example".to_owned()][..])
    );
    assert_eq!(config.limits.max_tokens.as_ref().map(|l| l.n), Some(1_000));
    assert_eq!(config.limits.max_directives.as_ref().map(|l| l.n), Some(20));
    assert_eq!(
        config
            .limits
            .max_depth
            .as_ref()
            .map(|l| l.ignore_introspection),
        Some(false),
        "introspection is depth-limited too"
    );
    assert!(matches!(
        config.introspection,
        Some(
            hive_router::config::introspection_policy::IntrospectionPermissionConfig::Boolean(
                false
            )
        )
    ));
    let demand = config
        .demand_control
        .as_ref()
        .expect("demand control is on");
    assert!(demand.enabled);
    assert_eq!(demand.operation_cost.max, 500);
    assert_eq!(
        config.traffic_shaping.router.request_timeout,
        std::time::Duration::from_secs(20)
    );
    assert_eq!(config.limits.max_request_body_size.to_bytes(), 12_345);
    assert_eq!(config.limits.max_depth.as_ref().map(|l| l.n), Some(14));
    assert_eq!(config.limits.max_aliases.as_ref().map(|l| l.n), Some(9));
    assert!(config.jwt.is_jwt_auth_enabled());
    assert_eq!(config.jwt.require_authentication, Some(false));
    assert_eq!(
        format!("{:?}", config.jwt.allowed_algorithms),
        "Some([ES256])"
    );
    assert!(config
        .override_subgraph_urls
        .get_subgraph_url("odd \"name\"\n")
        .is_some());
    assert_eq!(config.log.env_filter_str(), "info,hyper=warn");
}

#[test]
fn a_remote_jwks_is_polled_without_blocking_startup() {
    let dir = scratch_dir("remote");
    let settings = settings(&dir, JwksSource::Url("http://127.0.0.1:4001/jwks".into()));

    let yaml = render(&settings);
    parse_yaml_config(yaml.clone()).expect("hive-router accepts the config");

    assert!(yaml.contains("source: remote"));
    assert!(yaml.contains("prefetch: false"));
}

#[test]
fn every_configured_plugin_is_registered_and_accepts_its_config() {
    let dir = scratch_dir("plugins");
    let settings = settings(&dir, JwksSource::File(dir.join("jwks.json")));
    let config = parse_yaml_config(render(&settings)).expect("hive-router accepts the config");

    let plugins = crate::plugins::registry()
        .initialize_plugins(&config, &mut BackgroundTasksManager::new())
        .expect("every plugin initialises");

    assert_eq!(plugins.map(|p| p.len()), Some(config.plugins.len()));
}

#[test]
fn a_configured_storefront_is_enabled_and_loads_its_directory() {
    let dir = scratch_dir("storefront");
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).expect("temp dir is writable");
    std::fs::write(dist.join("index.html"), "<!doctype html>").expect("writable");
    let mut settings = settings(&dir, JwksSource::File(dir.join("jwks.json")));
    settings.storefront_dir = Some(dist);

    let config = parse_yaml_config(render(&settings)).expect("hive-router accepts the config");
    let plugins = crate::plugins::registry()
        .initialize_plugins(&config, &mut BackgroundTasksManager::new())
        .expect("every plugin initialises");

    assert!(config.plugins.contains_key("emporium_storefront"));
    assert_eq!(plugins.map(|p| p.len()), Some(config.plugins.len()));
}

#[test]
fn no_cors_origins_means_no_cross_origin_access() {
    let mut yaml = String::new();
    push_cors(&mut yaml, &[]);
    assert_eq!(yaml, "cors:\n  enabled: false\n  policies: []\n");
}

#[test]
fn the_playground_is_configured_only_when_it_is_on() {
    let dir = scratch_dir("switch");
    let mut settings = settings(&dir, JwksSource::Url("http://127.0.0.1:4001/jwks".into()));
    settings.playground = false;
    settings.metrics = false;
    let config = parse_yaml_config(render(&settings)).expect("hive-router accepts the config");
    assert!(!config.plugins.contains_key("emporium_playground"));
    settings.playground = true;
    let config = parse_yaml_config(render(&settings)).expect("hive-router accepts the config");
    assert!(config.plugins.contains_key("emporium_playground"));
}
