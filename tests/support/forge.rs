//! A stand-in for a forge's issue-comments API (GitHub's routes, or Forgejo's and Gitea's under
//! `/api/v1`), for the CI recipe's comment script: comments of one pull request kept in order,
//! listed a page at a time with a `Link: rel="next"` header as both forges send, created by POST
//! and edited by PATCH (by anyone: a token with write access may edit any comment), each answered
//! with GitHub's documented body (tests/fixtures/forge); the token's own user (`GET /user`); and
//! the pull request merged as a commit (GitHub's `GET /repos/{owner}/{repo}/commits/{sha}/pulls`,
//! a list; Forgejo's and Gitea's `.../commits/{sha}/pull`, one, or 404). Only
//! `Authorization: Bearer TOKEN` is let in.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::repo_file;

pub const TOKEN: &str = "forge-test-token-5ecret";
pub const REPOSITORY: &str = "ops/catalog";
pub const PULL_REQUEST: u64 = 7;
/// The stand-in's own login: the author of every comment the script writes.
pub const BOT: &str = "boma-bot";
/// The pull request's last commit (what the script is given as `HEAD_SHA`).
pub const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct State {
    /// `http://127.0.0.1:PORT`: the stand-in's own origin, for its paging links.
    origin: String,
    /// The API's path under the server's root: `""` (GitHub) or `/api/v1` (Forgejo, Gitea).
    prefix: String,
    page_size: usize,
    comments: Vec<Value>,
    next_id: u64,
    /// An origin the `next` link of the first page points at instead of this server's.
    next_elsewhere: Option<String>,
    /// An origin every list request is redirected to (302) instead of answered.
    redirect_to: Option<String>,
    /// The commit the pull request was merged as, once merged.
    merged_as: Option<String>,
    /// List requests fail (500) with an error body that repeats the Authorization header, as a
    /// careless proxy might.
    echo_authorization: bool,
}

pub struct Forge {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>);

fn template() -> Value {
    let path = repo_file("tests/fixtures/forge/issue-comment.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Forge {
    /// A pull request with no comments yet, listed `page_size` comments a page.
    pub async fn start(prefix: &str, page_size: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            origin: String::new(),
            prefix: prefix.to_string(),
            page_size,
            comments: Vec::new(),
            next_id: 1,
            next_elsewhere: None,
            redirect_to: None,
            merged_as: None,
            echo_authorization: false,
        }));
        let server = MockServer::start().await;
        state.lock().unwrap_or_else(|e| e.into_inner()).origin = server.uri();
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// What the script takes as `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.server.uri(), self.lock().prefix)
    }

    /// Someone comments on the pull request; returns the comment's id.
    pub fn comment_as(&self, login: &str, body: &str) -> u64 {
        let mut state = self.lock();
        state.comment(login, body)["id"]
            .as_u64()
            .unwrap_or_default()
    }

    /// The first page's `next` link points at `origin` (another server) instead.
    pub fn next_page_at(&self, origin: &str) {
        self.lock().next_elsewhere = Some(origin.to_string());
    }

    /// Every list request is answered with a redirect to `origin` (another server).
    pub fn redirect_lists_to(&self, origin: &str) {
        self.lock().redirect_to = Some(origin.to_string());
    }

    /// The pull request (its last commit `HEAD_SHA`) is merged as commit `sha`.
    pub fn merge_as(&self, sha: &str) {
        self.lock().merged_as = Some(sha.to_string());
    }

    /// List requests answer 500 with the request's Authorization header in the error's body.
    pub fn echo_authorization_in_errors(&self) {
        self.lock().echo_authorization = true;
    }

    pub fn comments(&self) -> Vec<Value> {
        self.lock().comments.clone()
    }

    /// `METHOD /path?query` of every request received, in order, with the request.
    pub async fn requests(&self) -> Vec<(String, Request)> {
        super::requests(&self.server).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// `GET .../commits/{sha}/pulls` (GitHub: a list, maybe empty) or `.../commits/{sha}/pull`
    /// (Forgejo, Gitea: the pull request, or 404); each route only under its forge's prefix.
    fn pulls_of(&self, method: &str, commit: &str) -> ResponseTemplate {
        let not_found = ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        let Some((sha, route)) = commit.split_once('/') else {
            return not_found;
        };
        let merged = self.merged_as.as_deref() == Some(sha);
        let pull = json!({
            "number": PULL_REQUEST,
            "state": "closed",
            "merged": merged,
            "merged_at": if merged { json!("2011-04-14T17:00:49Z") } else { Value::Null },
            "merge_commit_sha": self.merged_as,
            "head": {"sha": HEAD_SHA, "ref": "change"},
        });
        match (method, route, self.prefix.as_str()) {
            ("GET", "pulls", "") => {
                let pulls = if merged || sha == HEAD_SHA {
                    vec![pull]
                } else {
                    Vec::new()
                };
                ResponseTemplate::new(200).set_body_json(Value::Array(pulls))
            }
            ("GET", "pull", "/api/v1") if merged => ResponseTemplate::new(200).set_body_json(pull),
            _ => not_found,
        }
    }

    fn comment(&mut self, login: &str, body: &str) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut comment = template();
        comment["id"] = json!(id);
        comment["url"] = json!(format!(
            "https://forge.example/repos/{REPOSITORY}/issues/comments/{id}"
        ));
        comment["html_url"] = json!(format!(
            "https://forge.example/{REPOSITORY}/pulls/{PULL_REQUEST}#issuecomment-{id}"
        ));
        comment["issue_url"] = json!(format!(
            "https://forge.example/repos/{REPOSITORY}/issues/{PULL_REQUEST}"
        ));
        comment["body"] = json!(body);
        comment["user"]["login"] = json!(login);
        self.comments.push(comment.clone());
        comment
    }
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            == Some(&format!("Bearer {TOKEN}"));
        if !authorized {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Requires authentication"}));
        }
        let path = request.url.path().to_string();
        let api_path = path.strip_prefix(&state.prefix).unwrap_or("");
        if request.method.as_str() == "GET" && api_path == "/user" {
            return ResponseTemplate::new(200).set_body_json(json!({"id": 1, "login": BOT}));
        }
        if let Some(commit) = api_path.strip_prefix(&format!("/repos/{REPOSITORY}/commits/")) {
            return state.pulls_of(request.method.as_str(), commit);
        }
        let Some(rest) = path
            .strip_prefix(&state.prefix)
            .and_then(|rest| rest.strip_prefix(&format!("/repos/{REPOSITORY}/issues/")))
        else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let body = || -> Option<String> {
            let value: Value = serde_json::from_slice(&request.body).ok()?;
            value["body"].as_str().map(str::to_string)
        };
        let pull_request = PULL_REQUEST.to_string();
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", [number, "comments"]) if *number == pull_request => {
                if state.echo_authorization {
                    let header = request
                        .headers
                        .get("authorization")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default();
                    return ResponseTemplate::new(500).set_body_json(
                        json!({"message": format!("upstream refused Authorization: {header}")}),
                    );
                }
                if let Some(elsewhere) = &state.redirect_to {
                    return ResponseTemplate::new(302)
                        .insert_header("location", format!("{elsewhere}{path}").as_str());
                }
                let page: usize = request
                    .url
                    .query_pairs()
                    .find(|(key, _)| key == "page")
                    .and_then(|(_, value)| value.parse().ok())
                    .unwrap_or(1);
                let size = state.page_size;
                let start = (page - 1) * size;
                let slice: Vec<Value> = state
                    .comments
                    .iter()
                    .skip(start)
                    .take(size)
                    .cloned()
                    .collect();
                let mut answer = ResponseTemplate::new(200).set_body_json(Value::Array(slice));
                if start + size < state.comments.len() {
                    let origin = match (&state.next_elsewhere, page) {
                        (Some(elsewhere), 1) => elsewhere.clone(),
                        _ => state.origin.clone(),
                    };
                    answer = answer.insert_header(
                        "link",
                        format!(
                            "<{origin}{path}?per_page={size}&page={}>; rel=\"next\"",
                            page + 1
                        )
                        .as_str(),
                    );
                }
                answer
            }
            ("POST", [number, "comments"]) if *number == pull_request => match body() {
                Some(text) => ResponseTemplate::new(201).set_body_json(state.comment(BOT, &text)),
                None => {
                    ResponseTemplate::new(422).set_body_json(json!({"message": "body is missing"}))
                }
            },
            ("PATCH", ["comments", id]) => {
                let Some(text) = body() else {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "body is missing"}));
                };
                let Some(comment) = state
                    .comments
                    .iter_mut()
                    .find(|comment| id.parse::<u64>().ok() == comment["id"].as_u64())
                else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "Not Found"}));
                };
                comment["body"] = json!(text);
                comment["updated_at"] = json!("2011-04-14T17:00:49Z");
                ResponseTemplate::new(200).set_body_json(comment.clone())
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}
