//! Detectors for patterned personal data (e-mail, phone, card, IBAN, IP, national ids) and the
//! redaction that merges their findings with the names and places an LLM reports.
//!
//! Each detector is a regex that proposes candidates plus a validator that sees the whole text,
//! because most rejections (checksums, dates, numbers glued to words) need more than the match.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    CreditCard,
    Iban,
    IpAddress,
    NationalId,
    Person,
    Location,
}

impl PiiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::CreditCard => "credit_card",
            Self::Iban => "iban",
            Self::IpAddress => "ip_address",
            Self::NationalId => "national_id",
            Self::Person => "person",
            Self::Location => "location",
        }
    }

    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Email => "[EMAIL]",
            Self::Phone => "[PHONE]",
            Self::CreditCard => "[CREDIT_CARD]",
            Self::Iban => "[IBAN]",
            Self::IpAddress => "[IP_ADDRESS]",
            Self::NationalId => "[NATIONAL_ID]",
            Self::Person => "[PERSON]",
            Self::Location => "[LOCATION]",
        }
    }

    /// Tie-break between overlapping spans of equal length: checksummed kinds beat looser ones,
    /// and the literal kinds (names, places) lose to every patterned one.
    fn rank(self) -> u8 {
        match self {
            Self::CreditCard | Self::Iban => 4,
            Self::NationalId => 3,
            Self::Email | Self::IpAddress => 2,
            Self::Phone => 1,
            Self::Person | Self::Location => 0,
        }
    }
}

/// One finding: byte range into the text (on char boundaries), the matched text, and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PiiSpan {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl PiiSpan {
    fn new(kind: PiiKind, text: &str, start: usize, end: usize) -> Self {
        let text = text[start..end].to_owned();
        Self {
            kind,
            start,
            end,
            text,
        }
    }
}

/// Every patterned finding (Person and Location are never produced here), sorted by start,
/// non-overlapping (on overlap the longer wins, then the more specific kind).
pub fn find_patterned(text: &str) -> Vec<PiiSpan> {
    let mut spans = Vec::new();
    for detector in DETECTORS.iter() {
        detector.scan(text, &mut spans);
    }
    resolve(spans)
}

/// Every whole-word, case-sensitive occurrence of each literal as a span of its kind, sorted by
/// start (longer first on a tie). Overlaps are kept; `redact` resolves them.
pub fn find_literals(text: &str, literals: &[(PiiKind, String)]) -> Vec<PiiSpan> {
    let mut spans = Vec::new();
    for (kind, literal) in literals {
        // The model may pad what it reports; blank literals would match everywhere.
        let literal = literal.trim();
        if literal.is_empty() {
            continue;
        }
        for (start, _) in text.match_indices(literal) {
            let end = start + literal.len();
            let first = literal.chars().next().is_some_and(is_word_char);
            let last = literal.chars().next_back().is_some_and(is_word_char);
            let (before, _) = before(text, start);
            let (after, _) = after(text, end);
            if !(first && before.is_some_and(is_word_char)
                || last && after.is_some_and(is_word_char))
            {
                spans.push(PiiSpan::new(*kind, text, start, end));
            }
        }
    }
    spans.sort_by_key(|s| (s.start, Reverse(s.end)));
    spans.dedup();
    spans
}

/// Whether what the model calls a person's or a place's name looks like one: a proper noun
/// has no digits, is capitalised in scripts with case, is not a day or a month and does not
/// start with a possessive. Small models also tag dates, amounts and objects ("laptop",
/// "Friday", "14th of March", "My Austrian account") as names or places.
pub fn plausible_name(name: &str) -> bool {
    // Not April, May, June or August: people are called that.
    const CALENDAR: [&str; 15] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "july",
        "september",
        "october",
        "november",
        "december",
    ];
    const POSSESSIVES: [&str; 7] = ["my", "your", "his", "her", "its", "our", "their"];
    let name = name.trim();
    let first_word = name.split_whitespace().next().unwrap_or("").to_lowercase();
    let cased = name.chars().any(char::is_uppercase) || !name.chars().any(char::is_lowercase);
    !name.is_empty()
        && cased
        && !name.chars().any(|c| c.is_ascii_digit())
        && !CALENDAR.contains(&first_word.as_str())
        && !POSSESSIVES.contains(&first_word.as_str())
}

/// Merges span lists (overlaps resolved; a patterned span beats a literal one it overlaps) and
/// replaces each span by its placeholder. Spans that do not fit the text are dropped.
pub fn redact(text: &str, spans: Vec<PiiSpan>) -> (String, Vec<PiiSpan>) {
    let fits = |s: &PiiSpan| s.start < s.end && text.get(s.start..s.end).is_some();
    let spans = resolve(spans.into_iter().filter(fits).collect());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in &spans {
        out.push_str(&text[last..span.start]);
        out.push_str(span.kind.placeholder());
        last = span.end;
    }
    out.push_str(&text[last..]);
    (out, spans)
}

/// Greedy selection in priority order (patterned, longer, more specific), sorted by start.
fn resolve(mut spans: Vec<PiiSpan>) -> Vec<PiiSpan> {
    spans.sort_by_key(|s| {
        let rank = s.kind.rank();
        (
            Reverse(rank > 0),
            Reverse(s.end - s.start),
            Reverse(rank),
            s.start,
        )
    });
    // Kept spans never overlap, so only the last one starting before a span's end can clash.
    let mut kept: BTreeMap<usize, PiiSpan> = BTreeMap::new();
    for span in spans {
        let clash = kept
            .range(..span.end)
            .next_back()
            .is_some_and(|(_, k)| k.end > span.start);
        if !clash {
            kept.insert(span.start, span);
        }
    }
    kept.into_values().collect()
}

struct Detector {
    kind: PiiKind,
    re: Regex,
    /// Where an over-long candidate may be cut back, e.g. the word the IBAN regex swallowed.
    cuts: &'static [char],
    valid: fn(&str, usize, usize) -> bool,
}

impl Detector {
    fn new(
        kind: PiiKind,
        pattern: &str,
        cuts: &'static [char],
        valid: fn(&str, usize, usize) -> bool,
    ) -> Self {
        // ASCII classes only: `\d` must not match other scripts' digits.
        let re = RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .expect("valid PII regex");
        Self {
            kind,
            re,
            cuts,
            valid,
        }
    }

    /// Offers each match, then its prefixes ending at a cut, longest first, to the validator; when
    /// none passes, searches again one character later so a valid match inside is not lost.
    fn scan(&self, text: &str, out: &mut Vec<PiiSpan>) {
        let mut pos = 0;
        while let Some(m) = self.re.find_at(text, pos) {
            let start = m.start();
            let cut_ends = m.as_str().char_indices().rev();
            let cut_ends = cut_ends
                .filter(|&(i, c)| i > 0 && self.cuts.contains(&c))
                .map(|(i, _)| start + i);
            match std::iter::once(m.end())
                .chain(cut_ends)
                .find(|&end| (self.valid)(text, start, end))
            {
                Some(end) => {
                    out.push(PiiSpan::new(self.kind, text, start, end));
                    pos = end;
                }
                None => pos = start + m.as_str().chars().next().map_or(1, char::len_utf8),
            }
        }
    }
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    use PiiKind::*;
    vec![
        Detector::new(
            Email,
            r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}",
            &[],
            valid_email,
        ),
        Detector::new(
            Phone,
            concat!(
                r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,8}){1,6}",
                r"|(?:1[ .-])?(?:\(\d{2,5}\)[ .-]?|\d{2,5}[ .-])\d{2,8}(?:[ .-]\d{2,8}){0,5}",
                r"|\d{10,11}",
            ),
            &[' ', '.', '-'],
            valid_phone,
        ),
        Detector::new(
            CreditCard,
            r"\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{4,5}|\d{13,19}",
            &[' ', '-'],
            valid_card,
        ),
        Detector::new(
            Iban,
            r"[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)",
            &[' '],
            valid_iban,
        ),
        Detector::new(IpAddress, r"\d{1,3}(?:\.\d{1,3}){3}", &[], valid_ipv4),
        Detector::new(
            IpAddress,
            r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:\.\d{1,3}){0,3}",
            &[':'],
            valid_ipv6,
        ),
        Detector::new(NationalId, r"\d{3}[- ]\d{2}[- ]\d{4}", &[], valid_ssn),
        Detector::new(
            NationalId,
            r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
            &[],
            valid_nino,
        ),
        Detector::new(
            NationalId,
            r"[1-8] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}",
            &[],
            valid_insee,
        ),
        Detector::new(
            NationalId,
            r"[1-9]\d ?\d{3} ?\d{3} ?\d{3}",
            &[],
            valid_tax_id,
        ),
        Detector::new(
            NationalId,
            r"\d{8}-?[A-Za-z]|[XYZxyz]-?\d{7}-?[A-Za-z]",
            &[],
            valid_dni,
        ),
    ]
});

/// Separators that may join a number to more digits (dates, versions, ranges, longer numbers).
const NUM_SEPS: &str = ".-/:,";

/// Letters and digits of spaced scripts make a word; ideographs, kana and Hangul (U+2E80 on) do
/// not, since those scripts write numbers and names directly against the surrounding text.
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric() && u32::from(c) < 0x2E80
}

/// The character just before `start`, and the one before that.
fn before(text: &str, start: usize) -> (Option<char>, Option<char>) {
    let mut chars = text[..start].chars().rev();
    (chars.next(), chars.next())
}

/// The character at `end`, and the one after it.
fn after(text: &str, end: usize) -> (Option<char>, Option<char>) {
    let mut chars = text[end..].chars();
    (chars.next(), chars.next())
}

/// True when a word character touches the candidate, or one of `seps` links it to more digits
/// (then it is only a piece of a longer number, like `4` in `1.2.3.4.5`).
fn glued(text: &str, start: usize, end: usize, seps: &str) -> bool {
    let linked = |sep: Option<char>, next: Option<char>| {
        sep.is_some_and(|c| seps.contains(c)) && next.is_some_and(|c| c.is_ascii_digit())
    };
    let (b1, b2) = before(text, start);
    let (a1, a2) = after(text, end);
    b1.is_some_and(is_word_char) || a1.is_some_and(is_word_char) || linked(b1, b2) || linked(a1, a2)
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

fn valid_email(text: &str, start: usize, end: usize) -> bool {
    let Some((local, _)) = text[start..end].split_once('@') else {
        return false;
    };
    !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !glued(text, start, end, "")
}

fn valid_phone(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let groups: Vec<&str> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let total: usize = groups.iter().map(|g| g.len()).sum();
    let seps = digit_separators(s);
    // Mixed separators mean the match ran into a neighbouring number; a cut will retry.
    if !(7..=15).contains(&total)
        || seps.windows(2).any(|w| w[0] != w[1])
        || glued(text, start, end, NUM_SEPS)
    {
        return false;
    }
    if s.starts_with('+') {
        return true;
    }
    // National forms: rule out what digit groups usually mean in ordinary text.
    let style = seps.first().copied();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let year = |g: &&str| g.len() == 4 && ("1900".."2100").contains(g);
    let day_or_month =
        |g: &&str| g.len() <= 2 && g.parse::<u32>().is_ok_and(|n| (1..=31).contains(&n));
    let date = match groups[..] {
        [a, b, c] => {
            year(&a) && day_or_month(&b) && day_or_month(&c)
                || day_or_month(&a) && day_or_month(&b) && year(&c)
        }
        _ => false,
    };
    let years = groups.iter().all(year);
    let range =
        style == Some('-') && lens.len() == 2 && lens[0] == lens[1] && groups[0] < groups[1];
    let max_lead = if style == Some('.') { 3 } else { 2 };
    let thousands = matches!(style, Some('.' | ' '))
        && lens.len() > 1
        && lens[0] <= max_lead
        && lens[1..].iter().all(|&n| n == 3);
    let ip_like = style == Some('.') && lens.len() == 4 && lens.iter().all(|&n| n <= 3);
    // The SSN shape belongs to the national-id detector, valid or not.
    let ssn_shape = lens == [3, 2, 4];
    // A space followed by a digit continues a space-grouped number (a card or account number).
    let space_digit = |(sep, next): (Option<char>, Option<char>)| {
        sep == Some(' ') && next.is_some_and(|c| c.is_ascii_digit())
    };
    let continues = style.is_none_or(|c| c == ' ')
        && (space_digit(before(text, start)) || space_digit(after(text, end)));
    let prefixed = before(text, start).0.is_some_and(|c| "+#".contains(c));
    !(date
        || years
        || range
        || thousands
        || ip_like
        || ssn_shape
        || continues
        || prefixed
        || near_money(text, start, end))
}

/// Spaces, dots and dashes standing between two digits, except the one right after a `+CC` prefix.
fn digit_separators(s: &str) -> Vec<char> {
    let chars: Vec<char> = s.chars().collect();
    let after_cc = match chars.first() {
        Some('+') => chars[1..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .map(|p| p + 1),
        _ => None,
    };
    (1..chars.len().saturating_sub(1))
        .filter(|&i| Some(i) != after_cc && " .-".contains(chars[i]))
        .filter(|&i| chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit())
        .map(|i| chars[i])
        .collect()
}

/// Space-grouped amounts ("1 250 000 euros", "€ 12 500 000") look like phone numbers.
fn near_money(text: &str, start: usize, end: usize) -> bool {
    const SYMBOLS: &str = "$€£¥₹%";
    const WORDS: [&str; 9] = [
        "eur", "euro", "euros", "usd", "dollars", "gbp", "pounds", "chf", "percent",
    ];
    let rest = text[end..].trim_start();
    let word: String = rest.chars().take_while(|c| c.is_alphabetic()).collect();
    text[..start].trim_end().ends_with(|c| SYMBOLS.contains(c))
        || rest.starts_with(|c| SYMBOLS.contains(c))
        || WORDS.contains(&word.to_lowercase().as_str())
}

fn valid_card(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let d = digits(s);
    let mut seps = s.chars().filter(|c| !c.is_ascii_digit());
    let first_sep = seps.next();
    // No issuer number starts with 0; grouping uses one separator throughout.
    (13..=19).contains(&d.len())
        && d[0] != 0
        && seps.all(|c| Some(c) == first_sep)
        && luhn(&d)
        && !glued(text, start, end, NUM_SEPS)
}

fn luhn(d: &[u32]) -> bool {
    let doubled = |x: u32| if x > 4 { 2 * x - 9 } else { 2 * x };
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| if i % 2 == 1 { doubled(x) } else { x })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN lengths of common countries; others only need 15–34 characters.
const IBAN_LENGTHS: [(&str, usize); 17] = [
    ("DE", 22),
    ("GB", 22),
    ("FR", 27),
    ("ES", 24),
    ("IT", 27),
    ("NL", 18),
    ("BE", 16),
    ("CH", 21),
    ("AT", 20),
    ("PL", 28),
    ("PT", 25),
    ("IE", 22),
    ("SE", 24),
    ("DK", 18),
    ("NO", 15),
    ("FI", 18),
    ("LU", 20),
];

fn valid_iban(text: &str, start: usize, end: usize) -> bool {
    let s: String = text[start..end]
        .chars()
        .filter(|&c| c != ' ')
        .collect::<String>()
        .to_ascii_uppercase();
    let country = &s[..2];
    let length_ok = match IBAN_LENGTHS.iter().find(|(c, _)| *c == country) {
        Some(&(_, n)) => s.len() == n,
        None => (15..=34).contains(&s.len()),
    };
    // ISO 7064 mod 97-10: the first four characters move to the end, letters read as 10..=35.
    let rem = s[4..].chars().chain(s[..4].chars()).fold(0, |acc, c| {
        let v = c.to_digit(36).unwrap_or(0);
        (acc * if v < 10 { 10 } else { 100 } + v) % 97
    });
    length_ok && rem == 1 && !glued(text, start, end, "")
}

fn valid_ipv4(text: &str, start: usize, end: usize) -> bool {
    // Only dots extend a dotted quad; a colon may start a port.
    text[start..end].parse::<Ipv4Addr>().is_ok() && !glued(text, start, end, ".")
}

fn valid_ipv6(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    // A bare "::" (as in `std::net`) is technically an address but never PII.
    s.bytes().any(|b| b.is_ascii_hexdigit())
        && s.parse::<Ipv6Addr>().is_ok()
        && !glued(text, start, end, ":.")
}

fn valid_ssn(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let (area, group, serial) = (&s[..3], &s[4..6], &s[7..]);
    s[3..4] == s[6..7]
        && !matches!(area, "000" | "666")
        && !area.starts_with('9')
        && group != "00"
        && serial != "0000"
        && !glued(text, start, end, NUM_SEPS)
}

fn valid_nino(text: &str, start: usize, end: usize) -> bool {
    let s: String = text[start..end].chars().filter(|&c| c != ' ').collect();
    let prefix = &s[..2];
    !"DFIQUV".contains(&s[..1])
        && !"DFIOQUV".contains(&s[1..2])
        && !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix)
        && !glued(text, start, end, "")
}

fn valid_insee(text: &str, start: usize, end: usize) -> bool {
    let s: String = text[start..end].chars().filter(|&c| c != ' ').collect();
    // Corsica's départements 2A and 2B count as 19 and 18 in the key.
    let body = s[..13].replacen("2A", "19", 1).replacen("2B", "18", 1);
    let (Ok(n), Ok(key)) = (body.parse::<u64>(), s[13..].parse::<u64>()) else {
        return false;
    };
    key == 97 - n % 97 && !glued(text, start, end, NUM_SEPS)
}

fn valid_tax_id(text: &str, start: usize, end: usize) -> bool {
    let d = digits(&text[start..end]);
    // In the first ten digits exactly one digit repeats, twice or three times.
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[x as usize] += 1;
    }
    let repeats: Vec<u8> = counts.into_iter().filter(|&n| n > 1).collect();
    // ISO 7064 MOD 11,10 check digit.
    let mut product = 10;
    for &x in &d[..10] {
        let sum = match (x + product) % 10 {
            0 => 10,
            s => s,
        };
        product = sum * 2 % 11;
    }
    matches!(repeats[..], [2] | [3])
        && (11 - product) % 10 == d[10]
        && !glued(text, start, end, NUM_SEPS)
}

fn valid_dni(text: &str, start: usize, end: usize) -> bool {
    let s: String = text[start..end]
        .chars()
        .filter(|&c| c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    let (number, letter) = s.split_at(s.len() - 1);
    // NIE: the X, Y, Z prefix stands for 0, 1, 2.
    let number = number
        .replacen('X', "0", 1)
        .replacen('Y', "1", 1)
        .replacen('Z', "2", 1);
    let Ok(n) = number.parse::<usize>() else {
        return false;
    };
    letter.as_bytes()[0] == b"TRWAGMYFPDXBNJZSQVHLCKE"[n % 23] && !glued(text, start, end, NUM_SEPS)
}

#[cfg(test)]
mod tests;
