//! A contract server for the Fly.io Machines API (machines and certificates), answering with the
//! bodies of Fly's API reference (tests/fixtures/fly, see its README) and keeping state: an update
//! replaces a machine's config and gives it a new `instance_id`, a wait answers once the machine
//! runs that instance (a machine set never to start answers 408, as the API does on its timeout).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::repo_file;

pub const TOKEN: &str = "fly-test-token-5ecret";

pub fn fixture(name: &str) -> Value {
    let path = repo_file(&format!("tests/fixtures/fly/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Default)]
struct State {
    machines: Vec<Value>,
    certificates: Vec<Value>,
    never_starts: Vec<String>,
    /// Every status the next answers get instead (a 401, a 500).
    fail_with: Option<u16>,
    updates: usize,
}

pub struct FlyApi {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>);

impl FlyApi {
    /// An app with machines `(id, state)`, each with the reference's config (its `init`, `guest`,
    /// `restart`, `auto_destroy` and `dns` must survive an update) and the reference's one
    /// certificate (`example.com`).
    pub async fn start(machines: &[(&str, &str)]) -> Self {
        let template = fixture("machine.json");
        let machines = machines
            .iter()
            .enumerate()
            .map(|(index, (id, state))| {
                let mut machine = template.clone();
                machine["id"] = json!(id);
                machine["name"] = json!(format!("edge-{index}"));
                machine["state"] = json!(state);
                machine["instance_id"] = json!(format!("01INITIAL{index}"));
                machine
            })
            .collect();
        let certificates = fixture("certificates.json")["certificates"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let state = Arc::new(Mutex::new(State {
            machines,
            certificates,
            ..State::default()
        }));
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    pub fn api_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    pub fn never_starts(&self, id: &str) {
        self.lock().never_starts.push(id.to_string());
    }

    pub fn fail_with(&self, status: u16) {
        self.lock().fail_with = Some(status);
    }

    pub fn machine(&self, id: &str) -> Value {
        self.lock()
            .machines
            .iter()
            .find(|machine| machine["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn updates(&self) -> usize {
        self.lock().updates
    }

    /// `METHOD /path?query` of every request received, in order.
    pub async fn requests(&self) -> Vec<(String, Request)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|request| {
                let query = request
                    .url
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                (
                    format!("{} {}{query}", request.method, request.url.path()),
                    request,
                )
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(status) = state.fail_with {
            return ResponseTemplate::new(status).set_body_string("{\"error\":\"unauthorized\"}");
        }
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            == Some(&format!("Bearer {TOKEN}"));
        if !authorized {
            return ResponseTemplate::new(401).set_body_string("{\"error\":\"unauthorized\"}");
        }
        let path = request.url.path().to_string();
        let Some(rest) = path.strip_prefix("/v1/apps/example-proxy/") else {
            return ResponseTemplate::new(404).set_body_string("{\"error\":\"app not found\"}");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let method = request.method.as_str();
        match (method, parts.as_slice()) {
            ("GET", ["machines"]) => ResponseTemplate::new(200).set_body_json(&state.machines),
            ("POST", ["machines", id]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                state.updates += 1;
                let count = state.updates;
                let Some(machine) = state.machines.iter_mut().find(|m| m["id"] == *id) else {
                    return ResponseTemplate::new(404).set_body_string("{\"error\":\"not found\"}");
                };
                if body["current_version"] != machine["instance_id"] {
                    return ResponseTemplate::new(412)
                        .set_body_string("{\"error\":\"current_version does not match\"}");
                }
                machine["config"] = body["config"].clone();
                machine["instance_id"] = json!(format!("01UPDATED{count}"));
                if body["skip_launch"] != json!(true) {
                    machine["state"] = json!("starting");
                }
                let mut answer = fixture("update.json");
                for key in ["id", "name", "region", "instance_id", "config", "state"] {
                    answer[key] = machine[key].clone();
                }
                ResponseTemplate::new(200).set_body_json(answer)
            }
            ("GET", ["machines", id, "wait"]) => {
                let instance = request
                    .url
                    .query_pairs()
                    .find(|(key, _)| key == "instance_id")
                    .map(|(_, value)| value.into_owned());
                let never = state.never_starts.iter().any(|never| never == id);
                let Some(machine) = state.machines.iter_mut().find(|m| m["id"] == *id) else {
                    return ResponseTemplate::new(404).set_body_string("{\"error\":\"not found\"}");
                };
                if never || instance.as_deref() != machine["instance_id"].as_str() {
                    return ResponseTemplate::new(408).set_body_string(
                        "{\"error\":\"deadline_exceeded: machine did not reach state started\"}",
                    );
                }
                machine["state"] = json!("started");
                ResponseTemplate::new(200).set_body_json(fixture("wait.json"))
            }
            ("GET", ["certificates"]) => ResponseTemplate::new(200).set_body_json(json!({
                "certificates": state.certificates,
                "total_count": state.certificates.len(),
            })),
            ("GET", ["certificates", hostname]) => {
                let Some(listed) = state
                    .certificates
                    .iter()
                    .find(|c| c["hostname"] == *hostname)
                else {
                    return ResponseTemplate::new(404).set_body_string("{\"error\":\"not found\"}");
                };
                let text = fixture("certificate-acme.json")
                    .to_string()
                    .replace("example.com", hostname);
                let mut answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                answer["status"] = listed["status"].clone();
                ResponseTemplate::new(200).set_body_json(answer)
            }
            ("POST", ["certificates", "acme"]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let hostname = body["hostname"].as_str().unwrap_or_default().to_string();
                let mut answer = fixture("certificate-acme.json");
                let text = answer.to_string().replace("example.com", &hostname);
                answer = serde_json::from_str(&text).unwrap_or(answer);
                let mut listed = fixture("certificates.json")["certificates"][0].clone();
                listed["hostname"] = json!(hostname);
                listed["status"] = json!("pending_validation");
                state.certificates.push(listed);
                ResponseTemplate::new(201).set_body_json(answer)
            }
            _ => ResponseTemplate::new(404).set_body_string("{\"error\":\"not found\"}"),
        }
    }
}
