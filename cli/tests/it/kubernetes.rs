//! The Kubernetes deployment (`deploy/kubernetes/`): both overlays build with `kubectl
//! kustomize`, validate offline against the Kubernetes schemas (`kubernetes-validate`, which
//! ships them; scripts/ensure-test-tools.sh installs it), and cannot drift from the binary:
//! every `EMPORIUM_*` variable a manifest sets is one the binary reads (found in its source,
//! not in a list kept here), and every service of `emporium serve` runs as a Deployment or
//! StatefulSet with the probes, limits, security settings and companions the README promises.
//! No cluster is needed; a missing tool fails the test rather than skipping it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

use crate::helpers::services_of_the_cli;

/// The Kubernetes version the manifests are validated against (one `kubernetes-validate`
/// ships, and kubectl's own on this machine).
const KUBERNETES_VERSION: &str = "1.32.0";

const OVERLAYS: &[&str] = &["dev", "production"];

/// Variables a manifest sets before the code that reads them has landed, with where that code
/// comes from. Each entry must NOT be read yet: once the binary reads it, this test fails until
/// the entry is removed, so the list only ever shrinks.
const AWAITING_CODE: &[(&str, &str)] = &[];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate sits in the repository")
        .to_path_buf()
}

/// `kubectl kustomize` of an overlay: the manifests as applied.
fn kustomize(overlay: &str) -> String {
    let dir = repository()
        .join("deploy/kubernetes/overlays")
        .join(overlay);
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("kubectl runs (scripts/ensure-test-tools.sh installs it)");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("kustomize prints UTF-8")
}

/// The resources of kustomize's output (documents separated by `---` lines).
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n")
        .map(|document| {
            serde_yaml::from_str::<Value>(document).expect("kustomize prints valid YAML")
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn kind(resource: &Value) -> &str {
    resource["kind"].as_str().unwrap_or_default()
}

fn name(resource: &Value) -> &str {
    resource["metadata"]["name"].as_str().unwrap_or_default()
}

fn workloads(resources: &[Value]) -> impl Iterator<Item = &Value> {
    resources
        .iter()
        .filter(|r| matches!(kind(r), "Deployment" | "StatefulSet" | "Job"))
}

fn containers(workload: &Value) -> &[Value] {
    workload["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_sequence()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn both_overlays_build_and_validate_against_the_kubernetes_schemas() {
    for overlay in OVERLAYS {
        let manifests = kustomize(overlay);
        let file = std::env::temp_dir().join(format!(
            "emporium-k8s-{overlay}-{}.yaml",
            uuid::Uuid::new_v4()
        ));
        std::fs::write(&file, &manifests).expect("write the built manifests");
        let output = Command::new("python3")
            .args(["-m", "kubernetes_validate", "--strict", "--quiet", "-k"])
            .arg(KUBERNETES_VERSION)
            .arg(&file)
            .output()
            .expect("python3 runs (scripts/ensure-test-tools.sh installs kubernetes-validate)");
        let _ = std::fs::remove_file(&file);
        assert!(
            output.status.success(),
            "the {overlay} overlay does not validate against Kubernetes {KUBERNETES_VERSION}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let resources = documents(&manifests);
        assert!(
            workloads(&resources).count() >= 9,
            "the {overlay} overlay lost workloads: {} left",
            workloads(&resources).count()
        );
    }
}

/// Source files compiled into the binary (the `testing` support is a test-only feature).
fn binary_sources() -> Vec<PathBuf> {
    let root = repository();
    let mut dirs = vec![
        root.join("cli/src"),
        root.join("router/src"),
        root.join("kernel/src"),
        root.join("search/src"),
    ];
    let subgraphs = std::fs::read_dir(root.join("subgraphs")).expect("subgraphs/");
    dirs.extend(subgraphs.map(|entry| entry.expect("a subgraph").path().join("src")));
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("kernel/src/testing.rs")
            {
                files.push(path);
            }
        }
    }
    files
}

/// The functions through which the binary reads a variable by name (cli/src/config.rs's
/// helpers and the standard library's), clap's `env = "..."`, and the variables the list of
/// services names (`port_variable: "..."` and `url_variable: "..."` in cli/src/services.rs).
const READERS: &[&str] = &[
    "var",
    "parsed",
    "flag",
    "list",
    "millis",
    "paths",
    "env::var",
    "env::var_os",
];

/// Every `EMPORIUM_*` name passed to a reader in `source`.
fn variables_read_in(source: &str) -> BTreeSet<String> {
    let mut read = BTreeSet::new();
    for (at, _) in source.match_indices("\"EMPORIUM_") {
        let rest = &source[at + 1..];
        let Some(end) = rest.find('"') else { continue };
        let variable = &rest[..end];
        if !variable
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        let before = source[..at].trim_end();
        let is_clap_env = before.ends_with("env =");
        let is_listed = before.ends_with("_variable:");
        let is_call = before.strip_suffix('(').is_some_and(|call| {
            let function: String = call
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            READERS
                .iter()
                .any(|reader| function == *reader || function.ends_with(&format!("::{reader}")))
        });
        if is_clap_env || is_listed || is_call {
            read.insert(variable.to_owned());
        }
    }
    read
}

fn variables_the_binary_reads() -> BTreeSet<String> {
    let mut read = BTreeSet::new();
    for file in binary_sources() {
        let source = std::fs::read_to_string(&file).expect("a source file");
        read.extend(variables_read_in(&source));
    }
    read
}

#[test]
fn the_source_scan_finds_reads_through_every_reader_and_nothing_else() {
    let source = r#"
        let a = var("EMPORIUM_A");
        let b = parsed(
            "EMPORIUM_B",
            4001,
        )?;
        let c = std::env::var("EMPORIUM_C");
        #[arg(long, env = "EMPORIUM_D", hide_env_values = true)]
        let message = "set EMPORIUM_E, or not";
        let f = format!("{}", "EMPORIUM_F");
        let g = flag("EMPORIUM_G", true)?;
        Spec { port_variable: "EMPORIUM_H", default_port: 4001 }
    "#;
    let read: Vec<String> = variables_read_in(source).into_iter().collect();
    assert_eq!(
        read,
        [
            "EMPORIUM_A",
            "EMPORIUM_B",
            "EMPORIUM_C",
            "EMPORIUM_D",
            "EMPORIUM_G",
            "EMPORIUM_H"
        ]
    );
    // And on the real source: the scan still sees what the binary is known to read.
    let real = variables_the_binary_reads();
    for known in [
        "EMPORIUM_AMQP_URL",
        "EMPORIUM_USERS_PORT",
        "EMPORIUM_OUTBOX_RETENTION_SECS",
        "EMPORIUM_NEW_ADMIN_PASSWORD",
    ] {
        assert!(real.contains(known), "the scan missed {known}: {real:?}");
    }
}

/// Every `EMPORIUM_*` variable the overlay's workloads set: their `env` entries and the keys
/// of the ConfigMaps they load whole.
fn variables_set(resources: &[Value]) -> BTreeMap<String, String> {
    let config_maps: BTreeMap<&str, &Value> = resources
        .iter()
        .filter(|r| kind(r) == "ConfigMap")
        .map(|r| (name(r), r))
        .collect();
    let mut set = BTreeMap::new();
    for workload in workloads(resources) {
        for container in containers(workload) {
            let at = format!("{} {}", kind(workload), name(workload));
            for env in container["env"].as_sequence().into_iter().flatten() {
                let variable = env["name"].as_str().expect("an env entry has a name");
                set.insert(variable.to_owned(), at.clone());
            }
            for source in container["envFrom"].as_sequence().into_iter().flatten() {
                let map = source["configMapRef"]["name"]
                    .as_str()
                    .expect("envFrom loads ConfigMaps only (Secrets go through secretKeyRef)");
                let data = config_maps
                    .get(map)
                    .unwrap_or_else(|| panic!("{at} loads ConfigMap {map}, which is not built"))
                    ["data"]
                    .as_mapping()
                    .expect("ConfigMap data");
                for key in data.keys().filter_map(Value::as_str) {
                    set.insert(key.to_owned(), format!("ConfigMap {map} (loaded by {at})"));
                }
            }
        }
    }
    set.retain(|variable, _| variable.starts_with("EMPORIUM_") || variable == "RUST_LOG");
    set
}

#[test]
fn every_emporium_variable_a_manifest_sets_is_one_the_binary_reads() {
    let read = variables_the_binary_reads();
    for (variable, why) in AWAITING_CODE {
        assert!(
            !read.contains(*variable),
            "{variable} is read by the binary now ({why}): remove it from AWAITING_CODE"
        );
    }
    for overlay in OVERLAYS {
        let resources = documents(&kustomize(overlay));
        for (variable, at) in variables_set(&resources) {
            if variable == "RUST_LOG" || AWAITING_CODE.iter().any(|(v, _)| *v == variable) {
                continue;
            }
            assert!(
                read.contains(&variable),
                "the {overlay} overlay sets {variable} ({at}), which the binary never reads"
            );
        }
        // hive-router reads some unprefixed variables that fight Emporium's settings.
        for workload in workloads(&resources) {
            for container in containers(workload) {
                for env in container["env"].as_sequence().into_iter().flatten() {
                    let variable = env["name"].as_str().unwrap_or_default();
                    assert!(
                        !emporium_router::server::CONFLICTING_VARIABLES.contains(&variable),
                        "{} sets {variable}, which the router refuses",
                        name(workload)
                    );
                }
            }
        }
    }
}

/// The port a service listens on by default: `port_variable: "EMPORIUM_<SERVICE>_PORT",
/// default_port: <port>` in the list of services, cli/src/services.rs (the manifests leave
/// the ports at their defaults).
fn default_port(service: &str) -> i64 {
    let list = std::fs::read_to_string(repository().join("cli/src/services.rs"))
        .expect("cli/src/services.rs");
    let variable = format!(
        "port_variable: \"EMPORIUM_{}_PORT\",",
        service.to_ascii_uppercase()
    );
    let at = list
        .find(&variable)
        .unwrap_or_else(|| panic!("services.rs names no {variable}"))
        + variable.len();
    let port = list[at..]
        .trim_start()
        .strip_prefix("default_port:")
        .unwrap_or_else(|| panic!("no default_port after {variable}"));
    let digits: String = port
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a numeric default port")
}

fn find<'a>(resources: &'a [Value], kind_: &str, name_: &str) -> Option<&'a Value> {
    resources
        .iter()
        .find(|r| kind(r) == kind_ && name(r) == name_)
}

fn probe(container: &Value, probe: &str) -> (String, String) {
    let get = &container[probe]["httpGet"];
    let port = match &get["port"] {
        Value::String(named) => named.clone(),
        Value::Number(number) => number.to_string(),
        other => panic!("{probe} has no port: {other:?}"),
    };
    (get["path"].as_str().unwrap_or_default().to_owned(), port)
}

#[test]
fn every_service_of_the_cli_runs_with_probes_limits_and_its_companions() {
    let services = services_of_the_cli();
    for overlay in OVERLAYS {
        let resources = documents(&kustomize(overlay));
        for service in &services {
            let at = format!("{overlay}: {service}");
            let workload = find(&resources, "Deployment", service)
                .or_else(|| find(&resources, "StatefulSet", service))
                .unwrap_or_else(|| panic!("{at} has no Deployment or StatefulSet"));
            let pod = &workload["spec"]["template"]["spec"];
            let container = &containers(workload)[0];
            assert_eq!(
                strings(&container["args"]),
                ["serve", service.as_str()],
                "{at}"
            );
            let port = default_port(service);
            let ports = container["ports"].as_sequence().expect("container ports");
            let http = ports
                .iter()
                .find(|p| p["name"].as_str() == Some("http"))
                .unwrap_or_else(|| panic!("{at} names no http port"));
            assert_eq!(http["containerPort"].as_i64(), Some(port), "{at} port");
            assert_eq!(
                probe(container, "livenessProbe"),
                ("/health".into(), "http".into()),
                "{at}"
            );
            assert_eq!(
                probe(container, "readinessProbe"),
                ("/ready".into(), "http".into()),
                "{at}"
            );
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !container["resources"][bound][resource].is_null(),
                        "{at} has no {resource} {bound}"
                    );
                }
            }
            assert_eq!(
                pod["securityContext"]["runAsNonRoot"].as_bool(),
                Some(true),
                "{at}"
            );
            let security = &container["securityContext"];
            assert_eq!(
                security["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{at}"
            );
            assert_eq!(
                security["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{at}"
            );
            assert_eq!(
                pod["enableServiceLinks"].as_bool(),
                Some(false),
                "{at}: service links would set variables"
            );
            // The drain: a 5 s preStop pause, then up to 30 s (hive-router's shutdown timeout,
            // the subgraphs' in `emporium up`).
            let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
            assert!(
                grace >= 5 + 30,
                "{at}: terminationGracePeriodSeconds {grace} cuts the drain short"
            );
            // The writable data directory is a volume (the root filesystem is read-only).
            let mounts: Vec<&str> = container["volumeMounts"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|m| m["mountPath"].as_str())
                .collect();
            assert!(
                mounts.contains(&"/var/lib/emporium"),
                "{at}: no writable data directory"
            );

            let svc = find(&resources, "Service", service)
                .unwrap_or_else(|| panic!("{at} has no Service"));
            assert_eq!(
                svc["spec"]["selector"]["app.kubernetes.io/name"].as_str(),
                Some(service.as_str()),
                "{at}"
            );
            assert_eq!(
                svc["spec"]["ports"][0]["port"].as_i64(),
                Some(port),
                "{at} Service port"
            );
            let hpa = find(&resources, "HorizontalPodAutoscaler", service)
                .unwrap_or_else(|| panic!("{at} has no HorizontalPodAutoscaler"));
            assert_eq!(
                hpa["spec"]["scaleTargetRef"]["kind"].as_str(),
                Some(kind(workload)),
                "{at}"
            );
            assert_eq!(
                hpa["spec"]["scaleTargetRef"]["name"].as_str(),
                Some(service.as_str()),
                "{at}"
            );
            let pdb = find(&resources, "PodDisruptionBudget", service)
                .unwrap_or_else(|| panic!("{at} has no PodDisruptionBudget"));
            assert_eq!(
                pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"].as_str(),
                Some(service.as_str()),
                "{at}"
            );
            if service != "router" {
                let url = resources
                    .iter()
                    .filter(|r| kind(r) == "ConfigMap")
                    .find_map(|r| {
                        r["data"][format!("EMPORIUM_{}_URL", service.to_ascii_uppercase()).as_str()]
                            .as_str()
                    })
                    .unwrap_or_else(|| panic!("{at}: no EMPORIUM_*_URL in the ConfigMap"));
                assert_eq!(
                    url,
                    format!("http://{service}:{port}"),
                    "{at}: where the others reach it"
                );
            }
        }
    }
}

#[test]
fn search_runs_as_a_stateful_set_with_a_volume_and_an_identity_per_replica() {
    for overlay in OVERLAYS {
        let resources = documents(&kustomize(overlay));
        let search = find(&resources, "StatefulSet", "search").expect("search is a StatefulSet");
        let claims = search["spec"]["volumeClaimTemplates"]
            .as_sequence()
            .expect("volume claims");
        let claim = claims[0]["metadata"]["name"]
            .as_str()
            .expect("a claim name");
        let container = &containers(search)[0];
        let mount = container["volumeMounts"]
            .as_sequence()
            .expect("mounts")
            .iter()
            .find(|m| m["name"].as_str() == Some(claim))
            .expect("the claim is mounted")["mountPath"]
            .as_str()
            .expect("a mount path")
            .to_owned();
        let env = container["env"].as_sequence().expect("env");
        let value_of = |variable: &str| env.iter().find(|e| e["name"].as_str() == Some(variable));
        let index_dir = value_of("EMPORIUM_SEARCH_INDEX_DIR").expect("the index directory is set")
            ["value"]
            .as_str()
            .expect("a path");
        assert!(
            index_dir.starts_with(&format!("{mount}/")),
            "{overlay}: the index {index_dir} is not on the replica's volume {mount}"
        );
        assert_eq!(
            value_of("EMPORIUM_SEARCH_REPLICA_ID").expect("the replica's identity")["valueFrom"]
                ["fieldRef"]["fieldPath"]
                .as_str(),
            Some("metadata.name"),
            "{overlay}: the replica id is the pod's name"
        );
        assert!(
            find(&resources, "Deployment", "search").is_none(),
            "{overlay}: search also as a Deployment"
        );
    }
}

#[test]
fn only_the_router_is_reachable_from_outside_and_the_migrations_run_as_a_job() {
    for overlay in OVERLAYS {
        let resources = documents(&kustomize(overlay));
        let policies: Vec<&Value> = resources
            .iter()
            .filter(|r| kind(r) == "NetworkPolicy")
            .collect();
        assert!(
            policies.iter().any(|p| p["spec"]["podSelector"]
                .as_mapping()
                .is_some_and(|m| m.is_empty())
                && strings(&p["spec"]["policyTypes"]).contains(&"Ingress")
                && p["spec"]["ingress"].is_null()),
            "{overlay}: no default-deny ingress policy"
        );
        for policy in &policies {
            for rule in policy["spec"]["ingress"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                if rule["from"].is_null() {
                    assert_eq!(
                        policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                            .as_str(),
                        Some("router"),
                        "{overlay}: NetworkPolicy {} admits anyone to pods other than the router",
                        name(policy)
                    );
                }
            }
        }
        let ingresses: Vec<&Value> = resources.iter().filter(|r| kind(r) == "Ingress").collect();
        assert_eq!(ingresses.len(), 1, "{overlay}: one Ingress");
        for path in ingresses[0]["spec"]["rules"][0]["http"]["paths"]
            .as_sequence()
            .expect("paths")
        {
            assert_eq!(
                path["backend"]["service"]["name"].as_str(),
                Some("router"),
                "{overlay}"
            );
        }
        let migrate = find(&resources, "Job", "migrate").expect("the migrations Job");
        assert_eq!(
            strings(&containers(migrate)[0]["args"]),
            ["migrate"],
            "{overlay}"
        );
    }
}
