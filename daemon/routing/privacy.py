"""Finds secrets and personal data in a prompt, offline and in well under a millisecond.

Each rule is a regular expression plus, where formats allow it, a checksum (Luhn for cards,
mod-97 for IBANs, the control letter of a Spanish DNI, Verhoeff for Aadhaar...) or a look at
the value (entropy, placeholders) so that code full of hashes, UUIDs, versions, prices and
dates is not mistaken for private data.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from roundhouse.daemon.routing.people import personal_facts


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
    r"""^(?:\\|os\.|env\.|process\.env|getenv|environ|settings\.|config\.|self\.|this\.|
         secrets\.|vault:|ref\+|keyring|input\(|prompt\()""",
    re.IGNORECASE | re.VERBOSE,
)
# A template or shell variable (`{{ .Values.x }}`, `${DB_PASS}`, `$1`), a call (`getenv("X")`).
_TEMPLATED = re.compile(
    r"\{\{\s*[\w.$|\- ]+\s*\}\}|\$\{\{?\s*[\w.:=$\-]+\s*\}|^\$\w+$|^\$\(.*\)$|^%\w+%$|^%\(\w+\)s$|%[sd]$"
    r"|^<[^>]*>$|^\[[^\]]*\]$|^\{[^}]*\}$|^\([^)]*\)$|^`[^`]*`$"
)
_CALL = re.compile(r"^[\w.\[\]'\"]+\(.*\)[,;]?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(.*\)?|\[.*\]?)?[,;]?$")


def is_placeholder(value: str) -> bool:
    value = value.strip().strip("\"'`")
    if not value:
        return True
    lowered = value.lower()
    if lowered in _PLACEHOLDER_WORDS or lowered.strip("<>{}[]()_-") in _PLACEHOLDER_WORDS:
        return True
    if _REFERENCE.match(value) or _TEMPLATED.search(value) or _CALL.match(value):
        return True
    if set(value) <= set("*xX.•#-_") or len(set(value.lower())) == 1 or value.endswith(("...", "…")):
        return True  # `****`, `yyy`, `sk-...`
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

# What a name means is read from its parts (`DB_PASSWORD`, `clientSecret`, `api-key`), so any
# naming style in any language is understood: a secret word, and no descriptor after it
# (`secret_name`, `token_url`, `password_min_length` name things about a secret, not one).
_NAME_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "passcode", "pw", "secret", "secrete", "secrets",
    "token", "credential", "credentials", "apikey", "auth", "pat", "sig", "signature", "cookie", "psk",
})  # fmt: skip
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "signing", "encryption", "master", "client", "auth", "app",
    "account", "license", "subscription", "service", "webhook", "bot", "consumer", "storage", "sas",
    "shared", "session", "admin", "write", "read", "deploy", "ssh", "gpg", "hmac", "jwt", "crypt",
})  # fmt: skip
_DESCRIPTORS = frozenset({
    "name", "names", "id", "ids", "url", "uri", "endpoint", "path", "file", "dir", "length", "len", "size",
    "count", "type", "types", "field", "hash", "hashed", "digest", "version", "ttl", "timeout", "expiry",
    "expires", "expiration", "min", "max", "prefix", "suffix", "header", "format", "env", "var", "store",
    "provider", "mode", "policy", "label", "kind", "location", "ref", "source", "manager", "required",
    "reset", "rotation", "enabled", "strength", "input", "prompt", "placeholder", "hint", "regex", "pattern",
    "class", "widget", "form", "validator", "box", "chars", "characters", "encoder", "filter",
    "index", "position", "value_from", "vault", "arn", "mount", "keeper", "changed", "at", "by",
})  # fmt: skip
_GLUED = re.compile(r"^[a-z]{2,}?(password|passwd|passphrase|secret|token|apikey|credentials?)$")
_PASSWORD_WORDS = frozenset({"password", "passwd", "pass", "pwd", "passphrase", "passcode", "pw", "psk"})


def _name_parts(name: str) -> list[str]:
    return [part.lower() for part in _NAME_PARTS.findall(name)]


def secret_name_kind(name: str) -> str | None:
    """'password' or 'secret' when a variable, key or flag of this name holds one; else None."""
    parts = [_GLUED.sub(r"\1", part) for part in _name_parts(name)]  # `PGPASSWORD`, `dbpass`
    last = -1
    for index, part in enumerate(parts):
        if part in _SECRET_WORDS or (part == "key" and index > 0 and parts[index - 1] in _KEY_QUALIFIERS):
            last = index
    if last < 0 or any(part in _DESCRIPTORS for part in parts[last + 1 :]):
        return None
    if any(part in ("public", "pub", "publishable") for part in parts[: last + 1]):
        return None  # `public_key`, `publicToken`: meant to be shared
    return "password" if parts[last] in _PASSWORD_WORDS else "secret"


_OPERATOR = r"(?:=>|:=|===|!==|==|!=|<-|=|:)"
# A name, an assignment (or comparison) operator, then a quoted or bare value.
_ASSIGNMENT = re.compile(
    rf"""(?P<name>[A-Za-z_$@][A-Za-z0-9_.\-]{{0,60}})(?:\[\d*\])?["']?[ \t]*{_OPERATOR}[ \t]*@?
        # The value is looked at, not consumed, so a name inside it (`url=...&password=x`) is seen too.
        (?=(?P<q>["'`])(?P<qval>[^"'`\n]{{1,300}})(?P=q)|(?P<val>(?:(?!&\w+=)[^\s"'`]){{1,300}}))""",
    re.VERBOSE,
)
# `"value" == password`, `secret("value")`, `password "value";`: the value before, or with no operator.
_REVERSED = re.compile(
    r"""(?P<q>["'`])(?P<qval>[^"'`\n]{1,300})(?P=q)\s*(?:===|!==|==|!=)\s*(?P<name>[A-Za-z_][\w.]{0,60})"""
)
_CALLED = re.compile(
    r"""(?P<name>[A-Za-z_][\w.\-]{0,60})(?:\(\s*|\s+)(?P<q>["'])(?P<qval>[^"'\n]{1,300})(?P=q)\s*[);]"""
)
_NOT_SECRET_NAMES = re.compile(
    r"(?:hash|checksum|digest|sha\d*|md5|etag|integrity|uuid|guid|commit|version|nonce|id)$", re.IGNORECASE
)
_TYPES = frozenset({"str", "int", "bool", "bytes", "float", "number", "any", "object", "secretstr", "char"})


def _value_is_literal_secret(kind: str, value: str, quoted: bool) -> bool:
    """Whether `value`, assigned to a name meaning `kind`, is a real one rather than a reference."""
    value = value.strip()
    if is_placeholder(value) or value.lower() in _TYPES:
        return False
    if re.search(r"fake|dummy|changeme|placeholder|redacted", value, re.IGNORECASE):
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", value):
        return False  # `token=ACCESS_TOKEN`: a constant's or variable's name
    if not quoted:
        if (
            _IDENTIFIER.match(value)
            and ("." in value or "[" in value)
            and not looks_random(re.sub(r"\W", "", value), min_length=16, min_entropy=3.5)
        ):
            return False  # `password = request.form["password"]`, `key = settings.KEY`
        if _IDENTIFIER.match(value) and value.lower() == value and "_" in value:
            return False  # `password = user_password`: a variable, not a literal
    if not any(c.isalnum() for c in value):
        return False
    if " " in value:  # a passphrase, quoted
        return quoted and len(value.split()) <= 6 and len(value) >= 6
    if kind == "password":
        return len(value) >= 4
    if len(value) < 6:
        return False
    if _UUID.match(value) or _HEX.match(value):
        return len(value) >= 16
    # Any length: a key/token/secret name holding a word-less literal. A plain word or two
    # (`token: bearer`, `secret: my-secret`) is not one.
    if re.fullmatch(r"[a-z]+(?:[-_][a-z]+)?", value):
        return False
    return True


def is_wordy(value: str) -> bool:
    """Mostly words run together (`SponsoredProductsRemoteSearch`): an identifier, not a token."""
    return sum(len(w) for w in re.findall(r"[A-Z]?[a-z]{3,}", value)) > 0.6 * len(value)


def _trim_bare(value: str) -> str:
    """A bare value less what closes the code around it (`f(password=x)`, `{key: x}`, `x,`)."""
    value = value.rstrip(",;")
    for opener, closer in ("()", "{}", "[]"):
        while value.endswith(closer) and value.count(closer) > value.count(opener):
            value = value[:-1].rstrip(",;")
    return value


def _assignment_is_secret(match: re.Match[str]) -> bool:
    name = match.group("name").strip("\"'$@").rstrip(".-_")
    quoted = match.group("qval")
    value = quoted if quoted is not None else match.groupdict().get("val")
    if value is None:
        return False
    value = value.strip() if quoted is not None else _trim_bare(value)
    if match.groupdict().get("q") == "`" and " " in value:
        return False  # `key=`cat file``: a command's output, not a literal
    kind = secret_name_kind(name)
    if kind is not None:
        return _value_is_literal_secret(kind, value, quoted is not None)
    if _NOT_SECRET_NAMES.search(name) or quoted is None or re.search(r"pub(?:lic)?", name, re.IGNORECASE):
        return False
    # Any other quoted value that is long, un-spaced and far from words: a token.
    if len(value) < 28 or " " in value or "/" in value or _HEX.match(value) or _UUID.match(value):
        return False
    if is_wordy(value):
        return False
    classes = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    )
    return classes == 3 and shannon_entropy(value) >= 4.3


# A name declared, and its value given a line or two later: Terraform's `variable "db_password"
# { default = "x" }`, Kubernetes' and ECS's `name: DB_PASSWORD` / `value: x`.
_DECLARED = re.compile(
    r"""(?:\bvariable\s+|\bname["']?\s*[:=]\s*)["']?(?P<name>[A-Za-z_][\w.\-]{0,60})["']?[\s\S]{0,40}?
        \b(?:default|value)["']?[ \t]*[:=][ \t]*
        (?:(?P<q>["'])(?P<qval>[^"'\n]{1,300})(?P=q)|(?P<val>[^\s"',}]{1,300}))""",
    re.VERBOSE,
)


# `config['SECRET_KEY'] = "x"`, `<property name="password">x</property>`,
# `<add key="ApiKey" value="x" />`: the name in brackets or an attribute, the value after it.
_KEYED = re.compile(
    r"""\[\s*["'](?P<name>[A-Za-z_][\w.\-]{0,60})["']\s*\][ \t]*=[ \t]*
        (?P<q>["'])(?P<qval>[^"'\n]{1,300})(?P=q)
      |<(?P<tag>[\w:.\-]+)[^<>]*?\b(?:name|key)=["'](?P<name2>[\w.\-:]{1,60})["'][^<>]*?
        (?:\bvalue=["'](?P<attr>[^"'<>\n]{1,300})["'][^<>]*/?>|(?<!/)>(?P<body>[^<>\n]{1,300})</(?P=tag)>)""",
    re.VERBOSE,
)


def _keyed_is_secret(match: re.Match[str]) -> bool:
    name = match.group("name") or match.group("name2") or ""
    value = match.group("qval") or match.group("attr") or match.group("body")
    kind = secret_name_kind(name)
    return kind is not None and value is not None and _value_is_literal_secret(kind, value, True)


def _declared_is_secret(match: re.Match[str]) -> bool:
    kind = secret_name_kind(match.group("name"))
    quoted = match.group("qval")
    value = quoted if quoted is not None else _trim_bare(match.group("val"))
    return kind is not None and _value_is_literal_secret(kind, value, quoted is not None)


def _named_value_is_secret(match: re.Match[str]) -> bool:
    kind = secret_name_kind(match.group("name"))
    value = match.group("qval")
    # `get_secret("prod/db")`, `getenv("API_TOKEN")`: a secret's name or path, not its value.
    if kind is None or re.fullmatch(r"[A-Z0-9_]+|[\w\-]*[/.:][\w/.:\-]*", value):
        return False
    return _value_is_literal_secret(kind, value, True)


# Userinfo in any scheme's URL, the user part possibly empty (`redis://:pw@host`); the password
# runs to the last `@` before the host, since real ones are often pasted unescaped.
_URL_PASSWORD = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.\-_]{1,20}://(?P<user>[^\s:/?#@\"'<>]*):(?P<pw>[^\s\"'<>]+?)@"
    r"(?=[\w\[.\-]+(?:[:/?#\s\"']|$))"
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


# A quoted value right after the word (`with password 'x'`, `the passphrase "x"`).
_QUOTED_PASSWORD = re.compile(
    r"""\b(?:password|passwd|passphrase|passcode)\s+(?P<q>["'`])(?P<pw>[^"'`\n]{4,64})(?P=q)""", re.IGNORECASE
)


def _quoted_password(match: re.Match[str]) -> bool:
    value = match.group("pw")
    return not is_placeholder(value) and len(value.split()) <= 4


# Command lines: `curl -u user:pw`, `--password=pw`, `-p'pw'`, `sshpass -p pw`, `mysql -pSecret`,
# `redis-cli -a pw`, `plink -pw pw`, `htpasswd -b file user pw`, `net use ... /user:x pw`.
_CLI_USER_PASSWORD = re.compile(
    r"""(?:^|\s)(?:-u|--user|-U|--basic-auth|--auth)(?:=|\s+)(?P<q>["']?)(?P<user>[^\s:"']*)["']?:"""
    r"""["']?(?P<pw>[^\s"']{3,})"""
)
_CLI_PASSWORD = re.compile(
    r"""(?:^|\s)(?P<flag>--(?:db-|admin-|user-)?(?:password|passwd|pass|pwd|token|api-key|apikey|secret|auth-token)
        |-pw|-p|-a)(?P<sep>=|[ \t]+|)(?P<q>["']?)(?P<pw>[^\s"']{3,})(?P=q)(?=\s|$|[;|&)])""",
    re.VERBOSE,
)
_NOT_CLI_VALUE = re.compile(r"[\d:./\-]+|[~/.].*|-.*")


def _cli_user_password(match: re.Match[str]) -> bool:
    value = match.group("pw")
    return not is_placeholder(value) and value.lower() not in _PLACEHOLDER_WORDS | {"token", "pass"}


def _cli_password(match: re.Match[str]) -> bool:
    value, flag, sep, quoted = match.group("pw"), match.group("flag"), match.group("sep"), match.group("q")
    if is_placeholder(value) or _NOT_CLI_VALUE.fullmatch(value):
        return False
    line_start = match.string.rfind("\n", 0, match.start()) + 1
    line = match.string[line_start : match.start()].lower()
    if flag.startswith("--"):
        return bool(sep) and len(value) >= 3
    if flag == "-a" and "redis-cli" not in line:
        return False
    if quoted and len(value) >= 4:
        return True
    if sep and re.search(r"\b(?:login|sshpass)\b", line):
        return len(value) >= 4  # where `-p` takes the password (mysql's `-p db` asks for it instead)
    mixed = any(not c.isalpha() for c in value) or (value != value.lower() and value != value.upper())
    if flag == "-p" and not sep:  # `-pSecret`: mysql's form; `-pthread`, `-pedantic` are compiler flags
        return mixed or bool(re.search(r"mysql|mariadb|sshpass", line))
    return mixed and any(c.isalpha() for c in value)


_HTPASSWD = re.compile(
    r"""\bhtpasswd\s+-[a-zA-Z]*b[a-zA-Z]*\s+(?:-\w+\s+)*\S+\s+\S+\s+(?P<q>["']?)(?P<pw>[^\s"']{3,})"""
)
_NET_USE = re.compile(
    r"""\bnet\s+use\b[^\n]*?/user:\S+\s+(?P<q>["']?)(?P<pw>[^\s"'/*][^\s"']{2,})""", re.IGNORECASE
)


def _plain_value(match: re.Match[str]) -> bool:
    return not is_placeholder(match.group("pw"))


# Most providers now prefix their keys (`glc_`, `hvs.`, `dapi`, `sntrys_`, `shpat_`, `lin_api_`,
# `pplx-`...): a short lower-case prefix, then a long random body.
_PREFIXED_TOKEN = re.compile(
    r"(?<![\w\-.])(?P<prefix>[a-z][a-z0-9]{1,9}(?:[_\-.][a-z0-9]{2,8})?[_\-.])(?P<tok>[A-Za-z0-9_\-+/]{24,}={0,2})"
)


def _prefixed_token(match: re.Match[str]) -> bool:
    body = match.group("tok").rstrip("=")
    if is_wordy(body):
        return False
    bare = re.sub(r"[-_]", "", body)
    if _HEX.match(bare) and (bare == bare.lower() or bare == bare.upper()):
        return False  # `request_id=<uuid>`, `sha256-<hex>`, `trace_id=<hex>`: identifiers and digests
    if _UUID.match(body) or "/" in body or re.search(r"(.)\1{5}", body):
        return False
    classes = sum(
        (any(c.islower() for c in body), any(c.isupper() for c in body), any(c.isdigit() for c in body))
    )
    return classes >= 2 and any(c.isdigit() for c in body) and shannon_entropy(body) >= 4.0


def _random_body(match: re.Match[str]) -> bool:
    token = match.group("tok")
    return shannon_entropy(token) >= 3.5 and not is_wordy(token)


def looks_fake(value: str) -> bool:
    """Documentation's stand-ins for a key: `xxxx`, long runs of one character, `your-...-here`."""
    lowered = value.lower()
    return bool(
        re.search(r"(.)\1{5}", value)
        or "xxxx" in lowered
        or re.search(r"your|here|placeholder|redacted|changeme|dummy|fake", lowered)
    )


# `Authorization: <scheme> <credentials>`, the scheme possibly left out.
_AUTH_HEADER = re.compile(
    r"""\bAuthorization["']?\s*[:=]\s*["']?(?:(?:Basic|Bearer|Token|Digest|ApiKey|Api-Key|SSWS|OAuth)\s+)?
        (?P<tok>[A-Za-z0-9+/=._~\-]{8,})""",
    re.IGNORECASE | re.VERBOSE,
)


def _auth_header(match: re.Match[str]) -> bool:
    token = match.group("tok")
    if is_placeholder(token) or token.lower() in {"basic", "bearer", "token", "digest"} or is_wordy(token):
        return False
    return any(c.isdigit() for c in token) or shannon_entropy(token) >= 3.5


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
    Rule("secret.slack_token", re.compile(r"\bxox[abposre]-(?:\d{6,}-){1,3}[A-Za-z0-9-]{8,}"), hint="xox"),
    Rule(
        "secret.slack_webhook",
        re.compile(
            r"hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Za-z0-9]+/[AB][A-Za-z0-9]+/[A-Za-z0-9/]+"
        ),
        hint="hooks.slack.com",
    ),
    Rule(
        "secret.azure_client_secret",
        re.compile(r"(?<![\w~.\-])[\w~.]{3}\dQ~[\w~.\-]{31,34}(?![\w~.\-])"),
        hint="q~",
    ),
    Rule("secret.facebook_token", re.compile(r"\bEAA[A-Za-z0-9]{30,}|\b\d{15,16}\|[A-Za-z0-9_\-]{27}\b")),
    Rule("secret.header", _AUTH_HEADER, _auth_header, hint="authorization"),
    Rule("secret.google_api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), hint="aiza"),
    Rule("secret.stripe_key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"), hint="_"),
    Rule("secret.huggingface_token", re.compile(r"\bhf_(?P<tok>[A-Za-z0-9]{30,})"), _random_body, "hf_"),
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
    Rule("secret.prefixed_token", _PREFIXED_TOKEN, _prefixed_token),
    Rule(
        "secret.bearer_token",
        re.compile(r"\b(?:bearer|token|basic)\s+(?P<tok>[A-Za-z0-9_\-.=+/~]{16,})", re.IGNORECASE),
        _bearer,
    ),
    Rule("secret.password", _PROSE_PASSWORD, _prose_password),
    Rule("secret.password", _QUOTED_PASSWORD, _quoted_password, hint="pass"),
    Rule("secret.password", _CLI_PASSWORD, _cli_password, hint="-"),
    Rule("secret.password", _CLI_USER_PASSWORD, _cli_user_password, hint="-"),
    Rule("secret.password", _HTPASSWD, _plain_value, hint="htpasswd"),
    Rule("secret.password", _NET_USE, _plain_value, hint="/user:"),
    Rule("secret.assignment", _ASSIGNMENT, _assignment_is_secret),
    Rule("secret.assignment", _REVERSED, _named_value_is_secret, hint="="),
    Rule("secret.assignment", _DECLARED, _declared_is_secret),
    Rule("secret.assignment", _KEYED, _keyed_is_secret),
    Rule("secret.assignment", _CALLED, _named_value_is_secret),
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
    line = match.string[match.string.rfind("\n", 0, match.start()) + 1 : match.start()].lower()
    if re.search(r"\b(?:ssh|scp|rsync|sftp|mosh|ssh-copy-id|sshpass)\b", line):
        return False  # `ssh -p 2222 deploy@host`: a login, not a mailbox
    if "://" in re.split(r"\s", line)[-1]:
        return False  # `redis://:pw@host`: a URL's credentials (their own rule), not a mailbox
    return not match.string.startswith(":/", match.end())


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
    r"""\b(?:ssn|social\s+security(?:\s+number)?|passport\s*(?:number|no\.?)?|national\s+id(?:\s+number)?|(?:bank(?:ing)?\s+)?account\s+number|
         routing\s+number|taxpayer\s+id(?:entification\s+number)?|driver'?s?\s+licen[cs]e(?:\s+number)?|
         tax\s+id|tin|steuer-?id|nino|national\s+insurance(?:\s+number)?|aadhaar|bsn|driver'?s\s+licen[cs]e(?:\s+number)?|dni|nif|cpf|
         pan|fin|nric|itin|ein|nhs(?:\s+number)?|medicare(?:\s+number)?|licen[cs]e\s+(?:number|no\.?))\b
        \s*(?:\#|no\.?|number)?\s*(?:is\s*:?|:|=)?\s*(?P<id>[A-Z0-9][A-Z0-9 \-.]{4,18}[A-Z0-9])""",
    re.IGNORECASE | re.VERBOSE,
)


def _id_context(match: re.Match[str]) -> bool:
    value = match.group("id")
    if sum(c.isdigit() for c in value) >= 5:
        return True
    first = value.split()[0]
    # `DJPMS1234Z`: letters and digits mixed, as identifiers are; a bare count or year is not one.
    return sum(c.isdigit() for c in first) >= 4 and any(c.isalpha() for c in first)


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


def _value_span(match: re.Match[str]) -> tuple[int, int]:
    """The private value's own span where the rule names it (so masking keeps `password = `)."""
    for group in ("pw", "qval", "val", "tok", "id", "num", "value", "attr", "body"):
        if group in match.re.groupindex and match.group(group) is not None:
            return match.start(group), match.end(group)
    return match.start(), match.end()


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
        self._personal_data = personal_data
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
                    start, end = _value_span(match)
                    if rule.kind.startswith("secret.") and looks_fake(text[start:end]):
                        continue
                    if rule.kind == "secret.prefixed_token" and any(
                        f.start < end and start < f.end for f in findings
                    ):
                        continue  # a provider's own rule named it already
                    findings.append(Finding(rule.kind, start, end))
                    if first_only:
                        return findings
        if self._personal_data:
            known = any(f.kind.startswith("pii.") for f in findings)
            findings.extend(Finding(s.kind, s.start, s.end) for s in personal_facts(text, known_fact=known))
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
