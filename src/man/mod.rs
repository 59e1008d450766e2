//! Manual pages: `boma.1` and one page a subcommand (`boma-dns-up.1`), made by clap_mangen from
//! the clap definitions in `cli.rs` (synopsis, options), with what `pages.rs` adds (description,
//! exit statuses, examples). `man/` in the source holds these pages; `just man` writes them.

mod pages;

use std::fmt;

use clap::{ArgAction, CommandFactory};
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, roman};

use crate::cli::Cli;
use crate::hint::{Hint, closest};
use pages::{Extra, PAGES};

/// The heading of the options every command takes (`--catalog`, `--output`...) on a command's
/// page, apart from its own.
const GLOBAL_OPTIONS: &str = "Global options";

/// One manual page: its file name and its roff source.
#[derive(Debug, serde::Serialize)]
pub struct Page {
    /// `boma.1`, `boma-dns-up.1`.
    pub file: String,
    pub roff: String,
}

/// A command `boma man` does not know.
#[derive(Debug, thiserror::Error)]
#[error("boma has no command `{name}`")]
pub struct UnknownCommand {
    pub name: String,
    pub known: Vec<String>,
}

impl Hint for UnknownCommand {
    fn hint(&self) -> Option<String> {
        let list = format!("commands: {}", self.known.join(", "));
        Some(match closest(&self.name, &self.known) {
            Some(close) => format!("did you mean `{close}`? {list}"),
            None => list,
        })
    }
}

/// Every page: boma's own, then one a subcommand in `cli.rs`'s order.
pub fn pages() -> Vec<Page> {
    let boma = command();
    let mut all = vec![render(boma.clone(), extra(""))];
    all.extend(
        boma.get_subcommands()
            .map(|sub| render(for_page(sub.clone()), extra(sub.get_name()))),
    );
    all
}

/// boma's own page (`None`) or a subcommand's.
pub fn page(name: Option<&str>) -> Result<Page, UnknownCommand> {
    let boma = command();
    let Some(name) = name else {
        return Ok(render(boma, extra("")));
    };
    match boma.find_subcommand(name) {
        Some(sub) => Ok(render(for_page(sub.clone()), extra(sub.get_name()))),
        None => Err(UnknownCommand {
            name: name.to_string(),
            known: boma
                .get_subcommands()
                .map(|sub| sub.get_name().to_string())
                .collect(),
        }),
    }
}

/// The whole command line, built (so each subcommand has its global options and its
/// `boma-NAME` page name). The version is the package's alone: a page must not change with each
/// commit as `--version` does.
fn command() -> clap::Command {
    let mut command = Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    command.build();
    command
}

/// A subcommand's global options under a heading of their own, after its own.
fn for_page(sub: clap::Command) -> clap::Command {
    sub.mut_args(|arg| {
        if arg.is_global_set() {
            arg.help_heading(GLOBAL_OPTIONS)
        } else {
            arg
        }
    })
}

fn extra(name: &str) -> Option<&'static Extra> {
    PAGES.iter().find(|page| page.command == name)
}

fn render(command: clap::Command, extra: Option<&Extra>) -> Page {
    let has_options = command.get_arguments().any(|arg| !arg.is_hide_set());
    let has_subcommands = command.get_subcommands().any(|sub| !sub.is_hide_set());
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_string();
    let synopsis = synopsis(&command);
    let man = Man::new(command);
    let mut roff = Pieces::new();
    // clap_mangen leaves an empty date unquoted, which shifts the source and manual into its
    // place: the title line is written here, with no date (a page must not change by itself).
    // Then no hyphenation and a ragged right edge, as names and paths read best whole.
    roff.append(&format!(
        ".TH {} 1 \"\" \"boma {}\" \"boma manual\"\n.nh\n.ad l\n",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION")
    ));
    roff.push(|out| man.render_name_section(out));
    roff.append(&synopsis);
    match extra {
        Some(extra) => roff.add(&paragraphs("DESCRIPTION", extra.description)),
        None => roff.push(|out| man.render_description_section(out)),
    }
    if has_options {
        roff.push(|out| man.render_options_section(out));
    }
    if has_subcommands {
        roff.push(|out| man.render_subcommands_section(out));
    }
    if let Some(extra) = extra {
        if extra.command.is_empty() {
            roff.add(&environment());
        }
        roff.add(&exit_status(extra));
        roff.add(&examples(extra));
        roff.add(&see_also(extra));
    }
    Page {
        file: format!("{name}.1"),
        roff: code_in_bold(&roff.text),
    }
}

/// The SYNOPSIS: `boma`, the global options (on boma's own page) or a reference to them, then a
/// command's name and its own options and arguments, in `cli.rs`'s order, with their values.
/// clap_mangen's leaves the values out and sorts the global options in among the command's.
fn synopsis(command: &clap::Command) -> String {
    let top = command.get_subcommands().next().is_some();
    let mut words = Vec::new();
    if !top {
        words.push(format!(
            r"[\fIglobal\ options\fR] {}",
            in_bold(command.get_name())
        ));
    }
    let own = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && (top || !arg.is_global_set()))
        .filter(|arg| !matches!(arg.get_action(), ArgAction::Help | ArgAction::Version));
    words.extend(own.map(synopsis_word));
    if top {
        words.push(in_italics("COMMAND"));
    }
    // `.YS` turns hyphenation back on: off again.
    format!(".SH SYNOPSIS\n.SY boma\n{}\n.YS\n.nh\n", words.join("\n"))
}

/// One argument in the synopsis: `[--zone NAME]`, `[-v|--verbose]...`, `[HOST]...`, `SHELL`;
/// `\ ` keeps an option and its value on one line.
fn synopsis_word(arg: &clap::Arg) -> String {
    let choices: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|choice| !choice.is_hide_set())
        .map(|choice| in_bold(choice.get_name()))
        .collect();
    // clap's derive names a value after its field (`TOOL`): a short list of choices says more.
    let derived = arg.get_id().as_str().to_uppercase();
    let named = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map(ToString::to_string)
        .filter(|name| choices.is_empty() || *name != derived);
    let value = match named {
        Some(name) => in_italics(&name),
        None if choices.is_empty() => in_italics(&derived),
        None => choices.join("|"),
    };
    let delimiter = arg.get_value_delimiter();
    let value = match delimiter {
        Some(delimiter) => format!("{value}{delimiter}..."),
        None => value,
    };
    let values = arg.get_num_args().unwrap_or_default();
    let word = if arg.is_positional() {
        value
    } else {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(short), Some(long)) => {
                format!(
                    "{}|{}",
                    in_bold(&format!("-{short}")),
                    in_bold(&format!("--{long}"))
                )
            }
            (Some(short), None) => in_bold(&format!("-{short}")),
            (None, Some(long)) => in_bold(&format!("--{long}")),
            (None, None) => String::new(),
        };
        match (values.takes_values(), values.min_values()) {
            (true, 0) => format!(r"{flag}\ [{value}]"),
            (true, _) => format!(r"{flag}\ {value}"),
            (false, _) => flag,
        }
    };
    let word = if arg.is_required_set() {
        word
    } else {
        format!("[{word}]")
    };
    let repeats = match delimiter {
        Some(_) => false,
        None if arg.is_positional() => values.max_values() > 1,
        None => matches!(arg.get_action(), ArgAction::Append | ArgAction::Count),
    };
    if repeats {
        // `\&`: three dots at the end of a line do not end a sentence (no double space after).
        format!(r"{word}...\&")
    } else {
        word
    }
}

fn in_bold(text: &str) -> String {
    format!(r"\fB{}\fR", escape(text))
}

fn in_italics(text: &str) -> String {
    format!(r"\fI{}\fR", escape(text))
}

/// A name for roff: a backslash and a dash escaped.
fn escape(text: &str) -> String {
    text.replace('\\', r"\\").replace('-', r"\-")
}

/// clap's help marks code with backticks, as the README does; on a page it is set in bold. Only
/// text lines with paired backticks are touched.
fn code_in_bold(roff: &str) -> String {
    let mut out = String::with_capacity(roff.len());
    for line in roff.lines() {
        let ticks = line.matches('`').count();
        if line.starts_with('.') || ticks == 0 || ticks % 2 == 1 {
            out.push_str(line);
        } else {
            for (index, part) in line.split('`').enumerate() {
                if index % 2 == 1 {
                    out.push_str(r"\fB");
                    out.push_str(part);
                    out.push_str(r"\fR");
                } else {
                    out.push_str(part);
                }
            }
        }
        out.push('\n');
    }
    out
}

/// A page put together from separately rendered sections, each of which clap_mangen and roff
/// start with the same preamble (the apostrophe string `Aq`): kept once, at the top.
struct Pieces {
    preamble: String,
    text: String,
}

impl Pieces {
    fn new() -> Self {
        let preamble = Roff::new().render();
        Self {
            text: preamble.clone(),
            preamble,
        }
    }

    fn push(&mut self, render: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) {
        let mut bytes = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = render(&mut bytes);
        self.append(&String::from_utf8_lossy(&bytes));
    }

    fn add(&mut self, section: &Roff) {
        self.append(&section.render());
    }

    fn append(&mut self, rendered: &str) {
        let text = rendered.strip_prefix(&self.preamble).unwrap_or(rendered);
        self.text.push_str(text);
    }
}

/// Text with `code` in backticks set in bold.
fn marked(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(index, part)| {
            if index % 2 == 1 {
                bold(part)
            } else {
                roman(part)
            }
        })
        .collect()
}

fn paragraphs(heading: &str, paragraphs: &[&str]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", [heading]);
    for (index, paragraph) in paragraphs.iter().enumerate() {
        if index > 0 {
            roff.control("PP", []);
        }
        roff.text(marked(paragraph));
    }
    roff
}

/// What boma's own page says about the environment (the README's variables).
fn environment() -> Roff {
    const VARIABLES: &[(&str, &str)] = &[
        ("BOMA_CATALOG", "The catalog when `--catalog` is not given."),
        (
            "BOMA_HTTP_TIMEOUT",
            "Seconds an HTTP request may take, more than 0 and at most 3600 (default 30).",
        ),
        (
            "BOMA_SECRET_TIMEOUT",
            "Seconds a secret `command` may take (default 30).",
        ),
        (
            "BOMA_FLYCTL_TIMEOUT",
            "Seconds flyctl may take, up to 86400 (default 30 minutes for `deploy`, 2 for \
             `certs add`).",
        ),
        (
            "NO_COLOR",
            "When set and not empty, `--color auto` prints no colors.",
        ),
        (
            "CI",
            "When set, progress lines are not drawn, as off a terminal.",
        ),
    ];
    let mut roff = Roff::new();
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in VARIABLES {
        roff.control("TP", []);
        roff.text([bold(*name)]);
        roff.text(marked(meaning));
    }
    roff
}

fn exit_status(extra: &Extra) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (status, meaning) in extra.exit {
        roff.control("TP", []);
        roff.text([bold(*status)]);
        roff.text(marked(meaning));
    }
    roff
}

fn examples(extra: &Extra) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    for (command, does) in extra.examples {
        roff.control("TP", []);
        roff.text([bold(*command)]);
        roff.text(marked(does));
    }
    roff
}

fn see_also(extra: &Extra) -> Roff {
    let mut pages: Vec<&str> = Vec::new();
    if !extra.command.is_empty() {
        pages.push("boma");
    }
    pages.extend(extra.see_also);
    let mut roff = Roff::new();
    if pages.is_empty() {
        return roff;
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        if index > 0 {
            line.push(roman(", "));
        }
        line.push(bold(*page));
        line.push(roman("(1)"));
    }
    roff.text(line);
    roff
}

impl fmt::Display for Page {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.roff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn every_command_has_a_description_exit_statuses_and_examples() {
        let boma = command();
        let names = std::iter::once("").chain(boma.get_subcommands().map(|sub| sub.get_name()));
        for name in names {
            let Some(extra) = extra(name) else {
                panic!(
                    "`boma {name}` has no entry in src/man/pages.rs: add its description, exit \
                     statuses and examples, then run `just man`"
                );
            };
            assert!(
                !extra.description.is_empty()
                    && !extra.exit.is_empty()
                    && !extra.examples.is_empty(),
                "`boma {name}` lacks a description, exit statuses or examples in src/man/pages.rs"
            );
        }
        for extra in PAGES {
            assert!(
                extra.command.is_empty() || boma.find_subcommand(extra.command).is_some(),
                "src/man/pages.rs describes `{}`, which is no command",
                extra.command
            );
        }
    }

    /// An example is boma's arguments, then at most a redirection or a pipe; the arguments must
    /// parse as the command line they illustrate.
    #[test]
    fn every_example_is_a_command_line_boma_takes() {
        for extra in PAGES {
            for (example, _) in extra.examples {
                let words: Vec<&str> = example
                    .split_whitespace()
                    .take_while(|word| !matches!(*word, ">" | ">>" | "|"))
                    .collect();
                assert_eq!(words.first(), Some(&"boma"), "{example}");
                let parsed = Cli::try_parse_from(&words)
                    .unwrap_or_else(|error| panic!("{example}: {error}"));
                if !extra.command.is_empty() {
                    assert_eq!(parsed.command.name(), extra.command, "{example}");
                }
            }
        }
    }

    #[test]
    fn a_page_carries_its_sections_and_no_commit() {
        let Ok(page) = page(Some("dns-up")) else {
            panic!("dns-up has a page");
        };
        assert_eq!(page.file, "boma-dns-up.1");
        for section in [
            ".TH BOMA-DNS-UP 1",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH \"GLOBAL OPTIONS\"",
            ".SH \"EXIT STATUS\"",
            ".SH EXAMPLES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.roff.contains(section), "{section}:\n{}", page.roff);
        }
        assert!(!page.roff.contains("commit"), "{}", page.roff);
        assert_eq!(page.roff.matches(r".ds Aq").count(), 2, "one preamble");
    }

    #[test]
    fn an_unknown_command_suggests_the_closest() {
        let Err(error) = page(Some("dns-upp")) else {
            panic!("no such command");
        };
        assert_eq!(error.to_string(), "boma has no command `dns-upp`");
        assert!(
            error
                .hint()
                .is_some_and(|hint| hint.starts_with("did you mean `dns-up`?")),
            "{:?}",
            error.hint()
        );
    }
}
