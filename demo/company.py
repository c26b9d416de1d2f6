"""Demo data: a deterministic, realistic key-account portfolio for demos, tests and benchmarks.

`demo_seed()` writes the demo users and a portfolio: accounts with group hierarchies and account teams,
`months` of orders, manager ratings, key-account designations, buying influencers with org charts,
profiles, a year of visits, service issues, this year's account plans, and the audit trail of the
designations and profiles. Everything is planned in Python from one `random.Random(seed)` and one
`numpy.random.default_rng(seed)`, then written with `bulk_create`, so the same seed gives the same portfolio
(dates are relative to `today`): 300 accounts take about two seconds on SQLite, 10,000 accounts (a quarter
of a million orders) under a minute.

The shape is deliberate (DOMAIN.md sections 2 and 3): revenue is lognormal, so about 20% of the accounts
bring about 80% of it; several of the biggest accounts run on thin margins (5-12% CM) while the middle
group is fat (30-45%); some accounts churned (no orders for 6-9 months), some are new, growing or
shrinking; about a quarter of the key accounts have a lapsed visit cadence.
"""

import copy
import datetime
import gc
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import (
    QUALIFYING_VISIT_KINDS,
    Account,
    AccountStatus,
    AccountTeamMember,
    IssueKind,
    KeyDesignation,
    Order,
    Role,
    ServiceIssue,
    Severity,
    TeamFunction,
    User,
    Visit,
    VisitKind,
)
from accounts.services import accounts_refresh_contact
from plans.models import (
    AccountPlan,
    ActionStatus,
    Approach,
    Objective,
    ObjectiveStatus,
    PlanAction,
    PlanStatus,
)
from profiles.models import PROFILE_QUESTIONS, AccountProfile, BuyingInfluencer, BuyingRole
from scoring import services as scoring_services

# One password for every demo login, printed by `seed_demo`. Demo data only: never seed a real installation.
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - a documented demo login, not a secret
BATCH_SIZE = 5000
KEY_CADENCE_DAYS = 30
WATCH_CADENCE_DAYS = 90


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    capacity: int
    function: str
    sees: str


_REP_SEES = "own accounts and those whose team they are on; My day, visits, plans"
_COLLEAGUE_SEES = "only the accounts whose team they are on"
MANAGER = DemoUser(
    "manager", "Maria", "Jansen", Role.MANAGER, 10, TeamFunction.SALES,
    "every account, the portfolio dashboard, key-account decisions, scoring weights",
)  # fmt: skip
REPS = (
    DemoUser("rep1", "Lukas", "Becker", Role.REP, 12, TeamFunction.SALES, _REP_SEES),
    DemoUser("rep2", "Sofia", "Lindqvist", Role.REP, 16, TeamFunction.SALES, _REP_SEES),
    DemoUser("rep3", "Pieter", "de Vries", Role.REP, 20, TeamFunction.SALES, _REP_SEES),
    DemoUser("rep4", "Chiara", "Romano", Role.REP, 24, TeamFunction.SALES, _REP_SEES),
)
# Colleagues from other functions who sit on account teams (DOMAIN.md section 6); they own no accounts.
COLLEAGUES = (
    DemoUser("engineer", "Henrik", "Dahl", Role.REP, 8, TeamFunction.ENGINEERING, _COLLEAGUE_SEES),
    DemoUser("logistics", "Ana", "Ferreira", Role.REP, 8, TeamFunction.LOGISTICS, _COLLEAGUE_SEES),
    DemoUser("service", "Tomasz", "Nowak", Role.REP, 8, TeamFunction.SERVICE, _COLLEAGUE_SEES),
    DemoUser("finance", "Elena", "Moreau", Role.REP, 4, TeamFunction.FINANCE, _COLLEAGUE_SEES),
)
INTEGRATION = DemoUser(
    "integration",
    "ERP",
    "Connector",
    Role.INTEGRATION,
    0,
    "",
    "the REST API only: pulls scores, pushes orders",
)
ADMIN = DemoUser(
    "admin", "Site", "Admin", Role.MANAGER, 0, "", "everything, plus the Django admin at /admin/"
)
DEMO_USERS = (MANAGER, *REPS, *COLLEAGUES, INTEGRATION, ADMIN)


def demo_logins() -> list[tuple[str, str, str, str]]:
    """(username, role, password, what they will see) for every demo login."""
    rows = []
    for user in DEMO_USERS:
        role = "superuser" if user is ADMIN else user.role
        if user in COLLEAGUES:
            role = f"{role} ({user.function})"
        rows.append((user.username, role, DEMO_PASSWORD, user.sees))
    return rows


def _words(text: str) -> tuple[str, ...]:
    """A word list written as one comma-separated string, which keeps the tables below short."""
    return tuple(word.strip() for word in text.split(","))


@dataclass(frozen=True)
class Country:
    region: str
    name: str
    weight: int  # relative share of the portfolio
    phone: str
    tld: str
    legal_forms: tuple[str, ...]
    cities: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


def _country(region: str, name: str, weight: int, phone: str, tld: str, *lists: str) -> Country:
    return Country(region, name, weight, phone, tld, *(_words(text) for text in lists))


COUNTRIES = {
    "DE": _country("DACH", "Germany", 18, "+49", "de", "GmbH, AG, GmbH & Co. KG",
                   "Hamburg, Munich, Cologne, Stuttgart, Leipzig",
                   "Jonas, Katrin, Stefan, Anja, Markus, Julia, Tobias, Nina",
                   "Schneider, Fischer, Weber, Wagner, Schulz, Koch, Richter, Wolf"),
    "AT": _country("DACH", "Austria", 4, "+43", "at", "GmbH",
                   "Vienna, Linz, Graz", "Florian, Eva, Lukas, Sabine, Matthias, Theresa",
                   "Gruber, Huber, Pichler, Moser, Steiner, Hofer"),
    "NL": _country("Benelux", "Netherlands", 12, "+31", "nl", "B.V., N.V.",
                   "Rotterdam, Eindhoven, Utrecht, Venlo",
                   "Daan, Sanne, Joris, Femke, Bram, Lotte, Ruud, Ilse",
                   "de Jong, Bakker, Visser, Smit, Mulder, de Boer, Meijer, Bos"),
    "BE": _country("Benelux", "Belgium", 6, "+32", "be", "NV, BV",
                   "Antwerp, Ghent, Liege", "Wout, Elke, Thomas, Lien, Pieter, Marie",
                   "Peeters, Maes, Claes, Willems, Dupont, Goossens"),
    "SE": _country("Nordics", "Sweden", 8, "+46", "se", "AB",
                   "Gothenburg, Malmo, Stockholm, Jonkoping",
                   "Erik, Karin, Oskar, Linnea, Johan, Maja, Anders, Elin",
                   "Andersson, Johansson, Karlsson, Nilsson, Larsson, Berg, Lund, Ek"),
    "DK": _country("Nordics", "Denmark", 6, "+45", "dk", "A/S, ApS",
                   "Aarhus, Odense, Copenhagen", "Mads, Mette, Rasmus, Sofie, Jesper, Camilla",
                   "Jensen, Nielsen, Hansen, Pedersen, Madsen, Kristensen"),
    "NO": _country("Nordics", "Norway", 4, "+47", "no", "AS",
                   "Oslo, Bergen, Stavanger", "Ole, Ingrid, Henrik, Silje, Lars, Kari",
                   "Olsen, Haugen, Bakken, Solberg, Dahl, Moen"),
    "FI": _country("Nordics", "Finland", 4, "+358", "fi", "Oy, Oyj",
                   "Tampere, Espoo, Oulu", "Mikko, Aino, Juha, Laura, Antti, Sanna",
                   "Korhonen, Virtanen, Makinen, Nieminen, Laine, Heikkinen"),
    "FR": _country("France", "France", 12, "+33", "fr", "SAS, S.A.",
                   "Lyon, Lille, Toulouse, Nantes",
                   "Julien, Claire, Nicolas, Camille, Antoine, Elodie, Mathieu, Sophie",
                   "Martin, Bernard, Lefevre, Girard, Roux, Fournier, Mercier, Blanc"),
    "IT": _country("Southern Europe", "Italy", 8, "+39", "it", "S.p.A., S.r.l.",
                   "Milan, Turin, Bologna, Verona",
                   "Marco, Giulia, Luca, Francesca, Alessandro, Chiara, Davide, Elena",
                   "Bianchi, Colombo, Ricci, Greco, Conti, Galli, Ferrari, Rinaldi"),
    "ES": _country("Southern Europe", "Spain", 7, "+34", "es", "S.A., S.L.",
                   "Barcelona, Valencia, Zaragoza, Bilbao",
                   "Javier, Lucia, Pablo, Marta, Sergio, Carmen, Diego, Ines",
                   "Garcia, Lopez, Martinez, Sanchez, Romero, Navarro, Torres, Ruiz"),
    "PL": _country("Central Europe", "Poland", 7, "+48", "pl", "Sp. z o.o., S.A.",
                   "Poznan, Wroclaw, Gdansk, Lodz",
                   "Piotr, Anna, Krzysztof, Magdalena, Tomasz, Agnieszka, Marek, Ewa",
                   "Nowak, Wojcik, Mazur, Krawczyk, Kaczmarek, Zajac, Pawlak, Sikora"),
    "GB": _country("UK & Ireland", "United Kingdom", 8, "+44", "co.uk", "Ltd, plc",
                   "Manchester, Birmingham, Leeds, Bristol",
                   "James, Emma, Oliver, Hannah, George, Charlotte, Daniel, Amy",
                   "Taylor, Brown, Wilson, Evans, Walker, Hughes, Clarke, Wright"),
}  # fmt: skip


@dataclass(frozen=True)
class Industry:
    name: str
    descriptors: tuple[str, ...]  # the word after the brand: "Nordwind Logistics"
    makes: str
    segments: tuple[str, ...]  # their customers
    trend: str


def _industry(name: str, descriptors: str, makes: str, segments: str, trend: str) -> Industry:
    return Industry(name, _words(descriptors), makes, _words(segments), trend)


INDUSTRIES = (
    _industry("Food & Beverage", "Foods, Dairy, Beverages, Bakeries", "packaged food",
              "supermarket chains, food-service operators, private-label buyers",
              "retailers pushing private label and shorter shelf lives"),
    _industry("Logistics & Transport", "Logistics, Freight, Cold Chain, Distribution", "contract logistics",
              "e-commerce shippers, retail distribution centres, pharma cold-chain clients",
              "warehouse automation and the driver shortage"),
    _industry("Automotive", "Automotive, Components, Mobility, Drivetrain", "vehicle components",
              "OEM platforms, tier-1 integrators, the aftermarket", "the shift to electric drivetrains"),
    _industry("Chemicals", "Chemicals, Coatings, Polymers, Specialty Chemicals", "specialty chemicals",
              "coatings formulators, industrial cleaning, agricultural distributors",
              "energy prices and stricter REACH rules"),
    _industry("Pharmaceuticals", "Pharma, Life Sciences, Biologics, Laboratories", "generic medicines",
              "hospital tenders, pharmacy wholesalers, contract manufacturing clients",
              "tender price pressure and serialisation rules"),
    _industry("Construction", "Construction, Building Systems, Infrastructure, Prefab", "building elements",
              "housing developers, public infrastructure, renovation contractors",
              "modular building and the renovation wave"),
    _industry("Retail", "Retail, Stores, Wholesale, Home & Living", "consumer goods retailing",
              "urban shoppers, trade customers, online shoppers", "online growth and store consolidation"),
    _industry("Energy & Utilities", "Energy, Power, Utilities, Renewables", "power and heat",
              "municipal utilities, industrial sites, households",
              "grid congestion and the renewables build-out"),
    _industry("Machinery", "Machinery, Engineering, Industrial Systems, Robotics", "production machinery",
              "food processors, packaging converters, automotive plants",
              "automation and service-based business models"),
    _industry("Packaging", "Packaging, Containers, Paper & Board, Labels", "packaging",
              "food brands, e-commerce fulfilment, pharma packers",
              "plastic reduction rules and recycled-content targets"),
)  # fmt: skip

# Company names: a brand compound ("Nordwind") or a family name, then the industry word and a legal form.
BRAND_ROOTS = _words(
    "Nord, Sud, Ost, West, Berg, Lind, Hal, Alp, Rhein, Elb, Fjord, Stern, Falk, Adler, Eich, Tann, "
    "Wald, Hav, Sol, Kron, Stahl, Silber, Blau, Grun, Brand, Vik, Stor, Mar, Tor, Ask, Eken, Lux, Vest, "
    "Aur, Bal, Kal"
)
BRAND_ENDS = _words(
    "wind, stal, haven, berg, mark, feld, holm, vik, dal, gard, borg, stein, brook, ford, lund, strom, hof, "
    "tek, ora, ex, ion, ia, way, line, well"
)
FAMILY_NAMES = _words(
    "Halvorsen, Bergmann, Van Dijk, Lindgren, Castellano, Kowalski, Eriksen, Hoffmann, Janssens, Duval, "
    "Novak, Schreiber, Aalto, Brandt, Keller, Rossi, Dubois, Vermeulen, Lange, Sorensen, Marchetti, Kruger, "
    "Navarro, Haas, Nyberg, Holm, Ferrand, Bauer, Moretti, Wouters"
)
# Our competitors, as they show up at our customers.
RIVALS = _words("Vantor Industrial, Kessler & Lund, Brightline Systems, Omnia Process, Tessaro Group")

INFLUENCER_TITLES = {  # (title, function) by buying role
    BuyingRole.DECISION_MAKER: (("Managing Director", "Management"), ("COO", "Operations"),
                                ("VP Operations", "Operations"), ("Plant Director", "Operations"),
                                ("CFO", "Finance")),
    BuyingRole.GATEKEEPER: (("Purchasing Manager", "Procurement"), ("Strategic Buyer", "Procurement"),
                            ("Head of Procurement", "Procurement"), ("Category Manager", "Procurement")),
    BuyingRole.TECHNICAL: (("Head of Engineering", "Engineering"), ("Quality Manager", "Quality"),
                           ("R&D Manager", "R&D"), ("Process Engineer", "Engineering")),
    BuyingRole.USER: (("Production Manager", "Operations"), ("Maintenance Supervisor", "Maintenance"),
                      ("Warehouse Manager", "Logistics"), ("Line Manager", "Operations")),
    BuyingRole.COACH: (("Supply Chain Manager", "Supply chain"), ("Lean Manager", "Operations"),
                       ("Project Engineer", "Engineering"), ("Assistant Buyer", "Procurement")),
}  # fmt: skip
INFLUENCE_RANGE = {
    BuyingRole.DECISION_MAKER: (4, 5),
    BuyingRole.GATEKEEPER: (3, 4),
    BuyingRole.TECHNICAL: (3, 5),
    BuyingRole.USER: (2, 3),
    BuyingRole.COACH: (2, 4),
}
STANCES = (-2, -1, 0, 1, 2)

VISIT_WEIGHTS = {  # visit kinds by the visitor's function
    TeamFunction.SALES: {VisitKind.ON_SITE: 30, VisitKind.MEETING: 15, VisitKind.VIDEO: 20,
                         VisitKind.PHONE: 15, VisitKind.REVIEW: 8, VisitKind.SITE_TOUR: 4,
                         VisitKind.SOCIAL: 8},
    TeamFunction.ENGINEERING: {VisitKind.ON_SITE: 5, VisitKind.SITE_TOUR: 3, VisitKind.VIDEO: 2},
    TeamFunction.LOGISTICS: {VisitKind.MEETING: 3, VisitKind.PHONE: 3, VisitKind.VIDEO: 2},
    TeamFunction.SERVICE: {VisitKind.ON_SITE: 4, VisitKind.PHONE: 3},
    TeamFunction.FINANCE: {VisitKind.VIDEO: 3, VisitKind.MEETING: 2},
}  # fmt: skip
VISIT_TEXT = {
    VisitKind.ON_SITE: "Visited the {site} site with {who}; walked the lines and discussed {topic}.",
    VisitKind.SITE_TOUR: "Hosted {who} at our test centre; showed the new units and discussed {topic}.",
    VisitKind.MEETING: "Meeting with {who} about {topic}.",
    VisitKind.VIDEO: "Video call with {who} on {topic}.",
    VisitKind.PHONE: "Phone call with {who}: {topic}.",
    VisitKind.REVIEW: "Quarterly business review with {who}: volumes, delivery performance and {topic}.",
    VisitKind.SOCIAL: "Dinner with {who} after the trade fair; informal talk about {topic}.",
}
TOPICS = _words(
    "next year's volume forecast, the price increase from January, late deliveries last month, "
    "a trial of the new dosing unit, the framework contract renewal, spare-parts lead times, "
    "training for their maintenance team, an invoice dispute, their plans for a new site, "
    "a quality complaint on the last batch, automatic reordering, a joint presentation to their board"
)
NEXT_STEPS = (
    "Send the revised quote by Friday.", "Book a technician for a line audit.", "Set up a trial at {site}.",
    "Ask finance about longer payment terms.", "Share the delivery performance report.",
    "Introduce our product manager.", "Invite them to our customer day.", "",
)  # fmt: skip
ISSUE_TEXT = {
    IssueKind.LATE_DELIVERY: ("Delivery for the {site} site arrived {n} days late; their line stood still.",
                              "Two partial deliveries instead of one; the rest came {n} days later."),
    IssueKind.QUALITY: ("Last batch failed their incoming inspection: {n} units rejected.",
                        "Seal failures on {n} units within a month of installation."),
    IssueKind.SERVICE_DELAY: ("Technician arrived {n} days after the breakdown call.",
                              "Spare part on back-order for {n} days."),
    IssueKind.BILLING: ("Invoice used last year's prices; {n} lines to credit.",
                        "Credit note promised at the review still not issued after {n} days."),
    IssueKind.OTHER: ("Their supplier portal rejects our delivery notes ({n} so far).",
                      "Nobody told their new buyer about the price change; {n} orders on hold."),
}  # fmt: skip
PROFILE_TEXT = {  # answers to the profile questions; key accounts get most of them
    "mission": ("To be the most reliable supplier of {makes} to {seg0} in {region}.",
                "Family-owned since {founded}; long-term independence and quality for {seg0} come first.",
                "Make {makes} affordable for {seg0} while halving its CO2 footprint by 2030."),
    "customer_segments": ("{seg0} (internally 'core accounts'), {seg1}, and a growing {seg2} business.",
                          "Mainly {seg0} and {seg1}; the {seg2} business is new and still small."),
    "value_proposition": ("Short lead times and consistent quality for {seg0}; mostly price for {seg1}. "
                          "Only the lead-time promise is really unique.",
                          "Engineering depth for {seg0}; rivals match them on price but not on know-how."),
    "competitors": ("{comp0} and {comp1}; {comp0} is cheaper and gaining share in {country}.",
                    "{comp0} at the top end, low-cost importers at the bottom."),
    "supplier_segmentation": ("Strategic, preferred and transactional suppliers; we are preferred "
                              "since {founded2}, aiming for strategic.",
                              "Suppliers ranked yearly on total cost of ownership; we are 'approved', "
                              "one step below strategic.",
                              "Procurement treats us as a commodity; engineering sees us as a partner."),
    "business_model": ("Margin comes from {makes} sold to {seg0} on long contracts; our equipment keeps "
                       "their lines up, which is where they make money.",
                       "Volume business on thin margins; every hour of downtime we prevent goes straight "
                       "to their bottom line."),
    "plans": ("Building a new site near {city} next year; the major problem is staff shortage. They expect "
              "{trend} to reshape the industry.",
              "Consolidating two plants into {city}; worried about {trend}."),
    "needs": ("Lower total cost of ownership, fewer unplanned stops and one contact for service across "
              "sites. We must fix spare-parts lead times with them.",
              "Predictable prices for three years and help with {trend}."),
    "competitive_developments": ("{rival} offered a three-year service contract 8% below our price; "
                                 "procurement is testing it at one site.",
                                 "No active rival at the moment; {rival} lost the last tender."),
}  # fmt: skip
KEY_REASONS_BIG = (
    "Top-{rank} customer by revenue; the multi-site framework contract is up for renewal.",
    "One of our largest accounts; they are standardising suppliers across all sites, we want to be the one.",
    "Largest {industry} buyer in {region}; our reference customer for the region.",
)
KEY_REASONS_PARTNER = (
    "Willing to co-develop the next product generation with us; early adopter of new lines.",
    "Fast-growing player in a small but expanding niche; a strategic bet for the next three years.",
    "Account of {rival}, which we decided to attack; an excellent reference if we win it.",
)
UNKEY_REASON = "CM fell below 10% after two price rounds; serving them as a key account destroyed value."
PLAN_AMBITIONS = (
    "Become {short}'s strategic supplier for all sites by the end of {year}.",
    "Be the first supplier they call when a line stops, at every site.",
    "Double our share of wallet through their new site in {city}.",
)
THIN_AMBITION = "Restore a healthy margin without losing the volume: CM at {target:.1f}% or better."
APPROACH_ACTIONS = {
    Approach.PERSONAL_TRUST: _words(
        "Monthly site visit with the plant director, Invite key contacts to our customer day, "
        "Early-warning call before the price change, Reply to every complaint within 24 h"
    ),
    Approach.TECHNICAL_SUPPORT: _words(
        "Joint R&D workshop on the next-generation line, Train their maintenance team, "
        "After-sales audit of the installed base, Co-develop the spec for the new site"
    ),
    Approach.RESOURCE_SUPPORT: _words(
        "Offer 60-day payment terms on the framework contract, Co-operative promotion at the trade fair, "
        "Consignment stock to free working capital"
    ),
    Approach.SERVICE_LEVELS: _words(
        "Set up automatic reordering for spare parts, Just-in-time delivery slots, Quotes within 48 hours, "
        "Right-first-time review of last quarter's deliveries"
    ),
    Approach.RISK_REDUCTION: _words(
        "Free trial of the new dosing unit, Extended guarantee on critical components, "
        "Preventive maintenance plan for all lines, Reference visit to a customer site"
    ),
}
APPROACH_FUNCTION = {
    Approach.PERSONAL_TRUST: TeamFunction.SALES,
    Approach.TECHNICAL_SUPPORT: TeamFunction.ENGINEERING,
    Approach.RESOURCE_SUPPORT: TeamFunction.FINANCE,
    Approach.SERVICE_LEVELS: TeamFunction.LOGISTICS,
    Approach.RISK_REDUCTION: TeamFunction.SERVICE,
}


@dataclass
class DemoSummary:
    counts: dict[str, int]
    revenue_12m: Decimal
    top20_share: float  # share of trailing-12-month revenue from the top 20% of accounts
    cm_pct_top10: float  # pooled CM% of the 10 biggest accounts (trailing 12 months)
    cm_pct_rest: float


@dataclass(eq=False)
class _Person:
    name: str
    role: str
    boss: int | None  # index into the account's people
    level: int
    obj: BuyingInfluencer
    met: int | None = None  # days ago of the last visit that met them


@dataclass(eq=False)
class _Plan:
    """One account, planned in memory before anything is written."""

    idx: int
    stem: str
    industry: Industry
    country: str
    city: str
    size: float  # baseline annual revenue, EUR
    cm: float  # baseline contribution margin, fraction of revenue
    life: str  # steady, growing, shrinking, churned, new or prospect
    growth: float  # annual log-growth of order values
    account: Account
    short: str = ""
    owner: str | None = None
    parent: "_Plan | None" = None
    level: int = 0
    team: list[tuple[str, str]] = field(default_factory=list)  # (username, function)
    key: str = ""  # "", "big", "partner" or "former"
    overdue: bool = False
    orders: tuple = ()  # (days_ago, revenue, cost) arrays
    rev12: float = 0.0
    cost12: float = 0.0
    people: list[_Person] = field(default_factory=list)
    visits: list[tuple[int, str, str, list[int]]] = field(default_factory=list)  # days ago, kind, by, people


@transaction.atomic
def demo_seed(
    *, accounts: int = 300, seed: int = 7, months: int = 24, today: datetime.date | None = None
) -> DemoSummary:
    """Write the demo users and `accounts` accounts with `months` of history (see the module docstring)."""
    generator = _Generator(accounts=accounts, seed=seed, months=months, today=today or timezone.localdate())
    with _gc_paused():
        return generator.run()


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector: the seed allocates millions of short-lived objects next to a
    large live graph (plans, model instances), and the collector rescanning that graph took half the time
    of a 10,000-account seed. Nothing here builds cycles worth collecting early."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# The demo's previous scoring run, this many days before today: tier migration, rising and falling accounts,
# score sparklines and "recent score changes" all compare two runs.
PREVIOUS_RUN_DAYS = 30


def demo_score(*, as_of: datetime.date, triggered_by: User) -> str:
    """Score the fresh portfolio twice with `scoring.services.portfolio_recompute`, as of PREVIOUS_RUN_DAYS
    before `as_of` and as of `as_of`, so the score history is the real service's own.

    Without an active scoring model (a flushed database loses the default one a migration creates) the demo
    data is kept unscored and the reason returned. A savepoint drops whatever a failed run wrote. Returns
    "scored" or why not.
    """
    try:
        with transaction.atomic():
            previous = as_of - datetime.timedelta(days=PREVIOUS_RUN_DAYS)
            for day in (previous, as_of):
                scoring_services.portfolio_recompute(as_of=day, triggered_by=triggered_by)
    except scoring_services.NoActiveModel as exc:
        return f"not scored: {type(exc).__name__}: {exc}"
    return "scored"


class _Generator:
    def __init__(self, *, accounts: int, seed: int, months: int, today: datetime.date):
        self.n = accounts
        self.seed = seed
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.today = today
        self.now = timezone.now()
        self.window_days = round(months * 365.25 / 12)
        self.names: set[str] = set()

    def run(self) -> DemoSummary:
        self.users = _upsert_users()
        plans = [self._plan_account(i, rank) for i, rank in enumerate(self._size_ranks())]
        self._plan_hierarchy(plans)
        for p in plans:
            self._plan_orders(p)
        self._plan_keys(plans)
        for p in plans:
            self._plan_team(p)
            self._plan_people(p)
            self._plan_visits(p)
            self._roll_up_people(p)
        self._write(plans)
        return _summary(self.today)

    # --- Accounts -------------------------------------------------------------------------------------------

    def _size_ranks(self) -> list[int]:
        # Lognormal with sigma 1.6: the top 20% hold ~78% of the mass (1 - Phi(0.84 - 1.6)).
        self.sizes = np.clip(self.np.lognormal(np.log(60_000), 1.6, self.n), 2_000, 40_000_000)
        ranks = np.empty(self.n, dtype=int)
        ranks[np.argsort(-self.sizes, kind="stable")] = np.arange(self.n)
        self.owner_slots = [r.username for r in REPS for _ in range(r.capacity // 4)] + ["manager", None]
        self.owner_order = self.rng.sample(range(self.n), self.n)
        return [int(r) for r in ranks]

    def _plan_account(self, i: int, rank: int) -> _Plan:
        rng = self.rng
        industry = rng.choice(INDUSTRIES)
        code = rng.choices(list(COUNTRIES), [c.weight for c in COUNTRIES.values()])[0]
        country = COUNTRIES[code]
        top, middle = max(1, round(self.n * 0.1)), round(self.n * 0.5)
        if rank < top:  # the biggest: half of them on thin margins (always the very biggest), the rest modest
            thin = rank in (0, 2) or rng.random() < 0.45
            cm = rng.uniform(0.05, 0.12) if thin else rng.uniform(0.14, 0.24)
        elif rank < middle:  # the fat middle
            cm = rng.uniform(0.30, 0.45) if rng.random() < 0.8 else rng.uniform(0.18, 0.30)
        else:
            cm = rng.uniform(0.06, 0.40)
        if rank < max(1, self.n // 20):
            life = rng.choices(("steady", "growing", "shrinking"), (6, 2, 2))[0]
        else:
            life = rng.choices(
                ("steady", "growing", "shrinking", "churned", "new", "prospect"), (52, 15, 11, 9, 10, 3)
            )[0]
        growth = {
            "steady": rng.gauss(0.03, 0.08),
            "growing": rng.uniform(0.25, 0.7),
            "shrinking": rng.uniform(-0.6, -0.25),
            "churned": rng.uniform(-0.5, 0.0),
        }.get(life, 0.0)
        stem = (
            rng.choice(FAMILY_NAMES)
            if rng.random() < 0.3
            else rng.choice(BRAND_ROOTS) + rng.choice(BRAND_ENDS)
        )
        short = f"{stem} {rng.choice(industry.descriptors)}"
        legal = rng.choice(country.legal_forms) if rng.random() < 0.7 else ""
        name = self._unique_name(f"{short} {legal}".strip(), country)
        status = {"prospect": AccountStatus.PROSPECT, "churned": AccountStatus.DORMANT}.get(
            life, AccountStatus.ACTIVE
        )
        if life == "churned" and rng.random() < 0.3:
            status = AccountStatus.LOST
        account = Account(
            name=name,
            reference=f"C-{10001 + i}",
            industry=industry.name,
            country=code,
            region=country.region,
            status=status,
            owner=None,
        )
        if rng.random() < 0.85:  # rated by the manager; bigger accounts tend to carry more prestige
            account.image_rating = min(5, max(1, round(rng.gauss(2.5 + (self.n - rank) / self.n * 1.5, 0.9))))
            account.partnership_rating = rng.choices((1, 2, 3, 4, 5), (1, 3, 5, 3, 1))[0]
            account.strategic_rating = rng.choice((3, 4, 5)) if rng.random() < 0.06 else None
            account.ratings_at = self.now - datetime.timedelta(
                days=rng.randint(3, 200), minutes=rng.randint(0, 600)
            )
        plan = _Plan(
            i,
            stem,
            industry,
            code,
            rng.choice(country.cities),
            float(self.sizes[i]),
            cm,
            life,
            growth,
            account,
            short,
        )
        plan.owner = self.owner_slots[self.owner_order[i] % len(self.owner_slots)]
        return plan

    def _unique_name(self, name: str, country: Country) -> str:
        candidate = name
        for city in (None, *country.cities):
            candidate = f"{name} ({city})" if city else name
            if candidate not in self.names:
                break
        while candidate in self.names:
            candidate = f"{name} {self.rng.randint(2, 999)}"
        self.names.add(candidate)
        return candidate

    def _plan_hierarchy(self, plans: list[_Plan]) -> None:
        """About 10% of the accounts are subsidiaries of a group; a quarter of those one level deeper."""
        rng, n_children = self.rng, round(self.n * 0.1)
        if n_children < 2:
            return
        by_size = sorted(plans, key=lambda p: -p.size)
        groups = rng.sample(by_size[: max(3, round(self.n * 0.3))], max(1, n_children // 3))
        group_ids = {g.idx for g in groups}
        candidates = [p for p in plans if p.idx not in group_ids and p.life != "prospect"]
        first_level: dict[int, list[_Plan]] = {g.idx: [] for g in groups}
        shorts: set[str] = set()
        for child in rng.sample(candidates, n_children):
            group = rng.choice(groups)
            siblings = first_level[group.idx]
            if siblings and rng.random() < 0.25:
                child.parent, child.level = rng.choice(siblings), 2
            else:
                child.parent, child.level = group, 1
                siblings.append(child)
            country = COUNTRIES[child.country]
            places = [country.name, child.city, *country.cities]
            if child.country == group.country:
                places.pop(0)
            place = next((x for x in places if f"{group.short} {x}" not in shorts), child.city)
            child.industry, child.stem = group.industry, group.stem
            child.short = f"{group.short} {place}"
            shorts.add(child.short)
            child.account.industry = group.industry.name
            child.account.name = self._unique_name(
                f"{child.short} {rng.choice(country.legal_forms)}", country
            )
            if rng.random() < 0.5:
                child.owner = group.owner

    # --- Orders ---------------------------------------------------------------------------------------------

    def _plan_orders(self, p: _Plan) -> None:
        """Irregular repeat purchases: Poisson occasions, gamma-distributed values drifting with the trend."""
        rng = self.rng
        if p.life == "prospect":
            return
        start, end = self.window_days, 0  # days ago
        if p.life == "churned":
            end = rng.randint(190, 280)
        elif p.life == "new":
            start = rng.randint(30, 360)
        rate = min(10.0, (p.size / 60_000) ** 0.35) * rng.uniform(0.7, 1.3)  # orders a month
        count = max(1, int(self.np.poisson(rate * (start - end) / 30.44)))
        days = self.np.integers(end, start + 1, size=count)
        years = (self.window_days / 2 - days) / 365.25
        values = p.size / (12 * rate) * np.exp(p.growth * years) * self.np.gamma(2.0, 0.5, size=count)
        revenue = np.round(np.maximum(values, 50.0), 2)
        margin = np.clip(p.cm + self.np.normal(0, 0.04, size=count), -0.2, 0.8)
        cost = np.round(revenue * (1 - margin), 2)
        p.orders = (days, revenue, cost)
        recent = days < 365
        p.rev12, p.cost12 = float(revenue[recent].sum()), float(cost[recent].sum())

    # --- Key accounts, teams, influencers, visits -----------------------------------------------------------

    def _plan_keys(self, plans: list[_Plan]) -> None:
        """The manager's decisions: mostly the biggest accounts (whatever their margin), a few partners."""
        rng = self.rng
        k = max(3, min(40, round(self.n / 10)))
        eligible = sorted((p for p in plans if p.life not in ("churned", "prospect")), key=lambda p: -p.size)
        n_big = round(k * 0.7)
        big, pool = eligible[:n_big], eligible[n_big : max(n_big + 1, len(eligible) // 2)]
        former = [p for p in pool[:n_big] if p.cm < 0.12][: max(1, self.n // 150)]
        pool = [p for p in pool if p not in former]
        partners = rng.sample(pool, min(k - n_big, len(pool)))
        keys = big + partners
        for p in former:
            p.key = "former"
        for rank, p in enumerate(big, start=1):
            p.key = "big"
            reason = rng.choice(KEY_REASONS_BIG)
            self._designate(
                p, reason.format(rank=rank, industry=p.industry.name.lower(), region=p.account.region)
            )
        for p in partners:
            p.key = "partner"
            p.account.partnership_rating = rng.choice((4, 5))
            p.account.image_rating = max(p.account.image_rating or 3, 3)
            p.account.strategic_rating = rng.choice((3, 4, 5)) if rng.random() < 0.4 else None
            p.account.ratings_at = p.account.ratings_at or self.now - datetime.timedelta(
                days=rng.randint(3, 90)
            )
            self._designate(p, rng.choice(KEY_REASONS_PARTNER).format(rival=rng.choice(RIVALS)))
        for i, p in enumerate(keys):
            p.account.cadence_days = KEY_CADENCE_DAYS
            if p.owner is None:
                p.owner = REPS[i % len(REPS)].username
        for p in rng.sample(keys, max(1, round(len(keys) * 0.25))):
            p.overdue = True
        for p in plans:  # a handful of accounts the reps watch quarterly
            if not p.key and p.owner and p.life != "churned" and rng.random() < 0.05:
                p.account.cadence_days = WATCH_CADENCE_DAYS

    def _designate(self, p: _Plan, reason: str) -> None:
        p.account.is_key = True
        p.account.key_reason = reason
        customer_for = int(p.orders[0].max())  # days since the first order: not key before they bought
        p.account.key_since = self.today - datetime.timedelta(
            days=self.rng.randint(0, min(1000, customer_for))
        )

    def _plan_team(self, p: _Plan) -> None:
        rng = self.rng
        colleagues = []
        if p.key in ("big", "partner"):
            colleagues = rng.sample(COLLEAGUES, rng.randint(1, 3))
        elif rng.random() < 0.12:
            colleagues = [rng.choice(COLLEAGUES)]
        p.team = [(c.username, c.function) for c in colleagues]
        if rng.random() < (0.3 if p.key in ("big", "partner") else 0.05):
            backup = rng.choice([r for r in REPS if r.username != p.owner])
            p.team.append((backup.username, TeamFunction.SALES))

    def _plan_people(self, p: _Plan) -> None:
        """The decision-making unit: all five buying roles when big enough, under the decision maker."""
        rng, country = self.rng, COUNTRIES[p.country]
        count = rng.randint(5, 7) if p.key in ("big", "partner") else rng.randint(2, 5)
        roles = [BuyingRole.DECISION_MAKER, BuyingRole.GATEKEEPER]
        roles += rng.sample([BuyingRole.TECHNICAL, BuyingRole.USER, BuyingRole.COACH], 3)
        roles += rng.choices([BuyingRole.TECHNICAL, BuyingRole.USER, BuyingRole.GATEKEEPER], k=2)
        domain = f"{p.stem.lower().replace(' ', '')}.{country.tld}"
        last_names = rng.sample(country.last_names, len(country.last_names))  # no accidental families
        for i, role in enumerate(roles[:count]):
            first, last = rng.choice(country.first_names), last_names[i % len(last_names)]
            title, function = rng.choice(INFLUENCER_TITLES[role])
            bosses = [j for j, other in enumerate(p.people) if other.level < 2]
            if i == 0:
                boss = None
            elif role == BuyingRole.USER:
                technical = [j for j in bosses if p.people[j].role == BuyingRole.TECHNICAL]
                boss = technical[0] if technical else 0
            elif role == BuyingRole.COACH:
                boss = rng.choice(bosses)
            else:  # gatekeepers and evaluators report to the decision maker, a second one to the first
                peers = [j for j in bosses if p.people[j].role == role]
                boss = peers[0] if peers else 0
            stance = rng.choices(STANCES, (0, 0, 1, 3, 4) if role == BuyingRole.COACH else (1, 2, 4, 3, 2))[0]
            obj = BuyingInfluencer(
                name=f"{first} {last}",
                title=title,
                function=function,
                site=p.city if rng.random() < 0.7 else rng.choice(country.cities),
                email=f"{first}.{last}@{domain}".lower().replace(" ", ""),
                phone=f"{country.phone} {rng.randint(100, 999)} {rng.randint(10_000, 99_999)}",
                buying_role=role,
                influence=rng.randint(*INFLUENCE_RANGE[role]),
                stance=stance,
                relationship_strength=min(5, max(1, 3 + stance + rng.choice((-1, 0, 0, 1)))),
                is_active=i == 0 or rng.random() > 0.08,  # some have left the account
            )
            level = 0 if boss is None else p.people[boss].level + 1
            p.people.append(_Person(obj.name, role, boss, level, obj))

    def _plan_visits(self, p: _Plan) -> None:
        """A year of contact: monthly-ish at key accounts (some lapsed), occasional elsewhere."""
        rng = self.rng
        if p.key in ("big", "partner"):
            last = rng.randint(65, 160) if p.overdue else rng.choice((rng.randint(0, 6), rng.randint(3, 25)))
            days = list(range(last, 365, rng.randint(18, 35)))
        elif p.account.cadence_days == WATCH_CADENCE_DAYS:
            days = list(range(rng.randint(0, 120), 365, rng.randint(45, 100)))
        elif p.life == "churned":
            days = sorted(rng.sample(range(200, 365), rng.randint(0, 3)))
        else:
            days = sorted(rng.sample(range(365), rng.choices((0, 1, 2, 3, 5), (3, 3, 2, 1, 1))[0]))
        if p.owner is None and not p.team:
            days = days[:1] if rng.random() < 0.3 else []
        for n, day in enumerate(sorted(days)):
            by, function = self._visitor(p)
            weights = VISIT_WEIGHTS[function]
            kind = rng.choices(list(weights), list(weights.values()))[0]
            if n == 0 and kind not in QUALIFYING_VISIT_KINDS:
                kind = VisitKind.MEETING  # the latest contact is a working one, so cadence is what we planned
            p.visits.append((day, kind, by, self._met(p, day, kind)))
        if p.overdue and rng.random() < 0.4:  # a dinner is not a working contact: the account stays lapsed
            day = rng.randint(3, 40)
            p.visits.append((day, VisitKind.SOCIAL, p.owner, self._met(p, day, VisitKind.SOCIAL)))

    def _visitor(self, p: _Plan) -> tuple[str, str]:
        if p.owner and (not p.team or self.rng.random() < 0.8):
            return p.owner, TeamFunction.SALES
        if p.team:
            return self.rng.choice(p.team)
        return self.rng.choice(REPS).username, TeamFunction.SALES

    def _met(self, p: _Plan, day: int, kind: str) -> list[int]:
        present = [i for i, person in enumerate(p.people) if person.obj.is_active or day > 180]
        want = {VisitKind.PHONE: 1, VisitKind.REVIEW: 3, VisitKind.SOCIAL: 2}.get(
            kind, self.rng.randint(1, 2)
        )
        return self.rng.sample(present, min(want, len(present)))

    def _roll_up_people(self, p: _Plan) -> None:
        """What `visit_log` leaves behind on each person: their last contact. (The accounts' last contact and
        next due date are rolled up once the visits are written, by the service a logged visit uses.)"""
        for day, _, _, met in p.visits:
            for i in met:
                person = p.people[i]
                person.met = day if person.met is None else min(person.met, day)
        for person in p.people:
            if person.met is not None:
                person.obj.last_contact_date = self.today - datetime.timedelta(days=person.met)

    # --- Writing --------------------------------------------------------------------------------------------

    def _write(self, plans: list[_Plan]) -> None:
        users, manager = self.users, self.users["manager"]
        for p in plans:
            p.account.owner = users.get(p.owner) if p.owner else None
            if p.account.ratings_at:
                p.account.ratings_by = manager
            if p.account.is_key:
                p.account.key_decided_by = manager
            if p.key == "former":
                p.account.key_reason, p.account.key_decided_by = UNKEY_REASON, manager
        for level in (0, 1, 2):
            batch = [p for p in plans if p.level == level]
            for p in batch:
                p.account.parent = p.parent.account if p.parent else None
            Account.objects.bulk_create([p.account for p in batch], batch_size=BATCH_SIZE)
        designations = self._write_designations(plans, manager)
        AccountTeamMember.objects.bulk_create(
            [
                AccountTeamMember(account=p.account, user=users[username], function=function)
                for p in plans
                for username, function in p.team
            ],
            batch_size=BATCH_SIZE,
        )
        self._write_orders(plans)
        profiles = self._write_profiles(plans)
        for level in (0, 1, 2):
            people = [person for p in plans for person in p.people if person.level == level]
            for p in plans:
                for person in p.people:
                    if person.level == level:
                        person.obj.account = p.account
                        person.obj.reports_to = p.people[person.boss].obj if person.boss is not None else None
            BuyingInfluencer.objects.bulk_create([person.obj for person in people], batch_size=BATCH_SIZE)
        self._write_visits(plans)
        accounts_refresh_contact(account_ids=[p.account.pk for p in plans])
        self._write_issues(plans)
        self._write_plans(plans)
        self._write_history(designations, profiles, manager)

    def _write_designations(
        self, plans: list[_Plan], manager: User
    ) -> list[tuple[KeyDesignation, datetime.date]]:
        rows = []
        for p in plans:
            if p.account.is_key:
                when = p.account.key_since
                rows.append(
                    (KeyDesignation(account=p.account, is_key=True, reason=p.account.key_reason), when)
                )
            elif p.key == "former":
                since = self.today - datetime.timedelta(days=self.rng.randint(500, 900))
                dropped = self.today - datetime.timedelta(days=self.rng.randint(60, 200))
                reason = self.rng.choice(KEY_REASONS_BIG).format(
                    rank=5, industry=p.industry.name.lower(), region=p.account.region
                )
                rows.append((KeyDesignation(account=p.account, is_key=True, reason=reason), since))
                rows.append((KeyDesignation(account=p.account, is_key=False, reason=UNKEY_REASON), dropped))
        for row, _ in rows:
            row.decided_by = manager
        KeyDesignation.objects.bulk_create([row for row, _ in rows], batch_size=BATCH_SIZE)
        for row, day in rows:  # decided_at is auto_now_add: back-date it to the decision day afterwards
            row.decided_at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9, 30)))
        KeyDesignation.objects.bulk_update([row for row, _ in rows], ["decided_at"], batch_size=BATCH_SIZE)
        return rows

    def _write_history(
        self,
        designations: list[tuple[KeyDesignation, datetime.date]],
        profiles: list[AccountProfile],
        manager: User,
    ) -> None:
        """The audit trail (kam/audit.py) of what the demo's people decided and wrote; bulk_create writes none.

        Each key designation is a change of its account by the manager on the day it was made, after the
        account as the import brought it in (not key, no one), so the trail shows what changed; each profile is
        written by the account's owner in working hours of the last four months (its "updated" date moves with it).
        The days come from their own stream: every other demo fact stays as it was."""
        rng = random.Random(f"history-{self.seed}")

        def at(day: datetime.date, hour: int, minute: int = 30) -> datetime.datetime:
            return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))

        imported = at(self.today - datetime.timedelta(days=max(self.window_days, 900) + 1), 8)
        created, changed = [], []
        for account in dict.fromkeys(row.account for row, _ in designations):
            before = copy.copy(account)
            before.is_key, before.key_since, before.key_reason, before.key_decided_by = False, None, "", None
            before._history_date, before._history_user = imported, None
            created.append(before)
        for row, day in designations:
            after = copy.copy(row.account)
            after.is_key, after.key_reason, after.key_decided_by = row.is_key, row.reason, manager
            after.key_since = (row.account.key_since or day) if row.is_key else None
            after._history_date, after._history_user = at(day, 9), manager
            changed.append(after)
        Account.history.bulk_history_create(created, batch_size=BATCH_SIZE)
        Account.history.bulk_history_create(changed, batch_size=BATCH_SIZE, update=True)
        for profile in profiles:
            day = self.today - datetime.timedelta(days=rng.randint(1, 120))
            profile.updated_at = at(day, rng.randint(8, 17), rng.randint(0, 59))
            profile._history_date, profile._history_user = profile.updated_at, profile.updated_by
        AccountProfile.objects.bulk_update(profiles, ["updated_at"], batch_size=BATCH_SIZE)
        AccountProfile.history.bulk_history_create(profiles, batch_size=BATCH_SIZE)

    def _write_orders(self, plans: list[_Plan]) -> None:
        """Orders numbered in date order across the portfolio, like an ERP would."""
        owners = [p for p in plans if len(p.orders)]
        if not owners:
            return
        days = np.concatenate([p.orders[0] for p in owners])
        revenue = np.concatenate([p.orders[1] for p in owners])
        cost = np.concatenate([p.orders[2] for p in owners])
        who = np.concatenate([np.full(len(p.orders[0]), i) for i, p in enumerate(owners)])
        order = np.lexsort((who, -days)).tolist()
        account_ids = [p.account.pk for p in owners]
        dates = [self.today - datetime.timedelta(days=d) for d in range(self.window_days + 1)]
        # Built and inserted a batch at a time, so a quarter of a million instances never live at once.
        for start in range(0, len(order), BATCH_SIZE):
            rows = [
                Order(
                    account_id=account_ids[who[j]],
                    reference=f"SO-{100001 + n}",
                    date=dates[days[j]],
                    revenue=Decimal(f"{revenue[j]:.2f}"),
                    variable_cost=Decimal(f"{cost[j]:.2f}"),
                )
                for n, j in enumerate(order[start : start + BATCH_SIZE], start=start)
            ]
            Order.objects.bulk_create(rows, batch_size=BATCH_SIZE)

    def _write_profiles(self, plans: list[_Plan]) -> list[AccountProfile]:
        rng, rows = self.rng, []
        for p in plans:
            is_key = p.key in ("big", "partner")
            if not is_key and rng.random() > 0.85:
                continue
            answered = rng.randint(6, 9) if is_key else rng.choices((0, 1, 2, 3, 4, 5), (2, 2, 3, 3, 2, 1))[0]
            seg0, seg1, seg2 = p.industry.segments
            comp0, comp1 = rng.sample(FAMILY_NAMES, 2)
            words = {
                "makes": p.industry.makes, "seg0": seg0, "seg1": seg1, "seg2": seg2,
                "region": p.account.region,
                "founded": rng.randint(1890, 1990), "founded2": self.today.year - rng.randint(2, 12),
                "comp0": f"{comp0} {p.industry.descriptors[0]}",
                "comp1": f"{comp1} {p.industry.descriptors[0]}",
                "country": COUNTRIES[p.country].name, "city": rng.choice(COUNTRIES[p.country].cities),
                "trend": p.industry.trend, "rival": rng.choice(RIVALS),
            }  # fmt: skip
            profile = AccountProfile(account=p.account, updated_by=p.account.owner)
            for question in rng.sample(list(PROFILE_QUESTIONS), answered):
                setattr(profile, question, rng.choice(PROFILE_TEXT[question]).format(**words))
            rows.append(profile)
        AccountProfile.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        return rows

    def _write_visits(self, plans: list[_Plan]) -> None:
        rng, users, rows, met = self.rng, self.users, [], []
        # Costs come from their own stream, so adding them left every other demo fact as it was.
        cost_rng = random.Random(f"visit-costs-{self.seed}")
        for p in plans:
            for day, kind, by, people in p.visits:
                date = self.today - datetime.timedelta(days=day)
                present = [p.people[i] for i in people]
                who = ", ".join(f"{x.name} ({x.obj.title})" for x in present) or "the operations team"
                site = present[0].obj.site if present else p.city
                follow_up = date + datetime.timedelta(days=rng.randint(7, 30)) if rng.random() < 0.3 else None
                rows.append(
                    Visit(
                        account=p.account,
                        logged_by=users[by],
                        date=date,
                        kind=kind,
                        summary=VISIT_TEXT[kind].format(site=site, who=who, topic=rng.choice(TOPICS)),
                        next_steps=rng.choice(NEXT_STEPS).format(site=site),
                        follow_up_date=follow_up,
                        cost=_visit_cost(cost_rng, kind),
                    )
                )
                met.append(present)
        Visit.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        through = Visit.influencers.through
        through.objects.bulk_create(
            [
                through(visit_id=visit.pk, buyinginfluencer_id=person.obj.pk)
                for visit, present in zip(rows, met, strict=True)
                for person in present
            ],
            batch_size=BATCH_SIZE,
        )

    def _write_issues(self, plans: list[_Plan]) -> None:
        rng, rows = self.rng, []
        service = self.users["service"]
        kinds, severities = list(IssueKind), list(Severity)
        for p in plans:
            if not len(p.orders):
                continue
            troubled = rng.random() < (0.15 if p.key in ("big", "partner") else 0.04)
            first, last = int(p.orders[0].max()), int(p.orders[0].min())
            for _ in range(int(self.np.poisson(6.0 if troubled else 0.5))):
                opened = rng.randint(last, max(last, min(first, 720)))
                resolved = opened - rng.randint(1, 40)  # days ago; not yet if that is in the future
                if resolved < 0 or rng.random() < 0.04:  # and a few old ones nobody closed
                    resolved = None
                kind = rng.choices(kinds, (30, 25, 20, 15, 10))[0]
                reporter = rng.choices((p.account.owner, service, None), (5, 3, 2))[0]
                rows.append(
                    ServiceIssue(
                        account=p.account,
                        kind=kind,
                        severity=rng.choices(severities, (35, 40, 20, 5))[0],
                        opened_on=self.today - datetime.timedelta(days=opened),
                        resolved_on=None
                        if resolved is None
                        else self.today - datetime.timedelta(days=resolved),
                        description=rng.choice(ISSUE_TEXT[kind]).format(site=p.city, n=rng.randint(2, 14)),
                        reported_by=reporter,
                    )
                )
        ServiceIssue.objects.bulk_create(rows, batch_size=BATCH_SIZE)

    def _write_plans(self, plans: list[_Plan]) -> None:
        """An active plan for this year at most key accounts, some with last year's closed plan behind it."""
        rng, year = self.rng, self.today.year
        account_plans, objectives, actions = [], [], []
        for p in plans:
            if p.key not in ("big", "partner") or rng.random() > 0.85:
                continue
            periods = [(year, PlanStatus.ACTIVE)]
            if rng.random() < 0.3:
                periods.append((year - 1, PlanStatus.CLOSED))
            for plan_year, status in periods:
                cm_pct = (p.rev12 - p.cost12) / p.rev12 * 100 if p.rev12 else 0.0
                thin = cm_pct < 13
                plan = AccountPlan(
                    account=p.account,
                    title=f"{p.short} account plan {plan_year}",
                    period_start=datetime.date(plan_year, 1, 1),
                    period_end=datetime.date(plan_year, 12, 31),
                    status=status,
                    closed_at=self.now.replace(year=year, month=1, day=8)
                    if status == PlanStatus.CLOSED
                    else None,
                )
                goals = self._objectives(p, plan, cm_pct, thin)
                ambition = THIN_AMBITION if thin else rng.choice(PLAN_AMBITIONS)
                plan.ambition = ambition.format(
                    short=p.short, year=plan_year, city=p.city, target=float(goals[0].target)
                )
                account_plans.append(plan)
                objectives += goals
                actions += self._actions(p, plan, goals)
        # Foreign keys to rows saved by an earlier bulk_create pick up their new pk when saved.
        AccountPlan.objects.bulk_create(account_plans, batch_size=BATCH_SIZE)
        Objective.objects.bulk_create(objectives, batch_size=BATCH_SIZE)
        PlanAction.objects.bulk_create(actions, batch_size=BATCH_SIZE)

    def _objectives(self, p: _Plan, plan: AccountPlan, cm_pct: float, thin: bool) -> list[Objective]:
        rng, past = self.rng, plan.status == PlanStatus.CLOSED
        revenue = max(10_000, round(p.rev12, -3))
        cm_now = round(cm_pct, 1)
        candidates = [
            ("Grow revenue", "annual revenue (EUR)", revenue, round(revenue * rng.uniform(1.08, 1.25), -3)),
            ("Lift contribution margin", "CM %", cm_now, round(cm_now + rng.uniform(2, 6), 1)),
            ("On-time delivery above 96%", "on-time delivery %", round(rng.uniform(84, 92), 1), 97),
            (
                "Meet every decision maker",
                "decision makers met",
                (b := rng.randint(0, 2)),
                b + rng.randint(2, 4),
            ),
            ("Win the second site", "share of wallet %", (s := rng.randint(15, 40)), s + rng.randint(10, 20)),
        ]
        chosen = [candidates[1]] if thin else []
        chosen += rng.sample([c for c in candidates if c not in chosen], rng.randint(2, 3) - len(chosen))
        goals = []
        for title, metric, baseline, target in chosen:
            progress = rng.uniform(0.5, 1.2) if past else rng.uniform(-0.1, 0.9)
            due_month = rng.choice((6, 12))
            goals.append(
                Objective(
                    plan=plan,
                    title=title,
                    metric=metric,
                    baseline=Decimal(f"{baseline:.2f}"),
                    target=Decimal(f"{target:.2f}"),
                    current=Decimal(f"{baseline + (target - baseline) * progress:.2f}"),
                    due_date=datetime.date(plan.period_start.year, due_month, 30 if due_month == 6 else 31),
                    status=(ObjectiveStatus.ACHIEVED if progress >= 1 else ObjectiveStatus.MISSED)
                    if past
                    else ObjectiveStatus.OPEN,
                )
            )
        return goals

    def _actions(self, p: _Plan, plan: AccountPlan, goals: list[Objective]) -> list[PlanAction]:
        """4-8 actions over the five approaches, owned by whoever on the team fits, due around today."""
        rng, today = self.rng, self.today
        approaches = rng.sample(list(Approach), 5) + rng.choices(list(Approach), k=3)
        by_function = {function: self.users[username] for username, function in p.team}
        # Every plan has something behind it, something due this week and something ahead.
        windows = [(-60, -1), (0, 6), (7, 120)]
        windows = rng.sample(windows, 3) + rng.choices(windows, (3, 2, 4), k=5)
        actions = []
        for approach, window in list(zip(approaches, windows, strict=True))[: rng.randint(4, 8)]:
            owner = by_function.get(APPROACH_FUNCTION[approach], p.account.owner)
            if plan.status == PlanStatus.CLOSED:
                due = plan.period_start + datetime.timedelta(days=rng.randint(30, 350))
                status = rng.choices((ActionStatus.DONE, ActionStatus.CANCELLED), (4, 1))[0]
            else:
                due = today + datetime.timedelta(days=rng.randint(*window))
                if due < today:  # mostly done; the rest are overdue
                    status = rng.choices(list(ActionStatus), (2, 2, 5, 1))[0]
                elif due <= today + datetime.timedelta(days=6):
                    status = rng.choices(list(ActionStatus), (4, 5, 1, 0))[0]
                else:
                    status = rng.choices(list(ActionStatus), (3, 1, 0, 0))[0]
            done = min(today, due + datetime.timedelta(days=rng.randint(-10, 3)))
            actions.append(
                PlanAction(
                    plan=plan,
                    objective=rng.choice(goals) if goals and rng.random() < 0.5 else None,
                    title=rng.choice(APPROACH_ACTIONS[approach]),
                    approach=approach,
                    owner=owner,
                    due_date=due,
                    status=status,
                    cost=Decimal(rng.randrange(500, 20_000, 50)) if rng.random() < 0.4 else None,
                    completed_on=done if status == ActionStatus.DONE else None,
                )
            )
        return actions


def _upsert_users() -> dict[str, User]:
    password = make_password(DEMO_PASSWORD)  # hashed once: one PBKDF2 per user would dominate a small seed
    users: dict[str, User] = {}
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first() or User(username=spec.username)
        user.first_name, user.last_name = spec.first_name, spec.last_name
        user.email = f"{spec.username}@kam-demo.example"
        user.role = spec.role
        user.monthly_visit_capacity = spec.capacity
        user.manager = users["manager"] if spec in REPS else None
        user.is_superuser = user.is_staff = spec is ADMIN
        user.is_active = True
        user.password = password
        user.save()
        users[spec.username] = user
    return users


def _summary(today: datetime.date) -> DemoSummary:
    """Counts and the portfolio's shape, read back from the database."""
    rows = (
        Order.objects.filter(date__gt=today - datetime.timedelta(days=365))
        .values("account_id")
        .annotate(revenue=Sum("revenue"), cost=Sum("variable_cost"))
        .order_by("-revenue", "account_id")
    )
    revenue = [(r["revenue"], r["cost"]) for r in rows]
    total = sum((r for r, _ in revenue), Decimal("0"))
    top = revenue[: round(Account.objects.count() * 0.2)]

    def cm_pct(group):
        sales = sum((r for r, _ in group), Decimal("0"))
        return float((sales - sum((c for _, c in group), Decimal("0"))) / sales) if sales else 0.0

    counts = {
        "users": User.objects.count(),
        "accounts": Account.objects.count(),
        "key accounts": Account.objects.key_accounts().count(),
        "key accounts lapsed": Account.objects.key_accounts().cadence_lapsed(today).count(),
        "subsidiaries": Account.objects.filter(parent__isnull=False).count(),
        "team members": AccountTeamMember.objects.count(),
        "orders": Order.objects.count(),
        "influencers": BuyingInfluencer.objects.count(),
        "profiles": AccountProfile.objects.count(),
        "visits": Visit.objects.count(),
        "service issues": ServiceIssue.objects.count(),
        "open issues": ServiceIssue.objects.open().count(),
        "plans": AccountPlan.objects.count(),
        "objectives": Objective.objects.count(),
        "plan actions": PlanAction.objects.count(),
    }
    return DemoSummary(
        counts=counts,
        revenue_12m=total,
        top20_share=float(sum((r for r, _ in top), Decimal("0")) / total) if total else 0.0,
        cm_pct_top10=cm_pct(revenue[:10]),
        cm_pct_rest=cm_pct(revenue[10:]),
    )


# What a contact of each kind costs the seller (travel, time, hospitality), low and high, in currency units.
VISIT_COST_RANGE = {
    VisitKind.ON_SITE: (150, 600),
    VisitKind.SITE_TOUR: (300, 900),
    VisitKind.MEETING: (100, 400),
    VisitKind.VIDEO: (10, 60),
    VisitKind.PHONE: (5, 30),
    VisitKind.REVIEW: (400, 1200),
    VisitKind.SOCIAL: (200, 800),
}


def _visit_cost(rng: random.Random, kind: str) -> Decimal | None:
    """A plausible cost for a demo visit; one in four is left unlogged, as reps do."""
    if rng.random() < 0.25:
        return None
    low, high = VISIT_COST_RANGE.get(kind, (50, 300))
    return Decimal(rng.randint(low, high))
