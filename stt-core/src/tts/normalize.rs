//! English text made speakable before espeak-ng reads it: what espeak reads badly
//! (`docs/research/audio-tools.md`, B.4). espeak itself reads plain numbers, decimals,
//! ordinals, years, times, `%` and `&`; here are the rest: abbreviations whose period it
//! takes for a sentence end (`Dr. Smith`), currency (`$12.99`), fractions, units, ISO dates,
//! phone numbers and the Roman numerals of titles and names.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// `text` with every rule applied, in an order where no rule undoes another.
pub fn normalize_english(text: &str) -> String {
    let text = CURRENCY.replace_all(text, currency);
    let text = ISO_DATE.replace_all(&text, iso_date);
    let text = PHONE.replace_all(&text, phone);
    let text = FRACTION.replace_all(&text, fraction);
    let text = UNIT.replace_all(&text, unit);
    let text = SCALE.replace_all(&text, |c: &Captures| format!("{} {}", &c[1], scale(&c[2])));
    let text = ROMAN_AFTER_NOUN.replace_all(&text, |c: &Captures| {
        roman(&c[2]).map_or_else(|| c[0].to_string(), |n| format!("{} {n}", &c[1]))
    });
    let text = ROMAN_AFTER_NAME.replace_all(&text, |c: &Captures| {
        roman(&c[2]).map_or_else(
            || c[0].to_string(),
            |n| format!("{} the {n}{}", &c[1], suffix(n)),
        )
    });
    // `St.` after a name is a street (`Main St.`); before one, a saint (`St. Louis`).
    let text = STREET.replace_all(&text, |c: &Captures| {
        let ends = c.get(2).is_some_and(|m| {
            m.as_str().trim().is_empty() || m.as_str().trim_start().starts_with(char::is_uppercase)
        });
        format!(
            "{} Street{}{}",
            &c[1],
            if ends { "." } else { "" },
            c.get(2).map_or("", |m| m.as_str())
        )
    });
    ABBREVIATION.replace_all(&text, abbreviation).into_owned()
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

static CURRENCY: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"([$£€])\s?(\d[\d,]*)(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion|[kKmMbB]n?)\b)?",
    )
});
static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?:\((\d{3})\)\s?|\b(\d{3})[-. ])?\b(\d{3})-(\d{4})\b"));
static FRACTION: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(\d{1,3})/(\d{1,3})\b(/\d)?"));
static UNIT: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(\d+(?:\.\d+)?)\s?(km/h|km|kg|cm|mm|mg|ml|kHz|MHz|GHz|Hz|KB|MB|GB|TB|mph|lbs?|oz|ft|°C|°F|ms)(?:\b|$|\s)",
    )
});
static SCALE: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(\d+(?:\.\d+)?)([kKMB]|bn)\b"));
static ROMAN_AFTER_NOUN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(War|Chapter|Part|Volume|Book|Act|Phase|Section|Article|Episode|Season|Bowl|Type|Class|Level) ([IVXLC]+)\b",
    )
});
static ROMAN_AFTER_NAME: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b([A-Z][a-z]+) ([IVX]{2,5})\b"));
static STREET: LazyLock<Regex> = LazyLock::new(|| regex(r"\b([A-Z][a-z]+) St\.(\s+[A-Z]|\s*$)?"));
static ABBREVIATION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|Gen|Capt|Lt|Sgt|Col|Rev|Gov|Sen|Rep|Mt|Ft|Ave|Blvd|Rd|No|vs|Inc|Ltd|Corp|Co|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|approx|dept|est|fig)\.(\s+(?:\d|[A-Z])|\s*$|\s+[a-z])?",
    )
});

fn currency(c: &Captures) -> String {
    let (one, many, cent, cents) = match &c[1] {
        "$" => ("dollar", "dollars", "cent", "cents"),
        "£" => ("pound", "pounds", "penny", "pence"),
        _ => ("euro", "euros", "cent", "cents"),
    };
    let whole = c[2].replace(',', "");
    let fraction = c.get(3).map(|m| m.as_str());
    if let Some(scale_word) = c.get(4) {
        let amount = match fraction {
            Some(f) => format!("{whole}.{f}"),
            None => whole,
        };
        return format!("{amount} {} {many}", scale(scale_word.as_str()));
    }
    let unit = if whole == "1" { one } else { many };
    match fraction.filter(|f| f.len() == 2 && *f != "00") {
        Some(f) => {
            let f = f.trim_start_matches('0');
            let small = if f == "1" { cent } else { cents };
            format!("{whole} {unit} and {f} {small}")
        }
        None => match fraction.filter(|f| !f.trim_matches('0').is_empty()) {
            Some(f) => format!("{whole}.{f} {many}"),
            None => format!("{whole} {unit}"),
        },
    }
}

fn scale(word: &str) -> &'static str {
    match word {
        "k" | "K" | "thousand" => "thousand",
        "m" | "M" | "million" => "million",
        "b" | "B" | "bn" | "billion" => "billion",
        _ => "trillion",
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn iso_date(c: &Captures) -> String {
    let month: usize = c[2].parse().unwrap_or(1);
    let day: u32 = c[3].parse().unwrap_or(1);
    format!("{} {day}{}, {}", MONTHS[month - 1], suffix(day), &c[1])
}

fn suffix(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// Phone numbers digit by digit, a pause between the groups.
fn phone(c: &Captures) -> String {
    let digits = |s: &str| s.chars().map(String::from).collect::<Vec<_>>().join(" ");
    let mut groups: Vec<String> = Vec::new();
    if let Some(area) = c.get(1).or(c.get(2)) {
        groups.push(digits(area.as_str()));
    }
    groups.push(digits(&c[3]));
    groups.push(digits(&c[4]));
    groups.join(", ")
}

fn fraction(c: &Captures) -> String {
    if c.get(3).is_some() {
        return c[0].to_string(); // a date such as 3/4/2024, not a fraction
    }
    let numerator: u32 = c[1].parse().unwrap_or(0);
    let denominator: u32 = c[2].parse().unwrap_or(0);
    let plural = numerator != 1;
    let name: Cow<str> = match denominator {
        2 => (if plural { "halves" } else { "half" }).into(),
        4 => (if plural { "quarters" } else { "quarter" }).into(),
        _ => match ORDINALS.iter().find(|(d, _)| *d == denominator) {
            Some((_, ordinal)) if plural => format!("{ordinal}s").into(),
            Some((_, ordinal)) => (*ordinal).into(),
            None => return format!("{numerator} over {denominator}"),
        },
    };
    format!("{numerator} {name}")
}

const ORDINALS: [(u32, &str); 11] = [
    (3, "third"),
    (5, "fifth"),
    (6, "sixth"),
    (7, "seventh"),
    (8, "eighth"),
    (9, "ninth"),
    (10, "tenth"),
    (12, "twelfth"),
    (16, "sixteenth"),
    (32, "thirty-second"),
    (100, "hundredth"),
];

fn unit(c: &Captures) -> String {
    let amount = &c[1];
    let (one, many) = match &c[2] {
        "km/h" => ("kilometer per hour", "kilometers per hour"),
        "km" => ("kilometer", "kilometers"),
        "kg" => ("kilogram", "kilograms"),
        "cm" => ("centimeter", "centimeters"),
        "mm" => ("millimeter", "millimeters"),
        "mg" => ("milligram", "milligrams"),
        "ml" => ("milliliter", "milliliters"),
        "kHz" => ("kilohertz", "kilohertz"),
        "MHz" => ("megahertz", "megahertz"),
        "GHz" => ("gigahertz", "gigahertz"),
        "Hz" => ("hertz", "hertz"),
        "KB" => ("kilobyte", "kilobytes"),
        "MB" => ("megabyte", "megabytes"),
        "GB" => ("gigabyte", "gigabytes"),
        "TB" => ("terabyte", "terabytes"),
        "mph" => ("mile per hour", "miles per hour"),
        "lb" | "lbs" => ("pound", "pounds"),
        "oz" => ("ounce", "ounces"),
        "ft" => ("foot", "feet"),
        "°C" => ("degree Celsius", "degrees Celsius"),
        "°F" => ("degree Fahrenheit", "degrees Fahrenheit"),
        _ => ("millisecond", "milliseconds"),
    };
    let name = if amount == "1" { one } else { many };
    // The pattern took the space after the unit; give it back.
    let tail = if c[0].ends_with(char::is_whitespace) {
        " "
    } else {
        ""
    };
    format!("{amount} {name}{tail}")
}

fn roman(numeral: &str) -> Option<u32> {
    let value = |c| match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        'C' => 100,
        _ => 0,
    };
    let digits: Vec<u32> = numeral.chars().map(value).collect();
    let mut total = 0;
    for (i, &d) in digits.iter().enumerate() {
        match digits.get(i + 1) {
            Some(&next) if next > d => total -= d as i32,
            _ => total += d as i32,
        }
    }
    // Only numerals written the usual way (IIII and VX are words, not numbers).
    let total = u32::try_from(total).ok().filter(|&n| n > 0)?;
    (to_roman(total) == numeral).then_some(total)
}

fn to_roman(mut n: u32) -> String {
    const TABLE: [(u32, &str); 9] = [
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, letters) in TABLE {
        while n >= value {
            out.push_str(letters);
            n -= value;
        }
    }
    out
}

/// An abbreviation's word; its period stays only where a sentence really ends there (the
/// text ends, or the abbreviation is no title and a capital follows).
fn abbreviation(c: &Captures) -> String {
    let after = c.get(2).map_or("", |m| m.as_str());
    let next = after.trim_start().chars().next();
    let (word, title) = match &c[1] {
        "Dr" => ("Doctor", true),
        "Mr" => ("Mister", true),
        "Mrs" => ("Missus", true),
        "Ms" => ("Miz", true),
        "Prof" => ("Professor", true),
        "St" => ("Saint", true),
        "Jr" => ("Junior", false),
        "Sr" => ("Senior", false),
        "Gen" => ("General", true),
        "Capt" => ("Captain", true),
        "Lt" => ("Lieutenant", true),
        "Sgt" => ("Sergeant", true),
        "Col" => ("Colonel", true),
        "Rev" => ("Reverend", true),
        "Gov" => ("Governor", true),
        "Sen" => ("Senator", true),
        "Rep" => ("Representative", true),
        "Mt" => ("Mount", true),
        "Ft" => ("Fort", true),
        "Ave" => ("Avenue", false),
        "Blvd" => ("Boulevard", false),
        "Rd" => ("Road", false),
        "No" => match next {
            Some(c) if c.is_ascii_digit() => ("number", true),
            _ => return c[0].to_string(),
        },
        "vs" => ("versus", true),
        "Inc" => ("Incorporated", false),
        "Ltd" => ("Limited", false),
        "Corp" => ("Corporation", false),
        "Co" => ("Company", false),
        "approx" => ("approximately", true),
        "dept" => ("department", false),
        "est" => ("established", true),
        "fig" => ("figure", true),
        month => (month_name(month), true),
    };
    let ends_sentence = !title && next.is_none_or(char::is_uppercase);
    format!("{word}{}{after}", if ends_sentence { "." } else { "" })
}

fn month_name(short: &str) -> &'static str {
    let short = if short == "Sept" { "Sep" } else { short };
    MONTHS
        .iter()
        .find(|m| m.starts_with(short))
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::normalize_english as n;

    #[test]
    fn money() {
        assert_eq!(
            n("It costs $12.99 today."),
            "It costs 12 dollars and 99 cents today."
        );
        assert_eq!(n("$1 and £10"), "1 dollar and 10 pounds");
        assert_eq!(n("€3.50"), "3 euros and 50 cents");
        assert_eq!(n("a $1.5M deal"), "a 1.5 million dollars deal");
        assert_eq!(n("$2,000,000"), "2000000 dollars");
        assert_eq!(n("$5.00"), "5 dollars");
    }

    #[test]
    fn abbreviations_keep_sentences_whole() {
        assert_eq!(
            n("Dr. Smith met Mr. Jones."),
            "Doctor Smith met Mister Jones."
        );
        assert_eq!(
            n("He lives on Main St. The house"),
            "He lives on Main Street. The house"
        );
        assert_eq!(n("St. Louis"), "Saint Louis");
        assert_eq!(n("room No. 5"), "room number 5");
        assert_eq!(n("cats vs. dogs"), "cats versus dogs");
        assert_eq!(n("Acme Inc. makes tools"), "Acme Incorporated makes tools");
        assert_eq!(n("on Feb. 3"), "on February 3");
        assert_eq!(n("Say no. Then go"), "Say no. Then go");
    }

    #[test]
    fn numbers_in_context() {
        assert_eq!(n("on 2024-03-05"), "on March 5th, 2024");
        assert_eq!(n("call 555-1234"), "call 5 5 5, 1 2 3 4");
        assert_eq!(n("call (212) 555-1234"), "call 2 1 2, 5 5 5, 1 2 3 4");
        assert_eq!(
            n("3/4 cup and 1/2 lemon, 2/3 done"),
            "3 quarters cup and 1 half lemon, 2 thirds done"
        );
        assert_eq!(n("on 3/4/2024"), "on 3/4/2024");
        assert_eq!(n("5 km at 20°C"), "5 kilometers at 20 degrees Celsius");
        assert_eq!(n("1 kg of 10k"), "1 kilogram of 10 thousand");
        assert_eq!(n("World War II"), "World War 2");
        assert_eq!(n("Henry VIII ruled"), "Henry the 8th ruled");
        assert_eq!(n("Chapter IIII"), "Chapter IIII");
    }
}
