//! Which error types carry hints. An error chain holds `dyn Error`, and only a concrete type can
//! be asked for its `Hint`, so every type that implements it is listed here, in one place that
//! nothing but the dispatcher imports.

use std::error::Error as StdError;

use crate::catalog::{CatalogErrors, LoadError};
use crate::hint::Hint;
use crate::ui::{Explained, Problem};

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
        crate::man::UnknownCommand,
        crate::catalog::LoadError,
        crate::catalog::SecretUnreadable,
        crate::secret::SecretError,
        crate::stage::Refusal,
        crate::dns::DnsError,
        crate::caddy::CaddyError,
        crate::caddy::push::rollback::RollbackError,
        crate::remote::RemoteError,
        crate::edge::EdgeError,
        crate::images::BuildError,
        crate::backup::BackupError,
    );
    None
}

/// What the printer shows of an error beyond its chain: the catalog's problems and every hint.
pub fn explain(error: &anyhow::Error) -> Explained {
    let problems = catalog_errors(error)
        .map(|errors| {
            errors
                .problems
                .iter()
                .map(|problem| Problem {
                    place: format!("{}:{}:{}", problem.file, problem.line, problem.column),
                    message: problem.message.clone(),
                    hint: problem.hint.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Explained {
        problems,
        hints: hints(error),
    }
}

fn catalog_errors(error: &anyhow::Error) -> Option<&CatalogErrors> {
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<CatalogErrors>()
            .or_else(|| match cause.downcast_ref::<LoadError>() {
                Some(LoadError::Invalid(errors)) => Some(errors),
                _ => None,
            })
    })
}

/// Every hint in the chain, outermost first, each once.
fn hints(error: &anyhow::Error) -> Vec<String> {
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
