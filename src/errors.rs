//! Which error types carry hints. An error chain holds `dyn Error`, and only a concrete type can
//! be asked for its `Hint`, so every type that implements it is listed here, in one place that
//! nothing but the dispatcher imports.

use std::error::Error as StdError;

use crate::hint::Hint;

fn hint_of(error: &(dyn StdError + 'static)) -> Option<String> {
    macro_rules! hinted {
        ($($kind:ty),* $(,)?) => {
            $(if let Some(found) = error.downcast_ref::<$kind>() {
                return found.hint();
            })*
        };
    }
    hinted!(
        crate::hint::UnknownName,
        crate::catalog::LoadError,
        crate::stage::Refusal,
        crate::dns::DnsError,
        crate::caddy::CaddyError,
        crate::remote::RemoteError,
        crate::edge::EdgeError,
        crate::images::BuildError,
        crate::backup::BackupError,
    );
    None
}

/// Every hint in the chain, outermost first, each once.
pub fn hints(error: &anyhow::Error) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for hint in error.chain().filter_map(hint_of) {
        if !found.contains(&hint) {
            found.push(hint);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_found_anywhere_in_the_chain() {
        let unknown = crate::hint::UnknownName {
            kind: "host",
            plural: "hosts",
            name: "idnri".into(),
            known: vec!["indri".into()],
        };
        let error = anyhow::Error::new(unknown).context("cannot plan caddy");
        assert_eq!(hints(&error), ["did you mean `indri`? hosts: indri"]);
        assert!(hints(&anyhow::anyhow!("plain")).is_empty());
    }
}
