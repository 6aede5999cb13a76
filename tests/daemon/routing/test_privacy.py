"""The privacy detector: what it must catch, what it must leave alone, and the eval set goals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roundhouse.daemon.routing import privacy
from roundhouse.daemon.routing.privacy import PrivacyDetector, iban_ok, luhn_ok, verhoeff_ok

EVAL = Path(__file__).resolve().parents[2] / "data" / "routing_eval.jsonl"
detector = PrivacyDetector()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my key is sk-proj-Xq3vB8nR2kLm9PzT4wY7cJ5hG1dF6sA0eU8iO2 thanks", "secret.openai_key"),
        (
            "ANTHROPIC_API_KEY=sk-ant-api03-abcDEF123ghiJKL456mnoPQR789stuVWX-yz_0123456789AA",
            "secret.anthropic_key",
        ),
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "secret.aws_access_key"),
        ("token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "secret.github_token"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "secret.private_key"),
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "secret.jwt",
        ),
        ("DATABASE_URL=postgres://app:Tr0ub4dor&3@db.internal:5432/prod", "secret.url_password"),
        ('login(user="ann", password="correct-h0rse")', "secret.assignment"),
        ("my wifi password is Sunflower!77", "secret.password"),
        ('WEBHOOK_SECRET = "q8Zr2LmX9vTb4NcY7wKd1JpF6sHa3GeU"', "secret.assignment"),
        ("Write to maria.garcia84@gmail.com about the invoice", "pii.email"),
        ("Call me at +44 20 7946 0958 tomorrow", "pii.phone"),
        ("card 4539 1488 0343 6467 exp 10/27", "pii.card_number"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "pii.iban"),
        ("SSN 078-05-1120 on the form", "pii.national_id"),
        ("Mi DNI es 12345678Z", "pii.national_id"),
    ],
)
def test_finds_secrets_and_personal_data(text: str, kind: str) -> None:
    assert kind in detector.kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "assert order_id == '3f1e2d4c-5b6a-4789-8abc-def012345678'",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "pip install numpy==1.26.4 pandas==2.2.1",
        "The laptop costs $1,299.99, delivered on 2024-03-15",
        "password = os.environ['DB_PASSWORD']",
        "max_tokens = 512\ntoken_count = len(tokens)",
        "Replace <YOUR_API_KEY> with the key from the dashboard",
        "git clone git@github.com:psf/requests.git",
        "npm install lodash@4.17.21",
        "card-like but invalid: 4539 1488 0343 6468",
        "the well-known test card 4242 4242 4242 4242 declines",
        "docker run -p 8080:80 nginx",
        "Ping 192.168.1.254 and 10.0.0.1",
        "Our build 20240315.4 failed; ticket JIRA-4821",
    ],
)
def test_leaves_code_hashes_versions_prices_and_dates_alone(text: str) -> None:
    assert detector.kinds(text) == []


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert verhoeff_ok("2363") and not verhoeff_ok("2364")


def test_user_keywords_and_patterns() -> None:
    custom = PrivacyDetector(keywords=["Project Nightingale"], patterns=[r"\bCASE-\d{6}\b"])
    assert custom.kinds("status of project nightingale?") == ["user.keyword"]
    assert custom.kinds("see CASE-123456") == ["user.pattern"]
    assert custom.kinds("nightingales sing") == []


def test_redaction_removes_every_finding() -> None:
    text = "mail jo@example.org, key sk-proj-Xq3vB8nR2kLm9PzT4wY7cJ5hG1dF6sA0eU8iO2"
    redacted = detector.redact(text)
    assert "jo@example.org" not in redacted and "sk-proj" not in redacted
    assert "[pii.email]" in redacted and "[secret.openai_key]" in redacted


def test_a_chat_is_judged_by_all_of_its_messages_turn_after_turn() -> None:
    """A chat resends its history each turn; messages seen before are remembered, not rescanned,
    and the answer is the same as scanning every message afresh."""
    chat = PrivacyDetector()
    history = ["hello there", "my key is sk-proj-Xq3vB8nR2kLm9PzT4wY7cJ5hG1dF6sA0eU8iO2 thanks", "ok"]
    for turn in range(1, len(history) + 1):
        messages = history[:turn]
        expected = sorted({kind for text in messages for kind in detector.kinds(text)})
        assert chat.kinds_in(messages) == expected
        assert chat.kinds_in(messages) == expected  # the second time, from memory
    assert chat.kinds_in(["ok", "hello there"]) == []
    assert chat.kinds_in(["Write to maria.garcia84@gmail.com", "ok"]) == ["pii.email"]


def test_the_memory_of_scanned_texts_stays_bounded() -> None:
    chat = PrivacyDetector()
    for i in range(privacy.MEMO_ENTRIES + 500):
        chat.kinds_in([f"message number {i}"])
    assert len(chat._memo) <= privacy.MEMO_ENTRIES
    huge = "x" * (privacy.MEMO_CHARS // 16 + 1) + " sk-proj-Xq3vB8nR2kLm9PzT4wY7cJ5hG1dF6sA0eU8iO2"
    assert chat.kinds_in([huge]) == ["secret.openai_key"]  # scanned, but too big to keep
    assert huge not in chat._memo


def test_evaluation_set_meets_the_goals() -> None:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    scanner = PrivacyDetector(keywords=["ProjectNightingale", "Falcon-X"])
    positives = [r["text"] for r in rows if r.get("private") is True]
    negatives = [r["text"] for r in rows if r.get("private") is False]
    assert len(positives) >= 200 and len(negatives) >= 100
    missed = [t for t in positives if not scanner.is_private(t)]
    flagged = [t for t in negatives if scanner.is_private(t)]
    assert len(missed) / len(positives) <= 0.005, missed
    assert len(flagged) / len(negatives) <= 0.03, flagged


# Prompts of the kinds that prompts written apart from the detector carried past it.
@pytest.mark.parametrize(
    "text",
    [
        "celery broker_url = 'redis://:S3cure-cache!@cache.internal:6379/1' keeps dropping tasks",
        "ELASTICSEARCH_URL=https://elastic:orangebanana@db-5.internal:9200",
        "sshpass -p 'monkeypurple86' ssh deploy@10.0.0.7 uptime",
        "ssh app@db-1.internal with password 'monkeypurple86' gets 'Permission denied'",
        "mysql -u root -pS3cretPw orders < dump.sql",
        "PGPASSWORD=nij)13dY$9@H*F psql -h db.internal -U app",
        "curl -u deploy:Wyu3x579 https://ci.internal/api",
        "docker login -u ci -p gardendragon registry.internal",
        "mysqldump --user=app --password=coffeeocean main > main.sql",
        "curl -H 'Authorization: Bearer Zx9f8FkaVSk3ZYnczzu7tMl' https://api.internal/v2",
        'variable "db_password" {\n  default = "coffeetiger"\n}',
        "env:\n- name: DB_PASSWORD\n  value: hunter22x",
        '<property name="password">Tu291o0y</property>',
        "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: sunflowersunflower",
        'const authToken = "7ZZ0yTTH";',
        "Patient: Willfried Holt\nDOB: 24/08/2004\nDiagnosis: epilepsy\nMedication: levetiracetam 750 mg",
        "Dear Lucia Antonini,\n\nWe will send the documents to Via Leone, 47, 00072 Ariccia.\n\nRegards",
        "My daughter Emma Schultz was born on 3 March 2015; which vaccines is she due for?",
        "Send the refund to Bobby Livingston, IBAN NL83SQYM6685440978.",
    ],
)
def test_finds_credentials_anywhere_and_personal_data_by_combination(text: str) -> None:
    assert detector.is_private(text), detector.kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "mysql -u root -p orders  (it prompts for the password)",
        "ssh -p 2222 deploy@db.internal 'df -h'",
        "DB_PASSWORD=${DB_PASSWORD}\nDB_USER=${DB_USER}",
        'api_key = "<your-api-key>"',
        "postgres://localhost:5432/app works from psql but not from my app",
        'export OPENAI_API_KEY="sk-..."',
        "request_id=a714a40c-afe3-42be-b324-158dfbd095f5 status=500",
        "Marie Curie was born on 7 November 1867 in Warsaw; summarise her work.",
        "What are the common side effects of metformin 500 mg twice daily?",
        "The White House is at 1600 Pennsylvania Avenue NW, Washington, DC 20500 — who designed it?",
        "Ask Jane Jordan to review the pull request before Friday.",
        'public_key = "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit"',
    ],
)
def test_leaves_placeholders_references_public_facts_and_lone_names_alone(text: str) -> None:
    assert detector.kinds(text) == []


def _split(name: str) -> tuple[list[str], list[str]]:
    path = Path(__file__).resolve().parents[3] / "bench" / "data" / f"privacy_{name}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows if r["private"]], [r["text"] for r in rows if not r["private"]]


@pytest.mark.parametrize(("split", "recall", "fp"), [("dev", 0.995, 0.03), ("heldout", 0.98, 0.03)])
def test_the_privacy_sets_stay_at_their_measured_level(split: str, recall: float, fp: float) -> None:
    """dev is what the rules were tuned on; heldout was held out, then seen (README)."""
    positives, negatives = _split(split)
    assert len(positives) >= 500 and len(negatives) >= 500
    caught = sum(detector.is_private(t) for t in positives)
    flagged = sum(detector.is_private(t) for t in negatives)
    assert caught / len(positives) >= recall
    assert flagged / len(negatives) <= fp
