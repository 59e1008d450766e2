//! Pins a built tag in the files that deploy the image: kustomization `images[].newTag` for an
//! entry whose `name` is the image, and compose-style `image: REF:TAG` lines for the reference.
//! Only the tag's text changes; every other byte of the file stays as it was.

use std::path::Path;

/// The text of the pinned file at `path`: a regular file (or a link to one) of UTF-8 up to
/// `files::READ_LIMIT`. A FIFO (whose read blocks) or a device (whose read never ends) is an
/// error naming the path, found before anything is opened.
pub fn read(path: &Path) -> anyhow::Result<String> {
    let bytes = crate::files::read_regular(path, crate::files::Links::Follow)?
        .ok_or_else(|| anyhow::anyhow!("`{}` does not exist", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("`{}` is not UTF-8 text", path.display()))
}

/// The file's text with `image`'s tag set to `tag`, and the tags it had there; `None` when the
/// file names the image nowhere. A compose reference pinned by digest (`REF:TAG@sha256:...`)
/// gets the new digest too, or loses the old one when the new one is not known.
pub fn bump(
    text: &str,
    image: &str,
    tag: &str,
    digest: Option<&str>,
) -> Option<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut out = String::with_capacity(text.len() + tag.len());
    let mut item: Option<(usize, bool)> = None; // (indent of the `- ` of a kustomization entry, it names the image)
    for line in text.split_inclusive('\n') {
        let (body, ending) = split_ending(line);
        let indent = body.len() - body.trim_start().len();
        let trimmed = body.trim_start();
        if let Some(rest) = trimmed.strip_prefix("- ") {
            let name_here =
                key_value(rest.trim_start(), "name").is_some_and(|value| value == image);
            item = Some((indent, name_here));
            if let Some(replaced) = compose_line(body, image, tag, digest, &mut found) {
                out.push_str(&replaced);
                out.push_str(ending);
                continue;
            }
        } else if !trimmed.is_empty() && item.is_some_and(|(dash, _)| indent <= dash) {
            item = None;
        } else if let (Some((dash, _)), Some(value)) = (item, key_value(trimmed, "name")) {
            item = Some((dash, value == image));
        }
        if item.is_some_and(|(_, named)| named) {
            let key = trimmed.strip_prefix("- ").unwrap_or(trimmed);
            if let Some(old) = key_value(key, "newTag") {
                found.push(old.clone());
                out.push_str(&replace_value(body, &old, tag));
                out.push_str(ending);
                continue;
            }
        }
        if let Some(replaced) = compose_line(body, image, tag, digest, &mut found) {
            out.push_str(&replaced);
        } else {
            out.push_str(body);
        }
        out.push_str(ending);
    }
    (!found.is_empty()).then_some((out, found))
}

fn split_ending(line: &str) -> (&str, &str) {
    let body = line.trim_end_matches(['\n', '\r']);
    (body, &line[body.len()..])
}

/// `key: value` (value unquoted), for a line that is exactly that key.
fn key_value(line: &str, key: &str) -> Option<String> {
    let rest = line.strip_prefix(key)?.trim_start().strip_prefix(':')?;
    let value = rest.split(" #").next().unwrap_or(rest).trim();
    Some(value.trim_matches(['"', '\'']).to_string())
}

/// The line with the first occurrence of `old` after the colon replaced (quotes kept).
fn replace_value(line: &str, old: &str, new: &str) -> String {
    let colon = line.find(':').unwrap_or(0);
    let (head, tail) = line.split_at(colon);
    format!("{head}{}", tail.replacen(old, new, 1))
}

/// A compose `image: REF:TAG` line for this image, with the tag replaced.
fn compose_line(
    body: &str,
    image: &str,
    tag: &str,
    digest: Option<&str>,
    found: &mut Vec<String>,
) -> Option<String> {
    let trimmed = body.trim_start();
    let key = trimmed.strip_prefix("- ").unwrap_or(trimmed);
    let value = key_value(key, "image")?;
    let old = value.strip_prefix(image)?.strip_prefix(':')?.to_string();
    let (old_tag, pinned) = match old.split_once('@') {
        Some((old_tag, _)) => (old_tag.to_string(), true),
        None => (old.clone(), false),
    };
    if old_tag.is_empty() || old_tag.contains('/') {
        return None;
    }
    found.push(old_tag);
    let new = match (pinned, digest) {
        (true, Some(digest)) => format!("{image}:{tag}@{digest}"),
        _ => format!("{image}:{tag}"),
    };
    Some(replace_value(body, &format!("{image}:{old}"), &new))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\r\nkind: Kustomization\r\nresources:\r\n  - deployment.yaml\r\nimages:\r\n  - name: forge.example.org/ops/other\r\n    newTag: v9.9.9-aaaaaaa\r\n  - name: forge.example.org/ops/shower\r\n    newTag: \"v1.3.0-0000000\" # bumped by boma\r\n";

    #[test]
    fn kustomization_entry_of_the_image_only() {
        let (text, old) = bump(
            KUSTOMIZATION,
            "forge.example.org/ops/shower",
            "v1.4.0-abcdef1",
            None,
        )
        .unwrap_or_default();
        assert_eq!(old, ["v1.3.0-0000000"]);
        assert_eq!(
            text,
            KUSTOMIZATION.replace("v1.3.0-0000000", "v1.4.0-abcdef1"),
            "only the tag changes, CRLF and quotes and comment kept"
        );
    }

    #[test]
    fn compose_lines_of_the_reference_only() {
        let compose = "services:\n  caddy:\n    image: forge.example.org/ops/caddy-gandi:v2.11.3-1111111\n  other:\n    image: 'forge.example.org/ops/caddy-gandi-old:v1'\n  pinned:\n    image: forge.example.org/ops/caddy-gandi:v2.11.3-1111111@sha256:abc\n";
        let image = "forge.example.org/ops/caddy-gandi";
        let (text, old) =
            bump(compose, image, "v2.11.4-2222222", Some("sha256:def")).unwrap_or_default();
        assert_eq!(old.len(), 2);
        assert_eq!(
            text,
            compose
                .replace("v2.11.3-1111111", "v2.11.4-2222222")
                .replace("sha256:abc", "sha256:def")
        );
        assert!(bump(compose, "forge.example.org/ops/nothing", "v1", None).is_none());
    }
}
