use super::*;

fn found(text: &str) -> Vec<(PiiKind, &str)> {
    find_patterned(text)
        .iter()
        .map(|s| (s.kind, &text[s.start..s.end]))
        .collect()
}

fn kinds(text: &str, kind: PiiKind) -> Vec<String> {
    find_patterned(text)
        .into_iter()
        .filter(|s| s.kind == kind)
        .map(|s| s.text)
        .collect()
}

#[test]
fn email_span_is_exact() {
    let text = "Write to jane.doe+work@mail.example.co.uk.";
    let spans = find_patterned(text);
    assert_eq!(spans.len(), 1);
    assert_eq!(
        (spans[0].kind, spans[0].start, spans[0].end),
        (PiiKind::Email, 9, 41)
    );
    assert_eq!(spans[0].text, "jane.doe+work@mail.example.co.uk");
    assert!(found("not an address: a@b, x@.com, .a@b.c").is_empty());
}

#[test]
fn phone_forms() {
    for phone in [
        "+1 (415) 555-0132",
        "415-555-0132",
        "(415) 555 0132",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+49 30 901820",
        "06 12 34 56 78",
        "+33 6 12 34 56 78",
        "+44 (0)20 7946 0958",
        "1-800-555-0199",
        "415.555.0132",
        "+14155550132",
        "555-0132",
    ] {
        let text = format!("Call {phone}, thanks.");
        assert_eq!(found(&text), vec![(PiiKind::Phone, phone)], "{phone}");
    }
    // A trailing number in a different grouping is cut off.
    assert_eq!(
        kinds("call 415-555-0132 2024 maybe", PiiKind::Phone),
        ["415-555-0132"]
    );
    assert!(found("ref x415-555-0132 and 415-555-0132y").is_empty());
}

#[test]
fn credit_cards_need_luhn() {
    assert_eq!(
        found("card 4111 1111 1111 1111."),
        [(PiiKind::CreditCard, "4111 1111 1111 1111")]
    );
    assert_eq!(
        kinds("amex 3782 822463 10005 ok", PiiKind::CreditCard),
        ["3782 822463 10005"]
    );
    assert_eq!(
        kinds("mc 5500-0000-0000-0004", PiiKind::CreditCard),
        ["5500-0000-0000-0004"]
    );
    assert_eq!(
        kinds("raw 4111111111111111", PiiKind::CreditCard),
        ["4111111111111111"]
    );
    // One digit changed: no card, and no phone carved out of it either.
    assert!(found("card 4111 1111 1111 1112.").is_empty());
    assert!(found("card 4111-1111-1111-1112.").is_empty());
}

#[test]
fn ibans_need_mod97_and_length() {
    let de = "DE89 3704 0044 0532 0130 00";
    assert_eq!(found(&format!("IBAN {de} please")), [(PiiKind::Iban, de)]);
    assert_eq!(
        kinds("GB82 WEST 1234 5698 7654 32 for rent", PiiKind::Iban),
        ["GB82 WEST 1234 5698 7654 32"]
    );
    assert_eq!(
        kinds("to FR14 2004 1010 0505 0001 3M02 606", PiiKind::Iban),
        ["FR14 2004 1010 0505 0001 3M02 606"]
    );
    assert_eq!(
        kinds("iban de89370400440532013000.", PiiKind::Iban),
        ["de89370400440532013000"]
    );
    assert_eq!(
        kinds("BE68 5390 0754 7034 and more", PiiKind::Iban),
        ["BE68 5390 0754 7034"]
    );
    assert!(kinds("DE88 3704 0044 0532 0130 00", PiiKind::Iban).is_empty());
    // Valid checksum but wrong length for the Netherlands (NL is 18).
    assert!(kinds("NL91ABNA04171643", PiiKind::Iban).is_empty());
}

#[test]
fn ip_addresses() {
    assert_eq!(
        found("host 192.168.1.20:8080 is up"),
        [(PiiKind::IpAddress, "192.168.1.20")]
    );
    assert_eq!(
        found("v6 2001:db8::8a2e:370:7334, ok"),
        [(PiiKind::IpAddress, "2001:db8::8a2e:370:7334")]
    );
    assert_eq!(
        kinds("mapped ::ffff:192.0.2.128 here", PiiKind::IpAddress),
        ["::ffff:192.0.2.128"]
    );
    assert_eq!(kinds("loopback ::1.", PiiKind::IpAddress), ["::1"]);
    let full = "2001:0db8:85a3:0000:0000:8a2e:0370:7334";
    assert_eq!(kinds(&format!("full {full}."), PiiKind::IpAddress), [full]);
    assert!(found("bad 999.1.1.1 and 1.2.3.4.5 and v1.2.3.4 and 01.2.3.4").is_empty());
    assert!(found("at 10:30:45, std::net, MAC 00:1A:2B:3C:4D:5E").is_empty());
}

#[test]
fn national_ids() {
    assert_eq!(
        found("SSN 123-45-6789."),
        [(PiiKind::NationalId, "123-45-6789")]
    );
    for bad in [
        "000-12-3456",
        "666-12-3456",
        "912-12-3456",
        "123-00-6789",
        "123-45-0000",
    ] {
        assert!(found(bad).is_empty(), "{bad}");
    }
    assert_eq!(
        kinds("NI AB 12 34 56 C ok", PiiKind::NationalId),
        ["AB 12 34 56 C"]
    );
    assert_eq!(kinds("NI AB123456C", PiiKind::NationalId), ["AB123456C"]);
    assert!(found("GB123456C DA123456C QQ123456C AB123456E").is_empty());
    assert_eq!(
        found("n° 1 84 12 76 451 089 46."),
        [(PiiKind::NationalId, "1 84 12 76 451 089 46")]
    );
    assert_eq!(
        kinds("n° 184127645108946", PiiKind::NationalId),
        ["184127645108946"]
    );
    assert!(kinds("n° 184127645108947", PiiKind::NationalId).is_empty());
    assert_eq!(
        kinds("Corse 2 69 05 2A 004 012 28", PiiKind::NationalId),
        ["2 69 05 2A 004 012 28"]
    );
    assert_eq!(
        found("Steuer-ID 86095742719."),
        [(PiiKind::NationalId, "86095742719")]
    );
    assert!(kinds("Steuer-ID 86095742718", PiiKind::NationalId).is_empty());
    assert_eq!(
        found("DNI 12345678Z, NIE X1234567L"),
        [
            (PiiKind::NationalId, "12345678Z"),
            (PiiKind::NationalId, "X1234567L")
        ]
    );
    assert!(found("DNI 12345678A, NIE X1234567A").is_empty());
}

#[test]
fn ordinary_meeting_text_has_no_findings() {
    let text = "On 2024-03-15 at 10:30 we reviewed Q1: revenue was $1,250.00, up 12.5% from 2023 \
        and 3% over the 2023-2024 plan. Version 1.2.3 shipped, 2.10 is next and build 10.0.19041 \
        is pinned. Orders 123-456 and 98765 are open; ticket #4521 closes 15/03/2024 at 14:00, \
        or 15.03.2024, in room 4.2. Budget: €3.500, 1 250 000 euros, 1,000,000 users, \
        between 1000-2000 seats, 250 attendees, ISO 27001, page 12 of 30, 10-15 minutes.";
    assert_eq!(found(text), []);
}

#[test]
fn overlaps_prefer_longer_then_specific() {
    // The tax id is also an 11-digit phone candidate; the specific kind wins the tie.
    assert_eq!(
        found("id 86095742719"),
        [(PiiKind::NationalId, "86095742719")]
    );
    // Digits inside an e-mail address stay part of the longer e-mail span.
    assert_eq!(
        found("mail 4155550132@example.com"),
        [(PiiKind::Email, "4155550132@example.com")]
    );
    let span = |kind, start, end| PiiSpan {
        kind,
        start,
        end,
        text: String::new(),
    };
    let merged = resolve(vec![
        span(PiiKind::Phone, 0, 10),
        span(PiiKind::CreditCard, 0, 10),
        span(PiiKind::Person, 5, 30),
    ]);
    assert_eq!(
        merged.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [PiiKind::CreditCard]
    );
}

#[test]
fn redact_replaces_spans() {
    let text = "Mail zoe@example.com or call 415-555-0132.";
    let (out, spans) = redact(text, find_patterned(text));
    assert_eq!(out, "Mail [EMAIL] or call [PHONE].");
    assert_eq!(spans.len(), 2);
    // A literal overlapping a patterned span loses; out-of-range spans are dropped.
    let mut all = find_literals(text, &[(PiiKind::Location, "example".into())]);
    all.push(PiiSpan {
        kind: PiiKind::Person,
        start: 40,
        end: 99,
        text: String::new(),
    });
    all.extend(find_patterned(text));
    assert_eq!(redact(text, all).0, "Mail [EMAIL] or call [PHONE].");
}

#[test]
fn redact_keeps_multibyte_text() {
    let text = "Zoë 的邮箱是zoe@example.com，电话415-555-0132。";
    let mut spans = find_literals(text, &[(PiiKind::Person, "Zoë".into())]);
    spans.extend(find_patterned(text));
    let (out, kept) = redact(text, spans);
    assert_eq!(out, "[PERSON] 的邮箱是[EMAIL]，电话[PHONE]。");
    assert_eq!(kept[0].text, "Zoë");
}

#[test]
fn literals_match_whole_words() {
    let text = "Annual report by Ann, with Anne and 张伟说好.";
    let literals = [
        (PiiKind::Person, "Ann".to_owned()),
        (PiiKind::Person, " 张伟 ".to_owned()),
        (PiiKind::Location, "  ".to_owned()),
    ];
    let spans = find_literals(text, &literals);
    let texts: Vec<(usize, &str)> = spans.iter().map(|s| (s.start, s.text.as_str())).collect();
    assert_eq!(texts, [(17, "Ann"), (36, "张伟")]);
    assert!(find_literals("ann", &literals[..1]).is_empty());
}

#[test]
fn kind_names() {
    assert_eq!(PiiKind::CreditCard.as_str(), "credit_card");
    assert_eq!(PiiKind::IpAddress.placeholder(), "[IP_ADDRESS]");
    assert_eq!(PiiKind::NationalId.as_str(), "national_id");
    assert_eq!(PiiKind::Location.placeholder(), "[LOCATION]");
}

#[test]
fn names_are_proper_nouns() {
    for name in [
        "Lisbon",
        "Oliver Grant",
        "São Paulo",
        "北京",
        "Jean-Luc",
        "May",
    ] {
        assert!(plausible_name(name), "{name}");
    }
    for name in [
        "laptop",
        "second floor",
        "Friday",
        "September twenty twenty-seven",
        "14th of March",
        "2023",
        "Q3 budget",
        "My Austrian account",
        "His",
        "",
    ] {
        assert!(!plausible_name(name), "{name}");
    }
}
