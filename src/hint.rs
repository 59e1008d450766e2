//! What the operator can do about an error: the `Hint` trait that error types implement, and the
//! closest-name suggestions every "unknown name" error gives.

use std::fmt;

/// An error type that knows what the user can do about it. The printer walks an error's whole
/// chain and prints every hint it finds, after the `caused by:` lines.
pub trait Hint {
    fn hint(&self) -> Option<String>;
}

/// The known name most like `given`, when one is close enough to be a likely typo.
pub fn suggest(given: &str, known: &[impl AsRef<str>]) -> Option<String> {
    scored(given, known)
        .filter(|(score, _)| *score >= 0.8)
        .map(|(_, candidate)| candidate)
}

/// The known name most like `given`, however far: for names typed on the command line, where
/// the list is short and any pointer helps.
pub fn closest(given: &str, known: &[impl AsRef<str>]) -> Option<String> {
    scored(given, known).map(|(_, candidate)| candidate)
}

fn scored(given: &str, known: &[impl AsRef<str>]) -> Option<(f64, String)> {
    known
        .iter()
        .map(|candidate| {
            (
                strsim::jaro_winkler(given, candidate.as_ref()),
                candidate.as_ref(),
            )
        })
        // The first of equally close names, so the suggestion is stable.
        .fold(
            None,
            |best: Option<(f64, &str)>, (score, candidate)| match best {
                Some((top, _)) if top >= score => best,
                _ => Some((score, candidate)),
            },
        )
        .map(|(score, candidate)| (score, candidate.to_string()))
}

/// The hint for a reference to an unknown name: "did you mean" a likely typo, else `otherwise`
/// followed by the closest known name, so the operator always sees one.
pub fn did_you_mean(given: &str, known: &[impl AsRef<str>], otherwise: String) -> String {
    if let Some(close) = suggest(given, known) {
        return format!("did you mean `{close}`?");
    }
    match closest(given, known) {
        Some(close) => format!("{otherwise} (the closest known is `{close}`)"),
        None => otherwise,
    }
}

/// A name given on the command line that the catalog does not know: a host, an artifact.
#[derive(Debug, thiserror::Error)]
pub struct UnknownName {
    /// What kind of thing was named, plural for the list: `host`/`hosts`.
    pub kind: &'static str,
    pub plural: &'static str,
    pub name: String,
    pub known: Vec<String>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}` is not in the catalog", self.kind, self.name)
    }
}

impl Hint for UnknownName {
    fn hint(&self) -> Option<String> {
        if self.known.is_empty() {
            return Some(format!("the catalog has no {}", self.plural));
        }
        let list = format!("{}: {}", self.plural, self.known.join(", "));
        Some(match closest(&self.name, &self.known) {
            Some(close) => format!("did you mean `{close}`? {list}"),
            None => list,
        })
    }
}

/// Checks that every name in `given` is one of `known`.
pub fn check_known(
    kind: &'static str,
    plural: &'static str,
    given: &[String],
    known: &[&str],
) -> Result<(), UnknownName> {
    match given.iter().find(|name| !known.contains(&name.as_str())) {
        None => Ok(()),
        Some(name) => Err(UnknownName {
            kind,
            plural,
            name: name.clone(),
            known: known.iter().map(|name| name.to_string()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_need_a_close_name_but_closest_always_answers() {
        assert_eq!(
            suggest("indir", &["indri", "ringtail"]).as_deref(),
            Some("indri")
        );
        assert_eq!(suggest("zzz", &["indri", "ringtail"]), None);
        assert_eq!(closest("h3", &["h1", "h2"]).as_deref(), Some("h1"));
        assert_eq!(closest("x", &[] as &[&str]), None);
    }

    #[test]
    fn unknown_names_list_the_known_ones_and_the_closest() {
        let error = check_known("host", "hosts", &["h3".into()], &["h1", "h2"])
            .err()
            .map(|error| (error.to_string(), error.hint()));
        assert_eq!(
            error,
            Some((
                "host `h3` is not in the catalog".to_string(),
                Some("did you mean `h1`? hosts: h1, h2".to_string())
            ))
        );
    }
}
