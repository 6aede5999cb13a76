"""The privacy detector as it stood before the held-out evaluation (frozen as the regex-only
baseline of bench/routing_eval.py; not used by the daemon)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # "secret.<what>", "pii.<what>", "user.keyword", "user.pattern"
    start: int
    end: int


Check = Callable[[re.Match[str]], bool]
# What the detector remembers of texts it has scanned (see `kinds_in`).
MEMO_CHARS = 4_000_000
MEMO_ENTRIES = 20_000


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    regex: re.Pattern[str]
    check: Check | None = None
    hint: str | None = None  # a substring that must occur (cheap pre-filter), lower-case


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if index % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and expected != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}  # fmt: skip

_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[index % 8][ord(char) - 48]]
    return check == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


# --- value judgements -------------------------------------------------------------------

_PLACEHOLDER_WORDS = {
    "password", "passwd", "pass", "pwd", "secret", "token", "changeme", "change_me", "example",
    "your_password", "yourpassword", "your-password", "mypassword", "my_password", "none", "null",
    "nil", "true", "false", "undefined", "redacted", "hidden", "dummy", "placeholder", "todo",
    "xxx", "user", "username", "test", "foo", "bar", "value", "string", "required", "optional",
}  # fmt: skip
_REFERENCE = re.compile(
    r"""^(?:[$%{<\[(`*]|\\|os\.|env\.|process\.env|getenv|environ|settings\.|config\.|self\.|this\.|
         secrets\.|vault:|ref\+|keyring|input\(|prompt\()""",
    re.IGNORECASE | re.VERBOSE,
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(.*\)?|\[.*\]?)?[,;]?$")


def is_placeholder(value: str) -> bool:
    value = value.strip().strip("\"'`")
    if not value:
        return True
    lowered = value.lower()
    if lowered in _PLACEHOLDER_WORDS or lowered.strip("<>{}[]()_-") in _PLACEHOLDER_WORDS:
        return True
    if _REFERENCE.match(value) or "{{" in value or "${" in value or "(" in value:
        return True
    if set(value) <= set("*xX.•#-_"):
        return True
    if lowered.startswith(
        ("your", "my-", "my_", "<", "insert", "replace", "enter", "put-", "example")
    ) and not any(c.isdigit() for c in value):
        return True
    return bool(re.fullmatch(r"[-+]?\d+(?:\.\d+)?", value))


def looks_random(value: str, *, min_length: int = 16, min_entropy: float = 3.0) -> bool:
    """A token that looks machine-generated: long, mixed letters and digits, high entropy."""
    if len(value) < min_length:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if not (has_digit and has_alpha):
        return False
    return shannon_entropy(value) >= min_entropy


_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --- secrets ------------------------------------------------------------------------------

_SECRET_NAME_END = re.compile(
    r"""(?:pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|apikey|
         (?:api|access|secret|private|signing|encryption|master|client|auth|app|account|license|
            subscription|service|webhook|bot|consumer|storage|sas)[_\-.]?key|
         (?:access|refresh|bearer|auth|id|session|api|bot|personal)[_\-.]?token|
         client[_\-.]?secret|session[_\-.]?(?:id|key|cookie)|cookie)$""",
    re.IGNORECASE | re.VERBOSE,
)
_PASSWORD_NAME_END = re.compile(r"(?:pass(?:word|wd|phrase)?|pwd)$", re.IGNORECASE)
# A name, an assignment operator, then a quoted or bare value.
_ASSIGNMENT = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,60})["']?\s*(?:=>|:=|=|:)\s*
        (?:(?P<q>["'`])(?P<qval>[^"'`\n]{1,300})(?P=q)|(?P<val>[^\s"'`,;)}\]]{1,300}))""",
    re.VERBOSE,
)
_NOT_SECRET_NAMES = re.compile(
    r"(?:hash|checksum|digest|sha\d*|md5|etag|integrity|uuid|guid|commit|version|nonce|id)$", re.IGNORECASE
)


def _assignment_is_secret(match: re.Match[str]) -> bool:
    name = match.group("name").strip("\"'").rstrip(".-_")
    quoted = match.group("qval")
    value = quoted if quoted is not None else match.group("val")
    if value is None:
        return False
    value = value.strip()
    if _SECRET_NAME_END.search(name):
        if is_placeholder(value):
            return False
        if quoted is None and _IDENTIFIER.match(value) and value.lower() == value and "_" in value:
            return False  # `password = user_password`: a variable, not a literal
        if quoted is None and _IDENTIFIER.match(value) and "." in value:
            return False
        if _PASSWORD_NAME_END.search(name):
            return len(value) >= 4 and " " not in value.strip()
        if _UUID.match(value) or _HEX.match(value):
            return len(value) >= 16
        return looks_random(value, min_length=12, min_entropy=2.8) or (
            len(value) >= 20 and " " not in value and shannon_entropy(value) >= 3.5
        )
    if _NOT_SECRET_NAMES.search(name) or quoted is None:
        return False
    # Any other quoted value that is long, un-spaced and far from words: a token.
    if len(value) < 28 or " " in value or "/" in value or _HEX.match(value) or _UUID.match(value):
        return False
    classes = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    )
    return classes == 3 and shannon_entropy(value) >= 4.3


_URL_PASSWORD = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://(?P<user>[^\s:/?#@\"']+):(?P<pw>[^\s/?#@\"']+)@"
)


def _url_password(match: re.Match[str]) -> bool:
    return not is_placeholder(match.group("pw"))


_PROSE_PASSWORD = re.compile(
    r"""\b(?:password|passcode|passwd|passphrase|pin(?:\s+code)?|wifi\s+key)
        (?:\s+(?:for|to|of|on)\s+[\w.@\- ]{1,40}?)?\s+(?:is|was|=|:)\s*["'`]?(?P<pw>[^\s"'`]{4,})""",
    re.IGNORECASE | re.VERBOSE,
)


def _prose_password(match: re.Match[str]) -> bool:
    value = match.group("pw").rstrip(".,;:!?)")
    if is_placeholder(value) or len(value) < 4:
        return False
    lowered = value.lower()
    if lowered in {
        "required",
        "incorrect",
        "wrong",
        "correct",
        "invalid",
        "valid",
        "empty",
        "missing",
        "too",
    }:
        return False
    # Prose words ("is stored", "was changed") are not passwords; a literal has a digit or symbol.
    return any(not c.isalpha() for c in value) or (
        len(value) >= 6 and value != lowered and value != value.upper()
    )


_CLI_USER_PASSWORD = re.compile(r"""(?:^|\s)(?:-u|--user)\s+["']?[^\s:"']+:(?P<pw>[^\s"']{4,})""")
_CLI_PASSWORD = re.compile(
    r"""(?:^|\s)(?:-p|--password[= ]|--pass[= ])(?P<q>["']?)(?P<pw>[^\s"']{4,})(?P=q)"""
)


def _cli_password(match: re.Match[str]) -> bool:
    value = match.group("pw")
    if is_placeholder(value) or re.fullmatch(r"[\d:./\-]+", value):
        return False
    return any(c.isalpha() for c in value) and any(not c.isalpha() for c in value)


def _bearer(match: re.Match[str]) -> bool:
    token = match.group("tok")
    return not is_placeholder(token) and looks_random(token, min_length=16, min_entropy=3.0)


def _openai_key(match: re.Match[str]) -> bool:
    token = match.group(0)
    return looks_random(token[3:], min_length=20, min_entropy=3.0)


_SECRET_RULES: tuple[Rule, ...] = (
    Rule(
        "secret.private_key",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        hint="-----",
    ),
    Rule("secret.anthropic_key", re.compile(r"\bsk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_\-]{20,}"), hint="sk-ant-"),
    Rule(
        "secret.openai_key",
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
        _openai_key,
        "sk-",
    ),
    Rule("secret.aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    Rule("secret.github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    Rule("secret.gitlab_token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), hint="glpat-"),
    Rule("secret.slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), hint="xox"),
    Rule(
        "secret.slack_webhook",
        re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"),
        hint="hooks.slack.com",
    ),
    Rule("secret.google_api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), hint="aiza"),
    Rule("secret.stripe_key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"), hint="_"),
    Rule("secret.huggingface_token", re.compile(r"\bhf_[A-Za-z0-9]{30,}"), hint="hf_"),
    Rule("secret.sendgrid_key", re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"), hint="sg."),
    Rule("secret.npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), hint="npm_"),
    Rule("secret.groq_key", re.compile(r"\bgsk_[A-Za-z0-9]{40,}"), hint="gsk_"),
    Rule("secret.xai_key", re.compile(r"\bxai-[A-Za-z0-9]{40,}"), hint="xai-"),
    Rule("secret.pypi_token", re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"), hint="pypi-"),
    Rule("secret.digitalocean_token", re.compile(r"\bdo[por]_v1_[a-f0-9]{64}\b"), hint="_v1_"),
    Rule("secret.telegram_bot_token", re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}\b"), hint=":aa"),
    Rule("secret.mailchimp_key", re.compile(r"\b[0-9a-f]{32}-us\d{1,2}\b"), hint="-us"),
    Rule("secret.twilio_key", re.compile(r"\bSK[0-9a-f]{32}\b")),
    Rule(
        "secret.azure_key",
        re.compile(r"(?:AccountKey|SharedAccessKey|sig)=[A-Za-z0-9+/%]{30,}={0,2}"),
        hint="=",
    ),
    Rule(
        "secret.jwt",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        hint="eyj",
    ),
    Rule("secret.url_password", _URL_PASSWORD, _url_password, hint="://"),
    Rule(
        "secret.bearer_token",
        re.compile(r"\b(?:bearer|token|basic)\s+(?P<tok>[A-Za-z0-9_\-.=+/]{16,})", re.IGNORECASE),
        _bearer,
    ),
    Rule("secret.password", _PROSE_PASSWORD, _prose_password),
    Rule("secret.password", _CLI_PASSWORD, _cli_password, hint="-"),
    Rule("secret.password", _CLI_USER_PASSWORD, _url_password, hint="-"),
    Rule("secret.assignment", _ASSIGNMENT, _assignment_is_secret),
)


# --- personal data --------------------------------------------------------------------------

_FILE_TLDS = {
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "ts", "tsx", "jsx", "css", "py", "md", "json",
    "txt", "html", "xml", "yaml", "yml", "toml", "lock", "map", "wasm", "so", "dll", "exe", "zip", "gz",
}  # fmt: skip
_EMAIL = re.compile(
    r"(?<![\w.+\-/@])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@(?P<domain>[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.(?P<tld>[A-Za-z]{2,24}))\b"
)


def _email(match: re.Match[str]) -> bool:
    if match.group("tld").lower() in _FILE_TLDS or match.group("local").lower() == "git":
        return False
    before = match.string[max(0, match.start() - 8) : match.start()].lower()
    return not re.search(r"\b(?:ssh|scp|rsync|sftp)\s+(?:-\S+\s+)*$", before)


_CARD = re.compile(r"(?<![\d\-.])(?:\d[ \-]?){12,18}\d(?![\d\-]|\.\d)")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[068])")


def _card(match: re.Match[str]) -> bool:
    raw = match.group(0)
    digits = _digits(raw)
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
        return False
    separators = {c for c in raw if not c.isdigit()}
    if len(separators) > 1:
        return False
    return luhn_ok(digits) and len(set(digits)) > 2


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _iban(match: re.Match[str]) -> bool:
    return iban_ok(match.group(0))


_PHONE_INTL = re.compile(r"(?<![\w+.\-/])\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){2,6}(?![\w.\-/]|\.\d)")


def _phone_intl(match: re.Match[str]) -> bool:
    return 8 <= len(_digits(match.group(0))) <= 15


_PHONE_NANP = re.compile(
    r"(?<![\w.\-/+:])(?:\(\s?[2-9]\d{2}\s?\)\s?|[2-9]\d{2}[\-. ])[2-9]\d{2}[\-. ]\d{4}(?![\w.\-/:])"
)
_PHONE_EU = re.compile(
    r"(?<![\w.\-/+:])(?:0[1-9](?P<s>[ .\-])\d{2}(?:(?P=s)\d{2}){3}|07\d{3} ?\d{6}|0\d{2,4}[ /]\d{5,8})"
    r"(?![\w.\-/:])"
)
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|call me|text me|whatsapp|fax)\b[^\d\n]{0,20}"
    r"(?P<num>\+?\d[\d ().\-]{5,18}\d)",
    re.IGNORECASE,
)


def _phone_context(match: re.Match[str]) -> bool:
    return 7 <= len(_digits(match.group("num"))) <= 15


_SSN = re.compile(r"(?<![\w\-.])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\-.])")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_NIR = re.compile(r"\b[12] ?\d{2} ?(?:0[1-9]|1[0-2]) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b")


def _nir(match: re.Match[str]) -> bool:
    raw = match.group(0).replace(" ", "")
    body, key = raw[:13], int(raw[13:])
    body = body.replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == key


_DNI = re.compile(r"\b[XYZ]?\d{7,8}[A-Z]\b")


def _dni(match: re.Match[str]) -> bool:
    raw = match.group(0)
    number = raw[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(number) % 23] == raw[-1]


_CODICE_FISCALE = re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b")
_AADHAAR = re.compile(r"(?<![\d\-.])(?<!\d )[2-9]\d{3} \d{4} \d{4}(?![\d\-.]| \d)")


def _aadhaar(match: re.Match[str]) -> bool:
    return verhoeff_ok(_digits(match.group(0)))


_SIN = re.compile(r"(?<![\d\-.])(?<!\d )[1-79]\d{2}[ \-]\d{3}[ \-]\d{3}(?![\d\-.]| \d)")


def _sin(match: re.Match[str]) -> bool:
    return luhn_ok(_digits(match.group(0)))


_ID_CONTEXT = re.compile(
    r"""\b(?:ssn|social\s+security(?:\s+number)?|passport(?:\s+(?:number|no\.?))?|national\s+id(?:\s+number)?|
         tax\s+id|tin|steuer-?id|nino|national\s+insurance(?:\s+number)?|aadhaar|bsn|driver'?s\s+licen[cs]e(?:\s+number)?|dni|nif|cpf)\b
        \s*(?:is|:|=|\#|no\.?|number)?\s*(?P<id>[A-Z0-9][A-Z0-9 \-.]{4,18}[A-Z0-9])""",
    re.IGNORECASE | re.VERBOSE,
)


def _id_context(match: re.Match[str]) -> bool:
    value = match.group("id")
    return sum(c.isdigit() for c in value) >= 5


_PII_RULES: tuple[Rule, ...] = (
    Rule("pii.email", _EMAIL, _email, hint="@"),
    Rule("pii.card_number", _CARD, _card),
    Rule("pii.iban", _IBAN, _iban),
    Rule("pii.phone", _PHONE_INTL, _phone_intl, hint="+"),
    Rule("pii.phone", _PHONE_NANP),
    Rule("pii.phone", _PHONE_EU),
    Rule("pii.phone", _PHONE_CONTEXT, _phone_context),
    Rule("pii.national_id", _SSN, hint="-"),
    Rule("pii.national_id", _NINO),
    Rule("pii.national_id", _NIR, _nir),
    Rule("pii.national_id", _DNI, _dni),
    Rule("pii.national_id", _CODICE_FISCALE),
    Rule("pii.national_id", _AADHAAR, _aadhaar),
    Rule("pii.national_id", _SIN, _sin),
    Rule("pii.national_id", _ID_CONTEXT, _id_context),
)


class PrivacyDetector:
    """Pure and reusable: build once per policy, call `scan` per prompt."""

    def __init__(
        self,
        *,
        secrets: bool = True,
        personal_data: bool = True,
        keywords: Iterable[str] = (),
        patterns: Iterable[str] = (),
    ) -> None:
        rules: list[Rule] = []
        if secrets:
            rules.extend(_SECRET_RULES)
        if personal_data:
            rules.extend(_PII_RULES)
        words = [w.strip() for w in keywords if w.strip()]
        if words:
            alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            rules.append(Rule("user.keyword", re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)))
        for pattern in patterns:
            rules.append(Rule("user.pattern", re.compile(pattern)))
        self._rules = tuple(rules)
        # Text seen before -> its kinds. A chat resends its whole history on every turn, so
        # only the new message is scanned; the key is the text itself, never a hash of it.
        self._memo: dict[str, tuple[str, ...]] = {}
        self._memo_chars = 0

    def scan(self, text: str, *, first_only: bool = False) -> list[Finding]:
        findings: list[Finding] = []
        if not text:
            return findings
        lowered: str | None = None
        for rule in self._rules:
            if rule.hint is not None:
                if lowered is None:
                    lowered = text.lower()
                if rule.hint not in lowered:
                    continue
            for match in rule.regex.finditer(text):
                if rule.check is None or rule.check(match):
                    findings.append(Finding(rule.kind, match.start(), match.end()))
                    if first_only:
                        return findings
        return findings

    def is_private(self, text: str) -> bool:
        return bool(self.scan(text, first_only=True))

    def kinds(self, text: str) -> list[str]:
        return sorted({f.kind for f in self.scan(text)})

    def kinds_in(self, texts: Iterable[str]) -> list[str]:
        """The kinds found in any of `texts` (the messages of a request), remembering recent ones."""
        found: set[str] = set()
        memo = self._memo
        for text in texts:
            kinds = memo.get(text)
            if kinds is None:
                kinds = tuple({f.kind for f in self.scan(text)})
                self._remember(text, kinds)
            found.update(kinds)
        return sorted(found)

    def _remember(self, text: str, kinds: tuple[str, ...]) -> None:
        if len(text) > MEMO_CHARS // 16:
            return
        memo = self._memo
        memo[text] = kinds
        self._memo_chars += len(text)
        while self._memo_chars > MEMO_CHARS or len(memo) > MEMO_ENTRIES:
            oldest = next(iter(memo))
            del memo[oldest]
            self._memo_chars -= len(oldest)

    def redact(self, text: str) -> str:
        """The text with every finding replaced by `[kind]`, for anything that is stored."""
        findings = sorted(self.scan(text), key=lambda f: (f.start, -f.end))
        parts: list[str] = []
        cursor = 0
        for finding in findings:
            if finding.start < cursor:
                continue
            parts.append(text[cursor : finding.start])
            parts.append(f"[{finding.kind}]")
            cursor = finding.end
        parts.append(text[cursor:])
        return "".join(parts)
