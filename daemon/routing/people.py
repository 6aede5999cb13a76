"""Facts about a person, found by combination: a person's name together with a birth date, a
health fact, a street address or an account number is private, though neither alone is (a
name alone is in every meeting note, a diagnosis alone in every medical question).

Names are told by their shape (two to four capitalised words, particles such as `van der`
allowed) less the words that start sentences, label fields or name places and companies; the
facts by their wording (`born`, `DOB`, `diagnosed with`, `500 mg`, a number and a street type).
Births more than a century ago are history, not personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HISTORICAL_BEFORE = 1925  # a birth year before this is a public figure's, not a record's

_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ"
_WORD = rf"[{_UP}](?:['’][{_UP}])?[{_LO}]+(?:[-'’][{_UP}]?[{_LO}]+)*"  # `O'Sullivan`, `Finke-Niemeier`
_PARTICLE = r"(?:de|del|della|der|den|van|von|du|da|di|le|la|y|ten|ter|zu|dos|das|bin|al)"
_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sr|Sra|Herr|Frau|Mme|Mlle|Univ\.Prof|Dipl\.-Ing)\.?\s+)"
_TITLE_WORD = re.compile(_TITLE.replace(r"\s+", "").rstrip(")") + ")")
_NAME = re.compile(
    rf"(?<![\w{_UP}{_LO}])(?:{_TITLE})?{_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}}{_WORD}){{1,3}}"
)

_STREET_WORDS = (
    "via viale piazza piazzale corso largo vicolo strada contrada borgo incrocio rotonda vico calle avenida "
    "paseo plaza ronda camino carrer travesía callejón acceso pasaje glorieta vía cuesta alameda rambla "
    "carretera urbanización rue avenue boulevard chemin allée impasse quai route cours rua travessa canale "
    "lungomare calata salita stretto piazzetta borgata traversa"
)
# Capitalised words that are not names: sentence starts, field labels, calendar words.
_NOT_NAME_WORDS = frozenset("""
the a an this that these those it its is are was were be please dear hi hello thanks thank regards
best kind sincerely yours my our your his her their we you they he she i if when where what why how
who which ask tell write draft send ship fill text call contact email mail reply add update check
compare summarise summarize translate explain list show find give make create plan review schedule
patient diagnosis medication medications dob name address phone customer client employee record note
notes therapy insurance claim policy payroll tenant invoice order reference subject re fwd from to cc
monday tuesday wednesday thursday friday saturday sunday january february march july
september october november december today tomorrow yesterday morning evening
mr mrs ms miss dr prof sir madam team all everyone new our
""".split())  # fmt: skip
# Words that make a capitalised run a place, a building, an organisation or a product.
_PLACE_OR_ORG_WORDS = frozenset("""
street st road rd avenue ave lane drive boulevard way court place square terrace close crescent
house museum building tower station opera palace cathedral church park bridge university college
school hospital clinic library center centre hall gallery theatre theater stadium airport market
gare bahnhof estación stazione aéroport metro terminal port harbour castle château tower
inc ltd llc plc gmbh ag sa srl spa bv nv co corp company group bank foundation institute ministry
department council committee association society agency office services solutions systems labs
river lake mount mountain island bay valley north south east west city county state kingdom
united republic national international global
""".split()) | frozenset(_STREET_WORDS.split())  # fmt: skip

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DATE = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.\-]\d{{1,2}}[/.\-]\d{{2,4}}|"
    rf"{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\.?,?\s+\d{{4}})"
)
_BIRTH = re.compile(
    rf"""\b(?:born|b\.|DOB|D\.O\.B\.?|date\s+of\s+birth|birth\s*date|birthday|geboren|née?|nacid[oa]|nat[oa])
        \b[\s:,\-–(]*(?:on\s+|in\s+)?(?P<date>{_DATE})""",
    re.IGNORECASE | re.VERBOSE,
)
_HEALTH = re.compile(
    r"""\b(?:diagnos(?:ed|is|es)|admitted|discharged?|prescri(?:bed|ption)|medications?|treatment\s+for|
        treated\s+for|suffer(?:s|ing)?\s+from|history\s+of|reports?\s+(?:worsening|new|ongoing)|
        tested\s+positive|started\s+on|started\s+\w+\s+\d|symptoms\s+of|relapse|referral|chemotherapy|
        therapy\s+note|sick\s+(?:note|leave)|unable\s+to\s+work|signed\s+off|medical\s+leave|\d+(?:\.\d+)?\s?(?:mg|mcg|ml|units?)\b)""",
    re.IGNORECASE | re.VERBOSE,
)
_STREET_TYPES = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Square|Sq|"
    r"Terrace|Ter|Close|Crescent|Cres|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Trl|Row|Mews|Grove|Gardens?|"
    r"Hill|Hills|Heights|Park|Ridge|View|Walk|Path|Pike|Alley|Loop|Plaza|Points?|Ports?|Crossing|Crossroads?|"
    r"Estates?|Falls|Ferry|Fields?|Forest|Forks?|Freeway|Gateway|Glens?|Greens?|Harbors?|Haven|Islands?|"
    r"Junctions?|Keys?|Knolls?|Lakes?|Landing|Lights?|Manors?|Meadows?|Mills?|Mission|Motorway|Mount|"
    r"Mountains?|Orchard|Oval|Pass|Pines?|Plains?|Prairie|Ranch|Rapids|Rest|River|Run|Shoals?|Shores?|"
    r"Springs?|Spurs?|Station|Stream|Summit|Throughway|Trace|Track|Tunnel|Turnpike|Unions?|Valleys?|"
    r"Viaduct|Villages?|Ville|Vista|Wall|Wells?|Camp|Canyon|Cape|Causeway|Centers?|Cliffs?|Club|Commons?|"
    r"Corners?|Course|Courts|Coves?|Creek|Crest|Curve|Dale|Dam|Divide|Expressway|Extensions?|Flats?|"
    r"Fords?|Fort|Bypass|Burgs?|Brooks?|Branch|Bridge|Bluffs?|Bottom|Bends?|Beach|Bayou|Arcade|Annex|"
    r"Harbour|Wynd|Drove|Parade|Broadway|Approach|Rise|Vale|Yard|Locks?|Lodge|Loaf|Rapids?|Radial|Ramp|Route|"
    r"Skyway|Stravenue|Trafficway|Trailer|Underpass|Isle|Inlet|Hollow|Mall|Neck|Overpass|Passage|Land|Rue)s?"
)
_STREET = re.compile(
    rf"""(?:\b\d{{1,6}}[A-Za-z]?,?\s+(?:[{_UP}][\w'’.\-]*\s+){{1,4}}{_STREET_TYPES}\b\.?
        (?:\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?\s*\#?\w+)?
      |\b(?:{"|".join(w.capitalize() for w in _STREET_WORDS.split())}|C\.|Av\.|Bd)
         \s+(?:[\w'’.\-]+,?\s+){{0,5}}?
         \d{{1,4}}\b
      |\b\d{{1,4}},?\s+(?:rue|avenue|boulevard|chemin|allée|impasse|place|quai|av\.|bd)\s+[\w'’\- ]{{2,40}}
      |\b[{_UP}][\wäöüßéè\-]*(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|steg|pfad|chaussee|
         gürtel|straat|laan|plein|gracht|kade|dijk|singel|hof|pad|steeg|markt|wal|dreef|plantsoen|baan|park)
         \s+\d{{1,4}}(?:[a-z]|[/\-]\d{{1,4}})?\b)""",
    re.VERBOSE,
)
# Postcodes: British (`SW1A 1AA`), American state and ZIP (`DC 20500`), five digits and a town.
_POSTCODE = re.compile(
    rf"\b[A-Z]{{1,2}}\d[A-Z\d]?\s\d[A-Z]{{2}}\b|\b[A-Z]{{2}}\s\d{{5}}(?:-\d{{4}})?\b|\b\d{{5}}\s+[{_UP}][{_LO}]+"
)
# Wording that introduces where someone lives, then a number within the next few words.
_ADDRESS_CUE = re.compile(
    r"\b(?:(?:home|postal|mailing|billing|shipping|street)\s+address|address\s+(?:on\s+file|is)|ship\s+to|"
    r"lives?\s+at|living\s+at|resides?\s+at|moved\s+to)\b[:\s]+(?P<where>[^\n;]{0,60}?\d[^\n;]{0,40})",
    re.IGNORECASE,
)
_ACCOUNT = re.compile(
    r"""\b(?:account|acct|a/c|konto|compte|bank\s+details|sort\s+code|routing|policy|MRN|medical\s+record|
        member|claim|patient\s+id|insurance\s+(?:no|number))\b(?:\s*(?:number|no\.?|\#|id))?\s*[:\#]?\s*
        (?P<value>[A-Z0-9][A-Z0-9\-/ ]{4,32}[A-Z0-9])""",
    re.IGNORECASE | re.VERBOSE,
)
_PHONE_LIKE = re.compile(
    r"(?<![\w+/.\-])\+?\(?\d[\d \t().\-/]{5,20}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w.\-/])"
)
_SELF_ADDRESS = re.compile(
    r"\b(?:I\s+live\s+at|I'm\s+at|my\s+(?:home\s+|postal\s+|new\s+)?address\s+(?:is|:)|we\s+live\s+at|"
    r"our\s+(?:home\s+)?address\s+(?:is|:))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Span:
    kind: str
    start: int
    end: int


def person_names(text: str) -> list[Span]:
    spans: list[Span] = []
    for match in _NAME.finditer(text):
        words = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[^\s]+", match.group(0))]
        while words and _TITLE_WORD.fullmatch(words[0][0]):
            words.pop(0)
        while words and words[0][0].rstrip(".").lower() in _NOT_NAME_WORDS:
            words.pop(0)
        while words and words[-1][0].lower() in _NOT_NAME_WORDS:
            words.pop()
        proper = [w for w, _, _ in words if not re.fullmatch(_PARTICLE, w)]
        if len(proper) < 2:
            continue
        lowered = {part.lower() for w in proper for part in re.split(r"[-'’.]", w)}
        if lowered & _PLACE_OR_ORG_WORDS or lowered & _NOT_NAME_WORDS:
            continue
        spans.append(Span("pii.person", match.start() + words[0][1], match.start() + words[-1][2]))
    return spans


def _year(date: str) -> int | None:
    years = re.findall(r"\d{4}", date)
    if years:
        return int(years[-1])
    tail = re.search(r"(\d{2})$", date)
    return None if tail is None else 1900 + int(tail.group(1))


def _facts(text: str, names: list[Span]) -> list[Span]:
    facts: list[Span] = []
    for match in _BIRTH.finditer(text):
        year = _year(match.group("date"))
        if year is None or year >= HISTORICAL_BEFORE:
            facts.append(Span("pii.birth_date", match.start("date"), match.end("date")))
    for match in _HEALTH.finditer(text):
        facts.append(Span("pii.health", match.start(), match.end()))
    for match in _STREET.finditer(text):
        facts.append(Span("pii.address", match.start(), match.end()))
    for match in _POSTCODE.finditer(text):
        facts.append(Span("pii.address", match.start(), match.end()))
    for match in _ADDRESS_CUE.finditer(text):
        facts.append(Span("pii.address", match.start("where"), match.end("where")))
    for match in _ACCOUNT.finditer(text):
        value = match.group("value")
        if sum(c.isdigit() for c in value) >= 4:
            facts.append(Span("pii.account", match.start("value"), match.end("value")))
    for match in _PHONE_LIKE.finditer(text):
        digits = sum(c.isdigit() for c in match.group(0))
        if 8 <= digits <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group(0).strip()):
            facts.append(Span("pii.phone", match.start(), match.end()))
    # Facts inside a name's span are the name's own letters (`Dr`), not a fact.
    return [f for f in facts if not any(n.start <= f.start and f.end <= n.end for n in names)]


def personal_facts(text: str, *, known_fact: bool = False) -> list[Span]:
    """The names and facts of a person in `text`, or nothing when it names no one with a fact.
    `known_fact`: the caller found one already (an IBAN, an email...), so any name goes with it."""
    self_address = _SELF_ADDRESS.search(text)
    names = person_names(text)
    if not names and self_address is None:
        return []
    facts = _facts(text, names)
    if not names:
        facts = [f for f in facts if f.kind == "pii.address"]
    if not facts and not (known_fact and names):
        return []
    return names + facts
