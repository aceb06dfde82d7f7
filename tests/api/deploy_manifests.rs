//! The Kubernetes manifests under deploy/kubernetes: every overlay renders, passes schema validation
//! and the policy scanner (deploy/checks/kubernetes.sh), keeps the promises the scanners do not know
//! about, and carries a settings file Roleport accepts as a production configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn overlays() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("deploy/kubernetes/overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.contains(&"production".to_string()), "{names:?}");
    names
}

/// Runs the same check a person runs (renders every overlay into `out`).
fn check_and_render(out: &Path) {
    let output = Command::new("bash")
        .arg(repo().join("deploy/checks/kubernetes.sh"))
        .arg(out)
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "deploy/checks/kubernetes.sh failed:\n{text}"
    );
    for name in overlays() {
        assert!(
            text.contains(&format!("kubernetes: {name}: 6 objects; checkov: "))
                && text.contains(" 0 failed, 0 skipped, 0 parsing errors"),
            "{text}"
        );
    }
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_overlay_renders_validates_and_scans_clean_and_keeps_the_fleet_promises() {
    let out = tempfile_dir("k8s-rendered");
    check_and_render(&out);
    for name in overlays() {
        let docs = documents(&out.join(format!("{name}.yaml")));
        let deployment = of_kind(&docs, "Deployment");
        assert!(
            deployment["spec"]["replicas"].as_u64().unwrap() >= 2,
            "{name}: replicas"
        );
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(
            pod["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{name}"
        );
        let container = &pod["containers"][0];
        assert_eq!(
            container["readinessProbe"]["httpGet"]["path"].as_str(),
            Some("/readyz")
        );
        assert_eq!(
            container["livenessProbe"]["httpGet"]["path"].as_str(),
            Some("/healthz")
        );
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
        assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
        assert_eq!(strings(&security["capabilities"]["drop"]), vec!["ALL"]);
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
        for c in pod["containers"]
            .as_sequence()
            .unwrap()
            .iter()
            .chain(pod["initContainers"].as_sequence().unwrap())
        {
            assert!(
                c["image"].as_str().unwrap().contains("@sha256:"),
                "{name}: image pinned by digest"
            );
            assert!(
                c["resources"]["requests"]["memory"].is_string()
                    && c["resources"]["limits"]["memory"].is_string()
            );
        }
        // Migrations run before the server, from the same image and settings.
        let init = &pod["initContainers"][0];
        assert_eq!(
            strings(&init["args"]).last().map(String::as_str),
            Some("migrate")
        );
        assert_eq!(init["image"], container["image"]);
        // Secrets come as files from a Secret, never as literal environment values.
        let secret_volume = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"].as_str() == Some("secrets"))
            .unwrap();
        assert_eq!(
            secret_volume["secret"]["secretName"].as_str(),
            Some("roleport")
        );
        for env in container["env"].as_sequence().unwrap() {
            let variable = env["name"].as_str().unwrap();
            assert!(
                !variable.starts_with("ROLEPORT_") || variable.ends_with("_FILE"),
                "{name}: {variable} must come from a file"
            );
        }
        // The metrics listener is not reachable through the Service.
        let service = of_kind(&docs, "Service");
        for port in service["spec"]["ports"].as_sequence().unwrap() {
            assert_ne!(port["targetPort"].as_str(), Some("metrics"), "{name}");
            assert_ne!(port["targetPort"].as_u64(), Some(9464), "{name}");
        }
        let budget = of_kind(&docs, "PodDisruptionBudget");
        assert_eq!(budget["spec"]["minAvailable"].as_u64(), Some(1));
        let policy = of_kind(&docs, "NetworkPolicy");
        assert_eq!(
            strings(&policy["spec"]["policyTypes"]),
            vec!["Ingress", "Egress"]
        );
    }
}

#[test]
fn every_overlay_settings_file_is_accepted_as_a_production_configuration() {
    let out = tempfile_dir("k8s-settings");
    for name in overlays() {
        // Rendered alone: the scanners run in the test above.
        let rendered = Command::new(repo().join(".run/venv-checks/bin/kubectl"))
            .arg("kustomize")
            .arg(repo().join("deploy/kubernetes/overlays").join(&name))
            .output()
            .expect("kubectl (deploy/checks/install.sh installs it)");
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        std::fs::write(out.join(format!("{name}.yaml")), &rendered.stdout).unwrap();
        let docs = documents(&out.join(format!("{name}.yaml")));
        let settings_text = of_kind(&docs, "ConfigMap")["data"]["roleport.toml"]
            .as_str()
            .unwrap()
            .to_string();
        // The Secret's files, where the Deployment mounts them, in a directory of the test's own.
        let secrets = out.join(format!("{name}-secrets"));
        std::fs::create_dir_all(&secrets).unwrap();
        for file in [
            "aws-signing-key.pem",
            "aws-signing-cert.pem",
            "oidc-corp-entra-client-secret",
        ] {
            std::fs::write(secrets.join(file), "placeholder\n").unwrap();
        }
        std::fs::write(
            secrets.join("database-url"),
            "postgres://roleport@db.example.com:5432/roleport\n",
        )
        .unwrap();
        std::fs::write(
            secrets.join("audit-keys"),
            "k8s-1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        )
        .unwrap();
        std::fs::write(
            secrets.join("sealing-keys"),
            "k8s-seal-1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        )
        .unwrap();
        let mount = "/run/secrets/roleport";
        let settings_path = out.join(format!("{name}-roleport.toml"));
        std::fs::write(
            &settings_path,
            settings_text.replace(mount, secrets.to_str().unwrap()),
        )
        .unwrap();
        let deployment = of_kind(&docs, "Deployment");
        let env: Vec<(String, String)> =
            deployment["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|e| {
                    let value = e["value"]
                        .as_str()
                        .unwrap()
                        .replace(mount, secrets.to_str().unwrap());
                    (e["name"].as_str().unwrap().to_string(), value)
                })
                .collect();
        let settings = roleport::configuration::load(&settings_path, env)
            .unwrap_or_else(|e| panic!("{name}: the settings in the ConfigMap are refused: {e}"));
        assert!(!settings.server.dev_mode, "{name}");
        assert!(settings.server.public_url.starts_with("https://"), "{name}");
        assert!(
            !settings.database.migrate_on_start,
            "{name}: the init container migrates"
        );
        assert_ne!(settings.metrics.listen, settings.server.listen, "{name}");
        assert!(!settings.idps.is_empty(), "{name}");
    }
}

fn tempfile_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("roleport-{label}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
