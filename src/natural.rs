//! Natural order for names: runs of digits compare as numbers, so `h2` comes before `h10` and
//! `web9` before `web10`, in every table and fan-out.

use std::cmp::Ordering;

/// `a` against `b`, digit runs by value (then by length, so `01` follows `1`), the rest by byte.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (run_a, rest_a) = digits(a);
                let (run_b, rest_b) = digits(b);
                let (value_a, value_b) = (trimmed(run_a), trimmed(run_b));
                let order = value_a
                    .len()
                    .cmp(&value_b.len())
                    .then_with(|| value_a.cmp(value_b))
                    .then_with(|| run_a.len().cmp(&run_b.len()));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (rest_a, rest_b);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

/// The leading run of ASCII digits and the rest.
fn digits(text: &[u8]) -> (&[u8], &[u8]) {
    let end = text
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// A digit run without its leading zeros (its value, compared by length then bytes).
fn trimmed(run: &[u8]) -> &[u8] {
    let zeros = run.iter().take_while(|byte| **byte == b'0').count();
    &run[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_compare_as_numbers() {
        let mut names = vec![
            "h10",
            "h2",
            "h1",
            "web10.example.org",
            "web9.example.org",
            "a",
            "h02",
            "h",
            "b1c10",
            "b1c9",
            "99999999999999999999999",
            "100000000000000000000000",
        ];
        names.sort_by(|a, b| compare(a, b));
        assert_eq!(
            names,
            [
                "99999999999999999999999",
                "100000000000000000000000",
                "a",
                "b1c9",
                "b1c10",
                "h",
                "h1",
                "h2",
                "h02",
                "h10",
                "web9.example.org",
                "web10.example.org",
            ]
        );
    }
}
