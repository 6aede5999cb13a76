"""Builds the privacy evaluation sets: bench/data/privacy_dev.jsonl and privacy_heldout.jsonl.

    .venv/bin/python bench/privacy_data.py [--gitleaks DIR] [--detect-secrets DIR] [--presidio DIR]

Rows come from three kinds of source, each row naming its own (`source`):
- other detectors' test suites, read from git checkouts of their repositories when given:
  gitleaks' rule tests (cmd/generate/config/rules/*.go: the literal true and false positives),
  detect-secrets' keyword plugin tests (the cases that expect a secret) and Presidio's context
  sentences (presidio-analyzer/tests/data/context_sentences_tests.txt);
- prompts made from the templates below, filled with Faker's synthetic names, addresses,
  dates and numbers (none of them real);
- hard negatives: code with placeholders, hashes, UUIDs, URLs without credentials, public
  figures and public places, medical questions about no one.

The templates here were written apart from the detector and are never tuned against it. Rows
are split into dev and held-out by *family* (one template, or one rule file of another tool),
with a fixed seed, before any detector looks at them: a held-out family was never seen while
tuning. Labels follow one rule: a row is private when sending it to a cloud provider would
disclose a working credential or facts about an identifiable person.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import re
import string
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "data"
SEED = 20261203
HELDOUT_SHARE = 0.5
PER_FAMILY = 16  # synthetic rows per template
PER_FAMILY_BENIGN = 24

Row = dict[str, Any]


# --- synthetic values ---------------------------------------------------------------------

DIAGNOSES = [
    "type 2 diabetes", "major depressive disorder", "HIV", "stage II breast cancer", "epilepsy",
    "bipolar disorder", "hepatitis C", "multiple sclerosis", "chronic kidney disease stage 3",
    "generalized anxiety disorder", "Crohn's disease", "early-onset Alzheimer's", "schizophrenia",
    "rheumatoid arthritis", "atrial fibrillation", "COPD", "anorexia nervosa", "PTSD",
]  # fmt: skip
MEDICATIONS = [
    "metformin 500 mg twice daily", "sertraline 50 mg", "lithium carbonate 300 mg", "insulin glargine",
    "methotrexate 15 mg weekly", "levetiracetam 750 mg", "quetiapine 100 mg at night", "apixaban 5 mg",
    "tenofovir/emtricitabine", "adalimumab 40 mg every other week", "lamotrigine 200 mg",
]  # fmt: skip
WORDS = ["sunflower", "dragon", "monkey", "falcon", "winter", "purple", "tiger", "rocket", "banana",
         "coffee", "shadow", "garden", "silver", "maple", "ocean", "thunder", "pepper", "orange"]  # fmt: skip
SCHEMES = ["redis", "rediss", "postgres", "postgresql", "mysql", "mongodb", "mongodb+srv", "amqp", "amqps",
           "ftp", "sftp", "smtp", "https", "http", "mssql", "clickhouse", "nats", "kafka", "ldap"]  # fmt: skip  # noqa: E501


class Values:
    """One row's synthetic values, drawn on first use (so every slot in a template agrees)."""

    def __init__(self, fake: Faker, rng: random.Random) -> None:
        self.fake = fake
        self.rng = rng
        self._cache: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._cache:
            self._cache[name] = getattr(self, "_" + name)()
        return self._cache[name]

    # people
    def _name(self) -> str:
        return self.fake.name()

    def _first(self) -> str:
        return self.fake.first_name()

    def _last(self) -> str:
        return self.fake.last_name()

    def _dob(self) -> str:
        d = self.fake.date_of_birth(minimum_age=1, maximum_age=90)
        return self.rng.choice([d.strftime("%d/%m/%Y"), d.strftime("%B %d, %Y"), d.isoformat(),
                                d.strftime("%d %b %Y"), d.strftime("%m-%d-%Y")])  # fmt: skip

    def _age(self) -> str:
        return str(self.rng.randint(18, 88))

    def _street(self) -> str:
        return self.fake.street_address()

    def _city(self) -> str:
        return self.fake.city()

    def _postcode(self) -> str:
        return self.fake.postcode()

    def _address(self) -> str:
        return self.fake.address().replace("\n", ", ")

    def _diag(self) -> str:
        return self.rng.choice(DIAGNOSES)

    def _med(self) -> str:
        return self.rng.choice(MEDICATIONS)

    def _phone(self) -> str:
        return self.fake.phone_number()

    def _ssn(self) -> str:
        return self.fake.ssn()

    def _iban(self) -> str:
        return self.fake.iban()

    def _email(self) -> str:
        return self.fake.free_email()

    def _card(self) -> str:
        return self.fake.credit_card_number()

    def _account(self) -> str:
        return self.fake.bban()

    def _mrn(self) -> str:
        return f"{self.rng.randint(10, 99)}-{self.rng.randint(100000, 999999)}"

    def _passport(self) -> str:
        return self.fake.passport_number()

    def _salary(self) -> str:
        return f"${self.rng.randint(40, 240)},{self.rng.randint(100, 999)}"

    def _company(self) -> str:
        return self.fake.company()

    def _job(self) -> str:
        return self.fake.job()

    # secrets
    def _pw(self) -> str:
        rng = self.rng
        style = rng.randrange(7)
        if style == 0:
            return rng.choice(WORDS).capitalize() + str(rng.randint(1, 9999)) + rng.choice("!#$%&*?")
        if style == 1:
            return self.fake.password(length=rng.randint(8, 20))
        if style == 2:
            return rng.choice(WORDS) + rng.choice(WORDS) + str(rng.randint(10, 99))
        if style == 3:
            return "-".join(rng.sample(WORDS, 3))
        if style == 4:
            return "".join(
                rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(6, 12))
            )
        if style == 5:
            return rng.choice(WORDS) + rng.choice(WORDS)  # letters only: still a password
        return rng.choice(WORDS)[:1].upper() + "".join(rng.sample("aeiou0123456789xyz", 7))

    def _tok(self) -> str:
        n = self.rng.randint(20, 48)
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def _hextok(self) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(self.rng.choice([32, 40, 64])))

    def _shortkey(self) -> str:
        n = self.rng.randint(8, 14)
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def _b64auth(self) -> str:
        return base64.b64encode(f"{self['user']}:{self['pw']}".encode()).decode()

    def _user(self) -> str:
        return self.rng.choice([self.fake.user_name(), "admin", "root", "app", "svc_deploy", "postgres"])

    def _host(self) -> str:
        return self.rng.choice([self.fake.domain_name(), f"db-{self.rng.randint(1, 9)}.internal",
                                self.fake.ipv4_private(), f"{self.fake.word()}.{self.fake.domain_name()}"])  # fmt: skip  # noqa: E501

    def _port(self) -> str:
        return str(self.rng.choice([5432, 3306, 6379, 27017, 5672, 21, 587, 8080, 9000, 1433]))

    def _db(self) -> str:
        return self.rng.choice(["prod", "app", "orders", "analytics", "users", "billing", "main"])

    def _scheme(self) -> str:
        return self.rng.choice(SCHEMES)

    def _ghtok(self) -> str:
        return self.rng.choice(["ghp_", "gho_", "ghs_"]) + "".join(
            self.rng.choice(string.ascii_letters + string.digits) for _ in range(36)
        )

    def _awskey(self) -> str:
        return "AKIA" + "".join(self.rng.choice(string.ascii_uppercase + "234567") for _ in range(16))

    def _awssecret(self) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))

    # benign
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _sha(self) -> str:
        return hashlib.sha256(str(self.rng.random()).encode()).hexdigest()

    def _gitsha(self) -> str:
        return hashlib.sha1(str(self.rng.random()).encode()).hexdigest()

    def _version(self) -> str:
        return f"{self.rng.randint(0, 5)}.{self.rng.randint(0, 30)}.{self.rng.randint(0, 20)}"

    def _date(self) -> str:
        return self.fake.date_this_decade().isoformat()

    def _word(self) -> str:
        return self.fake.word()

    def _ip(self) -> str:
        return self.fake.ipv4()

    def _int(self) -> str:
        return str(self.rng.randint(2, 5000))


# --- template families ----------------------------------------------------------------------
# (family, category, private, templates). Slots are {name} etc. from Values.

Family = tuple[str, str, bool, list[str]]

SENSITIVE: list[Family] = [
    ("url.cache", "secret.url_credentials", True, [
        "Why does my app time out connecting to redis://:{pw}@{host}:6379/0 ?",
        "REDIS_URL=rediss://default:{pw}@{host}:6380 — is TLS on that port right?",
        "celery broker_url = 'redis://:{pw}@{host}:6379/1' keeps dropping tasks",
    ]),
    ("url.sql", "secret.url_credentials", True, [
        "engine = create_engine('postgresql://{user}:{pw}@{host}:5432/{db}') raises OperationalError",
        "DATABASE_URL=mysql://{user}:{pw}@{host}:3306/{db}\nDjango says access denied, why?",
        "jdbc url: jdbc:postgresql://{host}:5432/{db}?user={user}&password={pw}&ssl=true",
        "Server=tcp:{host},1433;Database={db};User ID={user};Password={pw};Encrypt=true;",
    ]),
    ("url.mongo", "secret.url_credentials", True, [
        "MongoClient('mongodb+srv://{user}:{pw}@cluster0.{host}/{db}?retryWrites=true') is slow",
        "mongodump --uri=\"mongodb://{user}:{pw}@{host}:27017/{db}?authSource=admin\" fails",
    ]),
    ("url.queue", "secret.url_credentials", True, [
        "amqp://{user}:{pw}@{host}:5672/%2F connection refused in my worker",
        "spring.rabbitmq.addresses=amqps://{user}:{pw}@{host}/vhost",
        "nats://{user}:{pw}@{host}:4222 — how do I enable JetStream?",
    ]),
    ("url.web", "secret.url_credentials", True, [
        "git clone https://{user}:{pw}@git.{host}/team/repo.git asks for 2FA",
        "wget ftp://{user}:{pw}@{host}/backups/{db}.tar.gz is slow",
        "pip install --index-url https://{user}:{pw}@pypi.{host}/simple/ mypkg fails with 401",
        "smtp relay: smtp://{user}:{pw}@{host}:587 rejects my mail",
    ]),
    ("cli.ssh", "secret.command_line", True, [
        "sshpass -p '{pw}' ssh {user}@{host} 'uptime' hangs, why?",
        "sshpass -p \"{pw}\" scp backup.tar.gz {user}@{host}:/srv/",
        "plink -ssh {user}@{host} -pw \"{pw}\" -batch hostname",
        "ssh {user}@{host} with password '{pw}' gets 'Permission denied (publickey)'",
    ]),
    ("cli.db", "secret.command_line", True, [
        "mysql -u {user} -p{pw} -h {host} {db} < dump.sql gives error 1045",
        "PGPASSWORD={pw} psql -h {host} -U {user} -d {db} -c 'select 1'",
        "mysqldump --user={user} --password={pw} {db} > {db}.sql",
        "mongosh --host {host} --username {user} --password '{pw}' --authenticationDatabase admin",
        "redis-cli -h {host} -a '{pw}' ping returns NOAUTH",
    ]),
    ("cli.http", "secret.command_line", True, [
        "curl -u {user}:{pw} https://{host}/api/v1/status returns 403",
        "curl --user '{user}:{pw}' -X POST https://{host}/deploy",
        "docker login -u {user} -p {pw} registry.{host}",
        "helm repo add internal https://charts.{host} --username {user} --password {pw}",
        "htpasswd -b -c /etc/nginx/.htpasswd {user} {pw}",
        "net use \\\\{host}\\share /user:{user} {pw}",
    ]),
    ("header.auth", "secret.header", True, [
        "curl -H 'Authorization: Bearer {tok}' https://api.{host}/v2/items",
        "headers = {{'Authorization': 'Basic {b64auth}'}}\nrequests.get(url, headers=headers)",
        "fetch(url, {{ headers: {{ 'X-Api-Key': '{tok}' }} }}) returns 401",
        "GET /v1/me HTTP/1.1\nHost: api.{host}\nAuthorization: Token {hextok}",
    ]),
    ("assign.env", "secret.assignment", True, [
        ".env:\nDB_HOST={host}\nDB_USER={user}\nDB_PASSWORD={pw}\nWhy can't Laravel read it?",
        "export API_TOKEN={tok}\nexport REGION=eu-west-1",
        "MYSQL_ROOT_PASSWORD={pw} docker compose up fails on first start",
        "SMTP_PASS={pw}\nSMTP_USER={user}\nmy mailer says auth failed",
    ]),
    ("assign.yaml", "secret.assignment", True, [
        "database:\n  host: {host}\n  username: {user}\n  password: {pw}\nWhy does Spring ignore this?",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: {pw}",
        "apiVersion: v1\nkind: Secret\nstringData:\n  api-key: {tok}\n",
        "auth:\n  client_id: my-app\n  client_secret: {tok}",
    ]),
    ("assign.json", "secret.assignment", True, [
        '{{"host": "{host}", "user": "{user}", "password": "{pw}"}} — is this config valid JSON?',
        '{{"apiKey": "{tok}", "timeout": 30}}',
        '"credentials": {{"username": "{user}", "pwd": "{pw}"}}',
    ]),
    ("assign.code", "secret.assignment", True, [
        "SECRET_KEY = '{tok}'\nDEBUG = False\nIs this settings.py production-ready?",
        "const authToken = \"{shortkey}\";\nconst client = new Api(authToken);",
        "$db_pass = '{pw}';\n$conn = new mysqli($host, $db_user, $db_pass);",
        "conn = psycopg2.connect(host='{host}', user='{user}', password='{pw}')",
        "spring.datasource.password={pw}\nspring.datasource.username={user}",
        "variable \"db_password\" {{\n  default = \"{pw}\"\n}}",
        "[database]\nuser = {user}\npasswd = {pw}\nWhy does configparser fail here?",
        "private static final String API_SECRET = \"{shortkey}\";",
    ]),
    ("provider.cloud", "secret.provider_format", True, [
        "[default]\naws_access_key_id = {awskey}\naws_secret_access_key = {awssecret}\nregion = us-east-1",
        "git remote set-url origin https://{ghtok}@github.com/acme/site.git",
        "GITHUB_TOKEN={ghtok} gh pr list returns 401, why?",
        "s3 = boto3.client('s3', aws_access_key_id='{awskey}', aws_secret_access_key='{awssecret}')",
    ]),
    ("pii.medical", "pii.medical", True, [
        "Patient: {name}\nDOB: {dob}\nDiagnosis: {diag}\nMedication: {med}\nSummarise this record.",
        "Write a referral letter for {name} (born {dob}), diagnosed with {diag}, currently on {med}.",
        "{name}, {age}, was admitted on {date} with an exacerbation of {diag}. Draft the discharge summary.",
        "My brother {name} was just diagnosed with {diag}. How do I tell his employer?",
        "Insurance claim: {name}, policy {mrn}, treatment for {diag} since {date}.",
        "Therapy note: {first} {last} reports worsening {diag}; started {med}. Rewrite it formally.",
    ]),
    ("pii.address", "pii.address", True, [
        "Dear {name},\n\nThank you for your letter. We will send the documents to {address}.\n\nRegards",
        "Ship to: {name}\n{street}\n{city} {postcode}\nPlease format this label.",
        "My tenant {name} at {street}, {city} has not paid rent for two months. Draft a notice.",
        "Please update my address on file: {name}, {street}, {city}, {postcode}.",
        "{name} moved to {street} in {city}; write a change-of-address email to her bank.",
    ]),
    ("pii.birth", "pii.birth_date", True, [
        "My daughter {first} {last} was born on {dob}; which vaccines is she due for?",
        "Fill in the form: name {name}, date of birth {dob}, nationality British.",
        "{name} (DOB {dob}) is applying for the role; write an interview invitation.",
        "Employee record — {name}, born {dob}, start date {date}.",
    ]),
    ("pii.ids", "pii.identifier", True, [
        "Please check this W-9: {name}, SSN {ssn}, address {street}.",
        "Send {salary} to {name}, IBAN {iban}, reference invoice 42.",
        "Payroll: {name}, account {account}, salary {salary} per year.",
        "{name}'s passport number is {passport}; is it valid for travel to Japan?",
        "Text {name} at {phone} to confirm tomorrow's appointment.",
        "Customer {name}, card {card}, disputes a charge from last week.",
        "Contact sheet: {name} — {email} — {phone}",
    ]),
]  # fmt: skip

BENIGN: list[Family] = [
    ("neg.placeholder", "hard.placeholder", False, [
        "api_key = \"<your-api-key>\"  # replace before running",
        "password = os.environ[\"DB_PASSWORD\"]\nconn = connect(password=password)",
        "const token = process.env.GITHUB_TOKEN;",
        "DB_PASSWORD=${{DB_PASSWORD}}\nDB_USER=${{DB_USER}}",
        "secret: \"{{{{ .Values.secret }}}}\"",
        "AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxx",
        "password: changeme  # default, the installer asks for a new one",
        "token = getpass.getpass('Token: ')",
        "API_KEY=your_api_key_here",
        "client_secret: ${{CLIENT_SECRET}}",
        "password = input(\"Enter password: \")",
        "export OPENAI_API_KEY=\"sk-...\"",
    ]),
    ("neg.url", "hard.url", False, [
        "Why is https://{host}/api/v1/items?page={int} returning 404?",
        "REDIS_URL=redis://localhost:6379/0",
        "postgres://localhost:5432/{db} works from psql but not from my app",
        "mongodb://mongo:27017/{db}?replicaSet=rs0",
        "See https://example.com/docs/install#step-{int} for details.",
        "amqp://guest@localhost:5672/ — what does the guest user allow?",
        "git clone https://github.com/{word}/{word}.git",
        "DATABASE_URL=postgresql://{user}@{host}:5432/{db}",
        "DATABASE_URL=postgres://${{DB_USER}}:${{DB_PASS}}@${{DB_HOST}}/{db}",
        "mysql://user:password@localhost/test is the example in the docs",
    ]),
    ("neg.cli", "hard.command_line", False, [
        "mysql -u root -p {db}  (it prompts for the password)",
        "ssh -p 2222 {user}@{host} 'df -h'",
        "psql -h {host} -U postgres -d {db} -W",
        "curl -u \"$API_USER:$API_TOKEN\" https://{host}/status",
        "echo \"$REGISTRY_TOKEN\" | docker login -u ci --password-stdin registry.{host}",
        "docker run -p 8080:80 -e MODE=prod nginx:{version}",
        "scp -P 22 report.pdf {user}@{host}:/tmp/",
        "sshpass -f ~/.ssh/pass.txt ssh {user}@{host}",
        "pg_dump -Fc -U postgres {db} > {db}.dump",
        "redis-cli -h {host} -p 6379 INFO memory",
    ]),
    ("neg.ids", "hard.identifiers", False, [
        "assert order_id == '{uuid}'",
        "sha256: {sha}",
        "Revert commit {gitsha} — it broke the build.",
        "integrity: sha512-{sha}",
        "request_id={uuid} status=500 duration_ms={int}",
        "pip install requests=={version} urllib3=={version}",
        "cache_key = \"{sha}\"",
        "The build {date}.{int} failed on job {int}.",
        "etag: \"{gitsha}\"",
        "session_count = {int}\nmax_tokens = {int}",
    ]),
    ("neg.public_people", "hard.public_figures", False, [
        "Marie Curie was born on 7 November 1867 in Warsaw; summarise her work on radioactivity.",
        "Abraham Lincoln was born on February 12, 1809. Write a short biography.",
        "When did Ada Lovelace publish her notes on the Analytical Engine?",
        "Albert Einstein died in Princeton in 1955 of an abdominal aortic aneurysm; explain the condition.",
        "Frida Kahlo, born 6 July 1907, painted many self-portraits — list five famous ones.",
        "Compare the presidencies of Barack Obama and George W. Bush.",
        "Ludwig van Beethoven lost his hearing in his late twenties; how did he keep composing?",
        "Who was Alan Turing and why is he called the father of computer science?",
        "Write a poem about Amelia Earhart's last flight in 1937.",
        "Queen Elizabeth II was born on 21 April 1926. Which prime ministers served under her?",
    ]),
    ("neg.medical", "hard.medical_questions", False, [
        "What are the common side effects of {med}?",
        "How is {diag} usually diagnosed?",
        "Explain the difference between type 1 and type 2 diabetes for a school project.",
        "What is a normal resting heart rate for adults?",
        "Which foods should people with {diag} avoid?",
        "Can you take ibuprofen with {med}?",
        "Summarise current guidelines for treating {diag}.",
        "Write a patient information leaflet about {diag}, with no patient names.",
    ]),
    ("neg.public_places", "hard.public_places", False, [
        "The British Museum is on Great Russell Street, London WC1B 3DG. What are its opening hours?",
        "How do I get from Gare du Nord to the Louvre, Rue de Rivoli, 75001 Paris?",
        "The White House is at 1600 Pennsylvania Avenue NW, Washington, DC 20500 — who designed it?",
        "Plan a day near the Colosseum, Piazza del Colosseo 1, Rome.",
        "Sherlock Holmes lived at 221B Baker Street; was it a real address in Conan Doyle's time?",
        "The Empire State Building, 20 W 34th St, New York — how tall is it?",
        "Is the Rijksmuseum at Museumstraat 1, Amsterdam open on Mondays?",
        "Sydney Opera House, Bennelong Point — when was it finished?",
        "Best vegetarian restaurants near {city} train station?",
        "What's the weather usually like in {city} in March?",
    ]),
    ("neg.people_plain", "hard.names_alone", False, [
        "Ask {name} to review the pull request before Friday.",
        "{name} from {company} will present the quarterly roadmap.",
        "Write a LinkedIn post congratulating {name} on joining as {job}.",
        "Thanks {first}, the slides look great!",
        "Schedule a meeting with {first} and {first} about the {word} project.",
        "Our new {job}, {name}, starts on Monday in the {city} office.",
    ]),
    ("neg.prose_secrets", "hard.security_prose", False, [
        "How do I reset my password on a Mac?",
        "Generate a strong random password policy for our company wiki.",
        "What is the difference between an API key and an OAuth token?",
        "The password must be at least 12 characters long and include a digit.",
        "Explain how JWT signatures are verified.",
        "Where should I store my database password in a Kubernetes deployment?",
        "My token expired; how do I refresh it with the GitHub CLI?",
        "Why does git keep asking for my password on every push?",
        "Write a function that checks a password's strength.",
        "How long should a session token be to resist brute force?",
    ]),
    ("neg.code", "hard.code", False, [
        "def hash_password(pw: str) -> str:\n    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt()).decode()",  # noqa: E501
        "token_count = len(tokenizer.encode(text))\nif token_count > max_tokens: truncate(text)",
        "secret_name = \"prod/{db}/credentials\"\nresp = sm.get_secret_value(SecretId=secret_name)",
        "key_id = kms.create_key()['KeyMetadata']['KeyId']",
        "password_field = forms.CharField(widget=forms.PasswordInput)",
        "if user.check_password(request.POST['password']):\n    login(request, user)",
        "auth = HTTPBasicAuth(settings.API_USER, settings.API_PASSWORD)",
        "for key, value in os.environ.items():\n    print(key)",
        "self.api_key = api_key or os.getenv('SERVICE_API_KEY')",
        "PASSWORD_MIN_LENGTH = 12\nTOKEN_TTL_SECONDS = 3600",
    ]),
    ("neg.numbers", "hard.numbers", False, [
        "The invoice total is ${int}.{int}, due on {date}.",
        "Order #{int}-{int} shipped on {date}.",
        "ISBN 978-0-{int}-{int}-3 is out of print.",
        "Call the ticket JIRA-{int} done.",
        "The server at {ip} answers on port {port}.",
        "Version {version} was released on {date}.",
        "Room {int}, building {int}, floor 3.",
        "Latitude 48.8584, longitude 2.2945 — what landmark is that?",
    ]),
    ("neg.logs", "hard.logs", False, [
        "{date}T10:1{int}Z INFO user_id={int} logged in from {ip}",
        "GET /api/items/{uuid} 200 {int}ms",
        "[{date}] worker-{int} processed {int} jobs, {int} retried",
        "ERROR trace_id={hextok} span={int} upstream timed out after {int} ms",
        "kernel: eth0: link up, {int} Mbps, full duplex (build {gitsha})",
    ]),
    ("neg.config", "hard.config", False, [
        "timeout: {int}\nretries: 3\nhost: {host}\nport: {port}",
        "LOG_LEVEL=debug\nPORT={port}\nHOST={host}\nWORKERS={int}",
        '{{"name": "{word}", "version": "{version}", "private": true}}',
        "key_name = \"{word}-{int}\"\nregion = \"eu-west-1\"",
        "public_key_path = \"~/.ssh/id_ed25519.pub\"\nuser = \"{user}\"",
        "[server]\nbind = {ip}\nport = {port}\nthreads = {int}",
    ]),
    ("neg.business", "hard.business", False, [
        "{company} reported revenue of ${int} million for {date}; summarise the trend.",
        "Write a press release for {company} launching the {word} app.",
        "Translate our {word} product page into French.",
        "Draft a job ad for a {job} in {city}.",
        "Compare {company} and {company} as suppliers of {word} parts.",
    ]),
]  # fmt: skip

# A second held-out set, written after the first had been evaluated once (and so had been seen):
# other wording and formats, never tuned on. Written to privacy_heldout2.jsonl whole.
FRESH_SENSITIVE: list[Family] = [
    ("f.url", "secret.url_credentials", True, [
        "My Sidekiq can't reach redis://default:{pw}@{host}:6379 after the upgrade",
        "KAFKA_BOOTSTRAP=sasl_ssl://{user}:{pw}@{host}:9093",
        "docker run -e DATABASE_URL=postgres://{user}:{pw}@{host}/{db} myapp:latest",
        "Is it safe to put ldap://cn={user}:{pw}@{host}:389 in our wiki?",
        "ELASTICSEARCH_URL=https://elastic:{pw}@{host}:9200",
    ]),
    ("f.cli", "secret.command_line", True, [
        "sshpass -p{pw} rsync -av ./site {user}@{host}:/var/www",
        "psql \"host={host} user={user} password={pw} dbname={db}\" -c '\\\\dt'",
        "mysqladmin -u{user} -p{pw} status",
        "curl -s -u \"{user}:{pw}\" https://{host}/rest/api/2/issue/ABC-1",
        "az login --service-principal -u {uuid} -p {tok} --tenant {uuid}",
        "wget --user={user} --password={pw} https://{host}/report.csv",
        "kubectl create secret generic db --from-literal=password={pw}",
    ]),
    ("f.assign", "secret.assignment", True, [
        "# settings.toml\n[smtp]\nhost = \"{host}\"\npassword = \"{pw}\"",
        "DJANGO_SECRET_KEY={tok}",
        "<add key=\"ApiKey\" value=\"{tok}\" />",
        "<property name=\"password\">{pw}</property>",
        "config.api_token = '{tok}'",
        "{{\"mqtt\": {{\"user\": \"{user}\", \"pass\": \"{pw}\"}}}}",
        "SENTRY_AUTH_TOKEN: {hextok}",
        "wifi:\n  ssid: Home\n  psk: {pw}",
        "let secret = \"{shortkey}\"",
        "app.config['SECRET_KEY'] = \"{tok}\"",
    ]),
    ("f.header", "secret.header", True, [
        "requests.post(url, headers={{\"Authorization\": f\"Bearer {tok}\"}})",
        "X-Auth-Token: {hextok}",
        "-H \"api-key: {tok}\"",
    ]),
    ("f.provider", "secret.provider_format", True, [
        "Our CI log printed {ghtok} — how do I revoke it?",
        "AWS_ACCESS_KEY_ID={awskey} AWS_SECRET_ACCESS_KEY={awssecret} aws s3 ls",
    ]),
    ("f.person", "pii.medical", True, [
        "Case notes: {name} ({age}) presented with chest pain; history of {diag}. Plan: {med}.",
        "Can you rewrite this sick note? {name} has been unable to work since {date} due to {diag}.",
        "Pharmacy order for {name}, DOB {dob}: {med}, 30 days.",
    ]),
    ("f.where", "pii.address", True, [
        "Please send the contract to {name}, {address}.",
        "Invoice address: {name}\n{street}\n{postcode} {city}",
        "Our nanny {first} {last} lives at {street}, {city}. Write her a reference letter.",
    ]),
    ("f.born", "pii.birth_date", True, [
        "Happy birthday card text for {name}, born {dob}, please.",
        "Applicant: {name}; date of birth: {dob}; nationality: Dutch.",
    ]),
    ("f.ids", "pii.identifier", True, [
        "Wire {salary} to {name} — IBAN {iban}.",
        "{name}'s social security number is {ssn}; fill in box 3.",
        "You can reach {name} on {phone} after 6pm.",
        "Reply to {email} and copy {name}.",
    ]),
]  # fmt: skip
FRESH_BENIGN: list[Family] = [
    ("fn.url", "hard.url", False, [
        "Our Sidekiq uses redis://{host}:6379/2 — how many connections does it open?",
        "KAFKA_BOOTSTRAP=sasl_ssl://{host}:9093",
        "docker run -e DATABASE_URL=postgres://{host}/{db} myapp:latest",
        "https://{host}/login?next=/dashboard&lang=en",
        "ELASTICSEARCH_URL=http://localhost:9200",
    ]),
    ("fn.cli", "hard.command_line", False, [
        "rsync -av -e 'ssh -p 2200' ./site {user}@{host}:/var/www",
        "psql \"host={host} user={user} dbname={db}\" -c '\\\\dt'",
        "mysqladmin -u{user} -p status  # asks for the password",
        "kubectl get secret db -o jsonpath='{{.data.password}}' | base64 -d",
        "wget --user={user} --ask-password https://{host}/report.csv",
        "az login --use-device-code",
        "curl -s -n https://{host}/rest/api/2/issue/ABC-1  # credentials from ~/.netrc",
    ]),
    ("fn.assign", "hard.placeholder", False, [
        "# settings.toml\n[smtp]\nhost = \"{host}\"\npassword = \"${{SMTP_PASSWORD}}\"",
        "DJANGO_SECRET_KEY=<generate with get_random_secret_key()>",
        "<add key=\"ApiKey\" value=\"\" />",
        "config.api_token = ENV.fetch('API_TOKEN')",
        "SENTRY_AUTH_TOKEN: ${{{{ secrets.SENTRY_AUTH_TOKEN }}}}",
        "let secret = process.env.SECRET",
        "app.config['SECRET_KEY'] = os.urandom(32)",
        "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256",
    ]),
    ("fn.ids", "hard.identifiers", False, [
        "The migration {gitsha} added the index on orders.created_at.",
        "docker pull nginx@sha256:{sha}",
        "correlation_id: {uuid}",
        "Checksum mismatch: expected {sha}, got {sha}.",
        "Build {int} of {version} passed on {date}.",
    ]),
    ("fn.people", "hard.names_alone", False, [
        "{name} approved the design review.",
        "Minutes: {name} and {name} discussed the Q3 roadmap.",
        "Please add {name} to the #release channel.",
        "{name} will cover support on {date}.",
    ]),
    ("fn.health", "hard.medical_questions", False, [
        "Is {med} safe during pregnancy?",
        "What is the typical life expectancy with {diag}?",
        "Explain how {diag} is treated, for a first-year nursing student.",
    ]),
    ("fn.places", "hard.public_places", False, [
        "The Eiffel Tower is at Champ de Mars, 5 Avenue Anatole France, 75007 Paris. Best time to visit?",
        "Is the Brandenburg Gate, Pariser Platz, 10117 Berlin, free to visit?",
        "How far is the Golden Gate Bridge from Union Square, San Francisco?",
        "Recommend a hotel near {city} central station.",
    ]),
    ("fn.history", "hard.public_figures", False, [
        "Winston Churchill was born on 30 November 1874 at Blenheim Palace. Summarise his early career.",
        "Charles Darwin was diagnosed with many illnesses in his lifetime; what do historians think he had?",
        "Napoleon Bonaparte was born in Ajaccio in 1769. Why is his height a myth?",
    ]),
    ("fn.prose", "hard.security_prose", False, [
        "What makes a password manager safer than reusing one password?",
        "How do I rotate an AWS access key without downtime?",
        "Explain the OAuth client credentials flow with a diagram.",
    ]),
    ("fn.numbers", "hard.numbers", False, [
        "Flight LH{int} departs at 14:35 from gate B{int}.",
        "Our office phone tree: press 1 for sales, 2 for support.",
        "The project costs {int} EUR per month across {int} servers.",
        "Order {int}-{int}-{int} was refunded.",
    ]),
]  # fmt: skip

_SLOT = re.compile(r"\{([a-z0-9_]+)\}")


# The slots whose values are the private part of a row (recorded so a masking bench can check
# that none of them reaches the cloud).
PRIVATE_SLOTS = {"name", "first", "last", "dob", "street", "address", "phone", "ssn", "iban", "email", "card",
                 "account", "mrn", "passport", "pw", "tok", "hextok", "shortkey", "b64auth", "ghtok", "awskey",  # noqa: E501
                 "awssecret"}  # fmt: skip


def fill(template: str, values: Values) -> str:
    slots = {name: values[name] for name in _SLOT.findall(template)}
    return template.format(**slots)


def private_values(template: str, values: Values) -> list[str]:
    return sorted({values[name] for name in _SLOT.findall(template) if name in PRIVATE_SLOTS})


def synthetic(families: list[Family], fake: Faker, rng: random.Random, per_family: int) -> list[Row]:
    rows: list[Row] = []
    for family, category, private, templates in families:
        seen: set[str] = set()
        for index in range(per_family * 3):
            if len(seen) >= per_family:
                break
            template = templates[index % len(templates)]
            values = Values(fake, rng)
            text = fill(template, values)
            if text in seen:
                continue
            seen.add(text)
            row = {
                "text": text,
                "private": private,
                "category": category,
                "family": f"synthetic:{family}",
                "source": "bench/privacy_data.py templates + Faker",
            }
            if private:
                row["values"] = private_values(template, values)
            rows.append(row)
    return rows


# --- other tools' test suites ----------------------------------------------------------------


def _git_show(repo: Path, path: str) -> str:
    return subprocess.check_output(["git", "-C", str(repo), "show", f"HEAD:{path}"], text=True)


def _git_head(repo: Path) -> str:
    return subprocess.check_output(["git", "-C", str(repo), "rev-parse", "HEAD"], text=True).strip()[:12]


def _go_strings(src: str, start: int) -> list[tuple[str, bool]]:
    """The string literals inside the `{...}` that opens at `start` (comments skipped), each with
    whether it is only a piece of an expression (`"p8e-" + secrets.NewSecret(...)`, a format)."""
    found: list[tuple[str, bool]] = []
    i, depth = start, 1
    while i < len(src) and depth > 0:
        if src.startswith("//", i):
            i = src.find("\n", i) if "\n" in src[i:] else len(src)
            continue
        c = src[i]
        if c == "`":
            j = src.index("`", i + 1)
            found.append((src[i + 1 : j], _is_piece(src, i, j + 1)))
            i = j + 1
            continue
        if c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            try:
                found.append((json.loads(src[i : j + 1]), _is_piece(src, i, j + 1)))
            except ValueError:
                pass
            i = j + 1
            continue
        depth += c == "{"
        depth -= c == "}"
        i += 1
    return found


def _is_piece(src: str, start: int, end: int) -> bool:
    before = src[:start].rstrip()
    after = src[end:].lstrip()
    return before.endswith(("+", "(")) or after.startswith("+") or bool(re.search(r"%[sdvq]", src[start:end]))


# Rule files whose false positives are not secrets by this project's rule either (others list
# real-format keys that gitleaks lets go for reasons of its own, e.g. public Firebase keys).
GITLEAKS_NEGATIVE_FILES = {"generic.go", "curl.go", "github.go", "hashicorp_vault.go", "huggingface.go",
                           "sumologic.go", "1password.go", "aws.go", "azure.go", "infracost.go", "etsy.go",
                           "octopusdeploy.go", "slack.go", "gitlab.go", "openshift.go", "readme.go"}  # fmt: skip  # noqa: E501
# ... less these rows, which by this project's rule are private (an email, real-looking keys).
GITLEAKS_NEGATIVE_EXCLUDED = (
    "james.fake@ymail.com", 'apiKey:"6fe4476ee5a1832882e326b506d14126"', "csrf-token=Mj2qykJO5",
    "SUMO_ACCESS_KEY: AbCeFG123", '"credentialId": "B9mTcFSck2LzJO2S3ols63"', "ops_eyJzaWduSW5BZGRy",
    "sumOfExposures = 3Kof2", "xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d", "CloudFront-Signature",
    "Identity=\\\"USK@", "Authorization: Basic eyJhbGci", "aws_access_key: AKIAIOSFODNN7EXAMPLE",
    "bedrock-api-key-YmVk", '"accessor":"rA1wk0Y45YCufyfq"', "xoxp-572370529330-573807301142",
)  # fmt: skip
_REGEX_LIKE = re.compile(r"\[[a-zA-Z0-9]-|\{\d+(?:,\d*)?\}|\\[dws]")


def gitleaks_rows(repo: Path) -> list[Row]:
    head = _git_head(repo)
    listing = subprocess.check_output(
        ["git", "-C", str(repo), "ls-tree", "--name-only", "HEAD", "cmd/generate/config/rules/"], text=True
    ).split()
    rows: list[Row] = []
    for path in sorted(p for p in listing if p.endswith(".go")):
        src = _git_show(repo, path)
        name = path.rsplit("/", 1)[-1]
        for match in re.finditer(r"\b(tps|fps)\s*:?=\s*(?:append\(\w+,\s*)?\[\]string\{", src):
            positive = match.group(1) == "tps"
            for text, piece in _go_strings(src, match.end()):
                if len(text.strip()) < 16 or _REGEX_LIKE.search(text):
                    continue
                if not positive and (
                    name not in GITLEAKS_NEGATIVE_FILES or any(x in text for x in GITLEAKS_NEGATIVE_EXCLUDED)
                ):
                    continue
                rows.append(
                    {
                        "text": text,
                        "private": positive,
                        "category": "secret.gitleaks_tests" if positive else "hard.gitleaks_false_positives",
                        "family": f"gitleaks:{name}",
                        "source": f"gitleaks@{head}:{path}",
                        "_drop": piece,
                    }
                )
    return rows


def detect_secrets_rows(repo: Path) -> list[Row]:
    """The keyword plugin's cases that expect a secret (in several languages' syntax)."""
    head = _git_head(repo)
    path = "tests/plugins/keyword_test.py"
    src = _git_show(repo, path)
    header, _, _ = src.partition("CONFIG_TEST_CASES")
    namespace: dict[str, Any] = {}
    constants = "\n".join(line for line in header.splitlines() if re.match(r"^[A-Z_]+_SECRET = ", line))
    exec(constants, namespace)  # the four secret constants, nothing else
    rows: list[Row] = []
    for block in re.finditer(r"^([A-Z_]+)_TEST_CASES = \[(.*?)^\]", src, re.MULTILINE | re.DOTALL):
        language = block.group(1).lower()
        for case in re.finditer(r"^\s*\((.+), ([A-Z_]+_SECRET)\),", block.group(2), re.MULTILINE):
            try:
                text = eval(case.group(1), {"__builtins__": {}}, dict(namespace))  # literal .format() calls
            except Exception:
                continue
            if isinstance(text, str):
                rows.append(
                    {
                        "text": text,
                        "private": True,
                        "category": "secret.detect_secrets_tests",
                        "family": f"detect-secrets:{language}",
                        "source": f"detect-secrets@{head}:{path}",
                    }
                )
    return rows


PRESIDIO_TYPES = {"US_SSN", "PHONE_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE", "US_ITIN", "US_BANK_NUMBER",
                  "IN_PAN", "IN_PASSPORT", "FIN", "PH_TIN", "ABA_ROUTING_NUMBER"}  # fmt: skip


def presidio_rows(repo: Path) -> list[Row]:
    head = _git_head(repo)
    path = "presidio-analyzer/tests/data/context_sentences_tests.txt"
    lines = [line for line in _git_show(repo, path).splitlines() if line.strip() and not line.startswith("#")]
    rows: list[Row] = []
    for entity, sentence in zip(lines[::2], lines[1::2], strict=False):
        if entity.strip() in PRESIDIO_TYPES:
            rows.append(
                {
                    "text": sentence,
                    "private": True,
                    "category": "pii.presidio_context",
                    "family": f"presidio:{entity.strip().lower()}",
                    "source": f"presidio@{head}:{path}",
                    "_drop": not any(c.isdigit() for c in sentence),  # it names no value
                }
            )
    return rows


# --- split ------------------------------------------------------------------------------------


def split(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """By family, with a fixed seed, within each category (so each has dev and held-out families)."""
    rng = random.Random(SEED)
    families = sorted({(r["private"], r["category"], r["family"]) for r in rows})
    held: set[tuple[bool, str]] = set()
    for group in sorted({(f[0], f[1]) for f in families}):
        mine = [(f[0], f[2]) for f in families if (f[0], f[1]) == group]
        rng.shuffle(mine)
        held.update(mine[: max(1, round(len(mine) * HELDOUT_SHARE))] if len(mine) > 1 else [])
    dev = [r for r in rows if (r["private"], r["family"]) not in held]
    heldout = [r for r in rows if (r["private"], r["family"]) in held]
    return dev, heldout


def _dedupe(rows: list[Row]) -> list[Row]:
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["text"] not in seen:
            seen.add(row["text"])
            unique.append(row)
    return unique


def expand(families: list[Family]) -> list[Family]:
    """Each template is its own family, so the split can hold out templates, not only values."""
    return [
        (f"{family}.{index}", category, private, [template] * 3)
        for family, category, private, templates in families
        for index, template in enumerate(templates)
    ]


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":  # Faker's choices depend on set order otherwise
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gitleaks", type=Path, help="git dir of github.com/gitleaks/gitleaks")
    parser.add_argument("--detect-secrets", type=Path, help="git dir of github.com/Yelp/detect-secrets")
    parser.add_argument("--presidio", type=Path, help="git dir of github.com/microsoft/presidio")
    args = parser.parse_args()
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])
    Faker.seed(SEED)
    rng = random.Random(SEED)
    rows: list[Row] = []
    rows += synthetic(expand(SENSITIVE), fake, rng, PER_FAMILY)
    rows += synthetic(expand(BENIGN), fake, rng, PER_FAMILY_BENIGN)
    readers: list[tuple[Path | None, Callable[[Path], list[Row]]]] = [
        (args.gitleaks, gitleaks_rows),
        (args.detect_secrets, detect_secrets_rows),
        (args.presidio, presidio_rows),
    ]
    for repo, read in readers:
        if repo is not None:
            rows += read(repo)
    rows = _dedupe(rows)
    dev, heldout = split(rows)
    # Rows that are no sample at all (a piece of a Go expression, a sentence naming no value) are
    # dropped after the split, so that dropping them never moves a family between the two sets.
    dev, heldout = ([{k: v for k, v in r.items() if k != "_drop"} for r in part if not r.get("_drop")]
                    for part in (dev, heldout))  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    for name, part in (("privacy_dev.jsonl", dev), ("privacy_heldout.jsonl", heldout)):
        with (OUT / name).open("w", encoding="utf-8") as handle:
            for row in part:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        positives = sum(r["private"] for r in part)
        print(f"{name}: {len(part)} rows ({positives} private, {len(part) - positives} benign)")
    # The second held-out set: its own seed, all of it held out.
    fresh_rng = random.Random(SEED + 1)
    Faker.seed(SEED + 1)
    fresh = _dedupe(
        synthetic(expand(FRESH_SENSITIVE), fake, fresh_rng, 18)
        + synthetic(expand(FRESH_BENIGN), fake, fresh_rng, 26)
    )
    with (OUT / "privacy_heldout2.jsonl").open("w", encoding="utf-8") as handle:
        for row in fresh:
            handle.write(json.dumps({**row, "family": row["family"].replace("synthetic:", "fresh:")}) + "\n")
    positives = sum(r["private"] for r in fresh)
    print(f"privacy_heldout2.jsonl: {len(fresh)} rows ({positives} private, {len(fresh) - positives} benign)")


if __name__ == "__main__":
    main()
