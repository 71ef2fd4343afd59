"""Consistency checks for the LLM evaluation sets in this folder (standard library only).

usage: python benches/llm_eval/check_data.py

Asserts, for pii.jsonl: every gold string occurs verbatim in its text, kinds are known, credit
cards pass Luhn, IBANs pass mod-97 with the right length for their country, national IDs are
valid US SSNs / UK NINOs / Spanish DNIs, phones have at least 7 digits, IP addresses parse,
e-mails look like e-mails, no e-mail or IPv4-shaped string is left unlisted (except known
decoys), and the per-kind minimum counts hold. Also checks label balance in sentiment.jsonl and
counts / lengths in translation.jsonl. Prints the counts and exits non-zero on any failure.
"""

import ipaddress
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

KINDS = {"email", "phone", "credit_card", "iban", "ip_address", "national_id", "person", "location"}
PATTERNED = ["email", "phone", "credit_card", "iban", "ip_address", "national_id"]
# IBAN lengths (ISO 13616 registry) for the countries used here and a few neighbours.
IBAN_LENGTH = {"AT": 20, "BE": 16, "CH": 21, "DE": 22, "ES": 24, "FR": 27, "GB": 22, "IE": 22,
               "IT": 27, "LU": 20, "NL": 18, "PL": 28, "PT": 25, "SE": 24}
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
# Strings that look like IPv4 addresses but are not PII (a version number on purpose).
IPV4_DECOYS = {"10.2.0.15"}


def load(name):
    with open(HERE / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def luhn_ok(s):
    digits = [int(c) for c in s if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(s):
    compact = s.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", compact):
        return False
    if IBAN_LENGTH.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_ok(s):
    m = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", s)
    if not m:
        return False
    area, group, serial = m.groups()
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def nino_ok(s):
    m = re.fullmatch(r"([A-Z])([A-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])", s)
    if not m:
        return False
    first, second = m.group(1), m.group(2)
    if first in "DFIQUV" or second in "DFIOQUV":
        return False
    return first + second not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def dni_ok(s):
    m = re.fullmatch(r"(\d{8})-?([A-Z])", s)
    return bool(m) and DNI_LETTERS[int(m.group(1)) % 23] == m.group(2)


def national_id_ok(s):
    return ssn_ok(s) or nino_ok(s) or dni_ok(s)


def phone_ok(s):
    return len(re.sub(r"\D", "", s)) >= 7 and re.fullmatch(r"[+\d() .-]+", s) is not None


def ip_ok(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def email_ok(s):
    return re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", s) is not None


VALIDATORS = {"credit_card": luhn_ok, "iban": iban_ok, "national_id": national_id_ok,
              "phone": phone_ok, "ip_address": ip_ok, "email": email_ok}


def check_pii(rows, errors):
    kinds = Counter()
    empty = 0
    id_styles = Counter()
    for n, row in enumerate(rows, 1):
        text, gold = row["text"], row["pii"]
        if not gold:
            empty += 1
        for item in gold:
            kind, value = item["type"], item["text"]
            kinds[kind] += 1
            if kind not in KINDS:
                errors.append(f"pii line {n}: unknown kind {kind!r}")
            if value not in text:
                errors.append(f"pii line {n}: {value!r} not in text")
            if value != value.strip():
                errors.append(f"pii line {n}: {value!r} has surrounding whitespace")
            check = VALIDATORS.get(kind)
            if check and not check(value):
                errors.append(f"pii line {n}: invalid {kind} {value!r}")
            if kind == "national_id":
                id_styles["ssn" if ssn_ok(value) else "nino" if nino_ok(value) else "dni"] += 1
        listed = {i["text"] for i in gold}
        for m in re.finditer(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", text):
            if m.group(0) not in listed:
                errors.append(f"pii line {n}: unlisted e-mail {m.group(0)!r}")
        for m in re.finditer(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", text):
            if m.group(0) not in listed and m.group(0) not in IPV4_DECOYS:
                errors.append(f"pii line {n}: unlisted IPv4-shaped {m.group(0)!r}")
    for kind in PATTERNED:
        if kinds[kind] < 5:
            errors.append(f"pii: only {kinds[kind]} {kind} items (need 5)")
    for kind in ("person", "location"):
        if kinds[kind] < 12:
            errors.append(f"pii: only {kinds[kind]} {kind} items (need 12)")
    if empty < 5:
        errors.append(f"pii: only {empty} texts without PII (need 5)")
    if len(rows) < 44:
        errors.append(f"pii: only {len(rows)} texts (need 44)")
    print(f"pii.jsonl: {len(rows)} texts, {empty} without PII, {sum(kinds.values())} gold items")
    for kind in PATTERNED + ["person", "location"]:
        print(f"  {kind:12s} {kinds[kind]}")
    print(f"  national_id styles: {dict(id_styles)}")


def check_sentiment(rows, errors):
    labels = Counter(r["label"] for r in rows)
    if set(labels) != {"positive", "negative", "neutral"}:
        errors.append(f"sentiment: unexpected labels {dict(labels)}")
    if len(set(labels.values())) != 1 or len(rows) < 48:
        errors.append(f"sentiment: unbalanced or too small {dict(labels)}")
    if len({r["text"] for r in rows}) != len(rows):
        errors.append("sentiment: duplicate texts")
    print(f"sentiment.jsonl: {len(rows)} texts {dict(labels)}")


def check_translation(rows, errors):
    targets = Counter(r["target"] for r in rows)
    for t in ("es", "fr", "de", "zh"):
        if targets[t] < 8:
            errors.append(f"translation: only {targets[t]} items for {t}")
    for n, r in enumerate(rows, 1):
        words = len(r["text"].split())
        if r["source"] != "en" or not 8 <= words <= 25 or not r["reference"].strip():
            errors.append(f"translation line {n}: bad item ({words} words)")
    print(f"translation.jsonl: {len(rows)} pairs {dict(targets)}")


def main():
    errors = []
    check_sentiment(load("sentiment.jsonl"), errors)
    check_pii(load("pii.jsonl"), errors)
    check_translation(load("translation.jsonl"), errors)
    for e in errors:
        print("ERROR:", e)
    if errors:
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
