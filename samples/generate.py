"""Seeded generator of sample Ernest exports.

Ernest is a French recruitment platform. Its export contains six tables
(candidats, contacts, sociétés, offres, utilisateurs, candidatures). This script
writes tables with the same layout, filled with invented but plausible
French data, in two forms:

* ``<out>/parquet/<table>.parquet``: typed columns, zstd compression;
* ``<out>/csv-fr/<table>.csv``: French spreadsheet conventions (``;``
  delimiter, UTF-8 with BOM, CRLF, ``dd/mm/yyyy`` dates, ``Oui``/``Non``,
  lists joined with ``", "``).

It also plants the data-quality problems found in the real export (duplicate
emails that differ only by case, spaces or Unicode form, invalid addresses,
NFD text, city spelling variants, odd vivier values, inactive referents, ...)
and lists the planted ids in ``<out>/anomaly_ids.csv`` (columns kind,entity,id).

All rows are produced by DuckDB SQL: each value is drawn from
``hash(seed, row id, salt)``, so a given seed always gives the same rows, and
no row ever becomes a Python object. Ten million candidats took 90 s and 5.3 GB
of peak memory on a 2-core, 24 GB machine (DuckDB 2.0.1).

Usage::

    python samples/generate.py --rows 2000 --out samples/data --seed 7
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import duckdb

DEFAULT_ROWS = 2000
DEFAULT_SEED = 7
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
MIN_ROWS = 100
FORMS = ("parquet", "csv-fr")
TABLES = ("societes", "utilisateurs", "offres", "candidats", "contacts", "candidatures")

# ---------------------------------------------------------------------------
# Vocabularies (invented for this script)
# ---------------------------------------------------------------------------

FEMALE_FIRST_NAMES = [
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie",
    "Laura", "Marie", "Anne", "Claire", "Sophie", "Nathalie", "Isabelle",
    "Céline", "Aurélie", "Émilie", "Pauline", "Lucie", "Mathilde", "Charlotte",
    "Amandine", "Élodie", "Océane", "Zoé", "Jade", "Louise", "Agathe", "Margaux",
    "Sandrine", "Valérie", "Nadia", "Fatima", "Yasmine", "Mélanie", "Caroline",
    "Audrey", "Justine", "Hélène",
]
MALE_FIRST_NAMES = [
    "Thomas", "Nicolas", "Julien", "Maxime", "Alexandre", "Antoine", "Kevin",
    "Romain", "Guillaume", "Pierre", "Lucas", "Hugo", "Louis", "Paul", "Arthur",
    "Jules", "Théo", "Mathieu", "Sébastien", "Frédéric", "Jérôme", "Olivier",
    "Laurent", "Stéphane", "Christophe", "David", "Karim", "Mehdi", "Yanis",
    "Adrien", "Benoît", "Clément", "Florian", "Quentin", "Vincent", "Xavier",
    "Cédric", "Hervé", "Raphaël", "Jean-Baptiste",
]
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
    "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel",
    "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin",
    "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine",
    "Chevalier", "Robin", "Le Gall", "Da Silva", "N'Diaye", "Nguyen",
    "Benali", "Haddad", "Traoré", "Lemaire", "Barbier", "Brunet",
]

# (city, postcode). No postcode here starts with "0": those are planted.
# Saint-Étienne is the only city with a 42xxx postcode (city variants use it).
CITIES = [
    ("Paris", "75011"), ("Paris", "75015"), ("Paris", "75018"), ("Paris", "75009"),
    ("Lyon", "69003"), ("Lyon", "69007"), ("Villeurbanne", "69100"),
    ("Marseille", "13001"), ("Marseille", "13008"), ("Aix-en-Provence", "13100"),
    ("Toulouse", "31000"), ("Nantes", "44000"), ("Bordeaux", "33000"),
    ("Lille", "59000"), ("Rennes", "35000"), ("Strasbourg", "67000"),
    ("Montpellier", "34000"), ("Saint-Étienne", "42000"), ("Saint-Étienne", "42100"),
    ("Grenoble", "38000"), ("Dijon", "21000"), ("Angers", "49000"),
    ("Orléans", "45000"), ("Besançon", "25000"), ("Nîmes", "30000"),
    ("Le Mans", "72000"), ("Clermont-Ferrand", "63000"), ("Tours", "37000"),
    ("Rouen", "76000"), ("Le Havre", "76600"), ("Metz", "57000"),
    ("Nancy", "54000"), ("Caen", "14000"), ("Brest", "29200"),
    ("Limoges", "87000"), ("Poitiers", "86000"), ("Pau", "64000"),
    ("Bayonne", "64100"), ("Perpignan", "66000"), ("La Rochelle", "17000"),
    ("Boulogne-Billancourt", "92100"), ("Nanterre", "92000"),
    ("Saint-Denis", "93200"), ("Créteil", "94000"), ("Versailles", "78000"),
    ("Évry-Courcouronnes", "91000"), ("Cergy", "95000"), ("Amiens", "80000"),
    ("Reims", "51100"), ("Toulon", "83000"), ("Mulhouse", "68100"),
    ("Valence", "26000"), ("Chambéry", "73000"), ("Annecy", "74000"),
]
# Planted: postcodes with a leading zero.
LEADING_ZERO_CITIES = [
    ("Nice", "06000"), ("Bourg-en-Bresse", "01000"), ("Cannes", "06400"),
    ("Laon", "02000"), ("Antibes", "06600"), ("Gap", "05000"),
    ("Charleville-Mézières", "08000"), ("Foix", "09000"),
]
# Planted: spellings of Saint-Étienne other than the canonical one.
SAINT_ETIENNE_VARIANTS = ["ST ETIENNE", "SAINT ETIENNE", "St-Etienne"]
# Planted in NFD: accented names and cities (never Saint-Étienne, never 0xxxx).
ACCENTED_FEMALE_NAMES = ["Hélène", "Éloïse", "Anaïs", "Gaëlle", "Noémie", "Bérénice"]
ACCENTED_MALE_NAMES = ["Jérôme", "Loïc", "Frédéric", "Noël", "Gaëtan", "Hervé"]
ACCENTED_LAST_NAMES = ["Lefèvre", "Gérard", "Bénard", "Lemaître", "Ménard", "Clément"]
ACCENTED_CITIES = [
    ("Orléans", "45000"), ("Besançon", "25000"), ("Nîmes", "30000"),
    ("Créteil", "94000"), ("Chambéry", "73000"), ("Évry-Courcouronnes", "91000"),
]

EMAIL_DOMAINS = [
    "mail.example", "courriel.example", "poste.example", "webmail.example",
    "boite.example",
]
STAFF_DOMAIN = "cabinet-ernest.example"

VIVIERS = [
    "Dev", "Data", "DevOps", "Commercial", "RH", "Finance", "Marketing",
    "Support", "Direction",
]
# Planted vivier values.
VIVIER_VARIANTS = ["dev", " Data", "DEVOPS", "Marketing "]
VIVIER_STAGE = "Stage_Été 100%"

# 47 entries (a prime): picks with a fixed stride never repeat an item.
CANDIDATE_SKILLS = [
    "Python", "Java", "JavaScript", "TypeScript", "SQL", "React", "Angular",
    "Docker", "Kubernetes", "Linux", "AWS", "Azure", "Excel", "Power BI",
    "Tableau", "SAP", "Salesforce", "Gestion de projet", "Management d'équipe",
    "Négociation", "Prospection", "Relation client", "Comptabilité",
    "Contrôle de gestion", "Paie", "Recrutement", "Droit social",
    "Marketing digital", "SEO", "Rédaction", "Anglais", "Espagnol", "Allemand",
    "Communication", "Scrum", "Git", "Terraform", "Spark", "Machine learning",
    "Figma", "Service client", "Support technique", "ITIL", "Cybersécurité",
    "Réseaux", "C#", "PHP",
]
# Planted: a list item that contains the CSV list separator ", ".
SEPARATOR_SKILL = "Word, Excel"

# 31 entries (a prime), lower-case tokens.
OFFER_SKILLS = [
    "python", "java", "javascript", "typescript", "sql", "react", "docker",
    "kubernetes", "linux", "aws", "azure", "excel", "powerbi", "sap",
    "salesforce", "scrum", "git", "terraform", "spark", "php", "csharp",
    "figma", "seo", "anglais", "negociation", "prospection", "comptabilite",
    "paie", "recrutement", "management", "crm",
]

OFFER_TITLES = [
    "Développeur Python (H/F)", "Développeur Java (H/F)",
    "Développeur front-end React (H/F)", "Développeur PHP Symfony (H/F)",
    "Ingénieur DevOps (H/F)", "Administrateur systèmes Linux (H/F)",
    "Data Analyst (H/F)", "Data Engineer (H/F)", "Data Scientist (H/F)",
    "Chef de projet informatique (H/F)", "Product Owner (H/F)",
    "Technicien support (H/F)", "Ingénieur cybersécurité (H/F)",
    "Commercial B2B (H/F)", "Ingénieur d'affaires (H/F)",
    "Business Developer (H/F)", "Chargé de recrutement (H/F)",
    "Responsable RH (H/F)", "Gestionnaire de paie (H/F)", "Comptable (H/F)",
    "Contrôleur de gestion (H/F)", "Assistant de direction (H/F)",
    "Responsable marketing digital (H/F)", "Chargé de communication (H/F)",
    "Conseiller clientèle (H/F)", "Directeur administratif et financier (H/F)",
    "Responsable d'agence (H/F)", "Acheteur (H/F)",
]

# (sector, NAF code)
SECTORS = [
    ("Informatique", "62.01Z"), ("Conseil", "70.22Z"), ("Industrie", "25.62B"),
    ("Banque", "64.19Z"), ("Assurance", "65.12Z"), ("Commerce de détail", "47.19B"),
    ("BTP", "41.20A"), ("Santé", "86.10Z"), ("Transport et logistique", "52.29A"),
    ("Agroalimentaire", "10.71C"), ("Énergie", "35.11Z"), ("Immobilier", "68.31Z"),
    ("Hôtellerie-restauration", "56.10A"), ("Télécommunications", "61.10Z"),
    ("Formation", "85.59A"), ("Intérim et recrutement", "78.20Z"),
]

COMPANY_PREFIXES = [
    "Groupe", "Cabinet", "Atelier", "Maison", "Société", "Compagnie",
    "Laboratoires", "Transports", "Solutions", "Studio", "Bureau", "Agence",
]
COMPANY_CORES = [
    "Altaris", "Boréal", "Cérulis", "Deltane", "Ecliptis", "Fluvia", "Granitel",
    "Horizon Sud", "Ilios", "Jasmin", "Kerlann", "Lumen", "Mistral", "Noval",
    "Orphéa", "Pléiade", "Quartz", "Rivalis", "Solenne", "Taranis", "Ubiqo",
    "Valmont", "Wendel & Fils", "Ysaline", "Zéphyr", "Arpège", "Bastide",
    "Calanque", "Dauphin", "Estérel",
]
LEGAL_FORMS = ["", " SAS", " SA", " SARL", " SASU"]

CONTACT_FUNCTIONS = [
    "DRH", "Responsable recrutement", "Chargée de recrutement",
    "Directeur technique", "Directrice générale", "Office manager",
    "Responsable RH", "CTO", "Gérant", "Assistante de direction",
    "Responsable d'agence", "Manager commercial", "Talent acquisition manager",
]

# Planted: a sentence typed in the email field of several contacts.
EMAIL_SENTENCE = "Ne souhaite pas donner son adresse ; passer par le standard"

# Planted invalid and unusual-but-valid addresses. The first round uses these
# literals, and later rounds add a number so that every address stays unique.
INVALID_EMAILS = ["test@", "@iana.org", "test..iana.org"]
UNUSUAL_EMAILS = ['"test"@iana.org', "test@[255.255.255.255]"]

CANDIDAT_STATUTS = [
    ("Disponible", 30), ("En veille", 25), ("En poste", 20), ("Placé", 10),
    ("Archivé", 15),
]
CANDIDAT_SOURCES = [
    ("Site carrière", 30), ("LinkedIn", 30), ("HelloWork", 15),
    ("Cooptation", 10), ("France Travail", 8), (None, 7),
]
SOCIETE_STATUTS = [("Client", 40), ("Prospect", 45), ("Ancien client", 15)]
CONTRACT_TYPES = [
    ("CDI", 50), ("CDD", 15), ("Stage", 8), ("Alternance", 10), ("Intérim", 10),
    ("Freelance", 7),
]
OFFER_STATUTS = [("Ouverte", 45), ("Pourvue", 25), ("Fermée", 20), ("Brouillon", 10)]
ETAPES = [
    ("Nouvelle", 30), ("Présélection", 20), ("Entretien", 18),
    ("Proposition", 7), ("Embauché", 5), ("Refusé", 20),
]

# Dates: 2019-01-01 .. 2026-11-30 (minute precision for timestamps).
FIRST_DAY = "2019-01-01"
DAYS_SPAN = 2891  # days from 2019-01-01 to 2026-11-30 inclusive
MINUTES_SPAN = DAYS_SPAN * 1440

# Characters counted as surrounding whitespace in the CSV quoting rule.
CSV_SPACES = " \t\u00a0\u202f\u2009\u2007\u3000"

# ---------------------------------------------------------------------------
# Sizes and anomaly counts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Row counts of the six tables for a given number of candidats."""

    candidats: int
    contacts: int
    societes: int
    offres: int
    utilisateurs: int
    candidatures: int

    @classmethod
    def for_rows(cls, rows: int) -> "Sizes":
        return cls(
            candidats=rows,
            contacts=max(15, rows * 15 // 100),
            societes=max(20, rows // 40),
            offres=max(40, rows * 63 // 1000),
            utilisateurs=max(60, rows // 5000),
            candidatures=rows * 3 // 2,
        )

    def of(self, table: str) -> int:
        return getattr(self, table)


def anomaly_unit(rows: int) -> int:
    """Rows per anomaly kind grow by one for every 1000 candidats."""
    return max(1, rows // 1000)


def inactive_user_ids(users: int) -> list[int]:
    """Inactive users: alternately a Recruteur (id 10j+4) and a Manager (10j+2)."""
    count = max(3, users // 20)
    return [10 * j + (4 if j % 2 == 0 else 2) for j in range(count)]


def contact_user_duplicate_ids(users: int) -> list[int]:
    """Active Recruteurs (id 10j+7) whose email a contact repeats."""
    return [10 * j + 7 for j in range(max(1, users // 30))]


def slot_plan(sizes: Sizes) -> dict[str, list[tuple[str, str | None, int]]]:
    """Rows to overwrite, per table: (group, anomaly kind or None, count).

    Each group gets its own rows; a kind of None marks helper rows that are
    not listed in anomaly_ids.csv.
    """
    k = anomaly_unit(sizes.candidats)
    cu = len(contact_user_duplicate_ids(sizes.utilisateurs))
    unsub = max(1, sizes.societes // 100)
    return {
        "candidats": [
            ("dup_case_src", "email_dup_case", k),
            ("dup_case_dst", "email_dup_case", k),
            ("dup_space_src", "email_dup_spaces", k),
            ("dup_space_dst", "email_dup_spaces", k),
            ("dup_nfd_src", "email_dup_nfc_nfd", k),
            ("dup_nfd_dst", "email_dup_nfc_nfd", k),
            ("dup_unsub_src", "email_dup_one_unsubscribed", 1),
            ("dup_unsub_dst", "email_dup_one_unsubscribed", 1),
            ("cross_contact_src", "email_dup_candidat_contact", k),
            ("email_null", "email_null", k),
            ("email_empty", "email_empty", k),
            ("email_blank", "email_blank", k),
            ("email_invalid", "email_invalid", 3 * k),
            ("email_unusual", "email_unusual_valid", 2 * k),
            ("nfd_text", "text_nfd", k),
            ("city_variant", "city_variant", 3 * k),
            ("postcode_zero", "postcode_leading_zero", 2 * k),
            ("vivier_variant", "vivier_variant", 2 * k),
            ("vivier_stage", "vivier_stage", k),
            ("statut_null", "statut_null", k),
            ("list_separator", "list_item_with_separator", k),
        ],
        "contacts": [
            ("cross_contact_dst", "email_dup_candidat_contact", k),
            ("cross_user_dst", "email_dup_contact_utilisateur", cu),
            ("email_sentence", "email_sentence", 3 * k),
            ("nfd_text", "text_nfd", k),
            ("unsub_company_contact", None, unsub),
        ],
        "societes": [
            ("unsubscribed", "societe_unsubscribed_contacts_subscribed", unsub),
            ("postcode_zero", "postcode_leading_zero", max(1, sizes.societes // 100)),
        ],
        "offres": [
            ("no_company", "offre_without_societe", max(1, sizes.offres // 100)),
            ("no_operational", "offre_without_referent_operationnel", sizes.offres // 10),
            ("inactive_referent", None, len(inactive_user_ids(sizes.utilisateurs))),
        ],
        "candidatures": [
            ("reapply_src", "reapplication", k),
            ("reapply_dst", "reapplication", k),
        ],
    }


# ---------------------------------------------------------------------------
# SQL helpers
# ---------------------------------------------------------------------------


def sql_str(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]"


class Draw:
    """SQL expressions that draw values from hash(seed, key, salt)."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def hash(self, salt: int, key: str = "id") -> str:
        return f"hash({self.seed}::BIGINT, ({key})::BIGINT, {salt}::BIGINT)"

    def below(self, n: int, salt: int, key: str = "id") -> str:
        """Integer in [0, n)."""
        return f"({self.hash(salt, key)} % {int(n)})::BIGINT"

    def chance(self, percent: float, salt: int, key: str = "id") -> str:
        """Boolean that is true for about `percent` % of the keys."""
        return f"({self.below(10000, salt, key)} < {int(round(percent * 100))})"

    def pick(self, values: Sequence[str], salt: int, key: str = "id") -> str:
        return f"{sql_list(values)}[1 + {self.below(len(values), salt, key)}]"

    def weighted(self, choices: Sequence[tuple[object, int]], salt: int, key: str = "id") -> str:
        """CASE expression choosing among (value, weight) pairs."""
        total = sum(w for _, w in choices)
        draw = self.below(total, salt, key)
        parts, upper = [], 0
        for value, weight in choices[:-1]:
            upper += weight
            parts.append(f"WHEN {draw} < {upper} THEN {_sql_value(value)}")
        return f"CASE {' '.join(parts)} ELSE {_sql_value(choices[-1][0])} END"

    def day(self, salt: int, key: str = "id") -> str:
        return f"(DATE '{FIRST_DAY}' + {self.below(DAYS_SPAN, salt, key)}::INTEGER)"

    def minute(self, salt: int, key: str = "id") -> str:
        return f"(TIMESTAMP '{FIRST_DAY} 00:00' + to_minutes({self.below(MINUTES_SPAN, salt, key)}))"

    def phone(self, first_digits: Sequence[int], salt: int, key: str = "id") -> str:
        h = self.hash(salt, key)
        lead = f"{[int(d) for d in first_digits]}[1 + ({h} % {len(first_digits)})::BIGINT]"
        pairs = ", ".join(f"(({h} // {100 ** (i + 1)}) % 100)::INTEGER" for i in range(4))
        return f"printf('0%d %02d %02d %02d %02d', {lead}, {pairs})"

    def distinct_items(self, vocabulary: Sequence[str], count_expr: str, salt: int,
                       key: str = "id") -> str:
        """List of `count_expr` distinct items; the vocabulary size must be prime."""
        n = len(vocabulary)
        start = self.below(n, salt, key)
        stride = f"(1 + {self.below(n - 1, salt + 1, key)})"
        return (f"list_transform(range({count_expr}), "
                f"lambda j: {sql_list(vocabulary)}[1 + (({start} + j * {stride}) % {n})])")


def _sql_value(value: object) -> str:
    if value is None or isinstance(value, str):
        return sql_str(value)
    return str(value)


def nfd_replacements(texts: Iterable[str]) -> dict[str, str]:
    """Accented characters used in `texts` mapped to their NFD form."""
    chars = {c for t in texts for c in t.lower() + t.upper() + t}
    return {c: unicodedata.normalize("NFD", c) for c in sorted(chars)
            if unicodedata.normalize("NFD", c) != c}


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    """SQL macros shared by the table builders."""
    con.execute(r"CREATE MACRO local_part(s) AS regexp_replace(lower(strip_accents(s)), '[^a-z]', '', 'g')")
    con.execute(r"CREATE MACRO slug(s) AS trim(regexp_replace(lower(strip_accents(s)), '[^a-z0-9]+', '-', 'g'), '-')")
    accented = (ACCENTED_FEMALE_NAMES + ACCENTED_MALE_NAMES + ACCENTED_LAST_NAMES
                + [c for c, _ in ACCENTED_CITIES])
    expr = "s"
    for char, decomposed in nfd_replacements(accented).items():
        expr = f"replace({expr}, {sql_str(char)}, {sql_str(decomposed)})"
    con.execute(f"CREATE MACRO to_nfd(s) AS {expr}")


# ---------------------------------------------------------------------------
# Base tables (no anomalies yet)
# ---------------------------------------------------------------------------


def person_columns(d: Draw, salt: int) -> str:
    """civilite, prenom and nom drawn consistently (salts salt..salt+4)."""
    female = f"({d.below(2, salt)} = 0)"
    return f"""
        CASE WHEN {d.chance(5, salt + 1)} THEN NULL
             WHEN {female} THEN 'Mme' ELSE 'M.' END AS civilite,
        CASE WHEN {female} THEN {d.pick(FEMALE_FIRST_NAMES, salt + 2)}
             ELSE {d.pick(MALE_FIRST_NAMES, salt + 3)} END AS prenom,
        {d.pick(LAST_NAMES, salt + 4)} AS nom"""


def city_columns(d: Draw, salt: int) -> str:
    index = f"(1 + {d.below(len(CITIES), salt)})"
    return (f"{sql_list(c for c, _ in CITIES)}[{index}] AS ville, "
            f"{sql_list(p for _, p in CITIES)}[{index}] AS code_postal")


def build_societes(con, d: Draw, sizes: Sizes) -> None:
    sector = f"(1 + {d.below(len(SECTORS), 13)})"
    con.execute(f"""
        CREATE TABLE societes AS
        WITH base AS (
            SELECT range + 1 AS id,
                   {d.pick(COMPANY_PREFIXES, 10)} || ' ' || {d.pick(COMPANY_CORES, 11)}
                       || {d.pick(LEGAL_FORMS, 12)} AS nom,
                   {sector} AS sector_index,
                   {city_columns(d, 14)}
            FROM range({sizes.societes})
        )
        SELECT id::BIGINT AS id,
               nom,
               CASE WHEN {d.chance(10, 15)} THEN NULL
                    ELSE {sql_list(s for s, _ in SECTORS)}[sector_index] END AS secteur,
               CASE WHEN {d.chance(40, 16)} THEN NULL
                    ELSE {sql_list(n for _, n in SECTORS)}[sector_index] END AS code_naf,
               ville,
               code_postal,
               CASE WHEN {d.chance(20, 17)} THEN NULL
                    ELSE {d.pick(["contact", "rh", "recrutement"], 18)} || '@' || slug(nom)
                         || '-' || id || '.example' END AS email,
               {d.weighted(SOCIETE_STATUTS, 19)} AS statut,
               false AS desabonne,
               {d.day(20)} AS date_creation
        FROM base
    """)


def build_utilisateurs(con, d: Draw, sizes: Sizes) -> None:
    con.execute(f"""
        CREATE TABLE utilisateurs AS
        WITH base AS (
            SELECT range + 1 AS id, {person_columns(d, 30)}
            FROM range({sizes.utilisateurs})
        )
        SELECT id::BIGINT AS id, prenom, nom,
               local_part(prenom) || '.' || local_part(nom) || '.' || id
                   || '@{STAFF_DOMAIN}' AS email,
               CASE WHEN id % 10 = 0 THEN 'Administrateur'
                    WHEN id % 10 IN (1, 2, 3) THEN 'Manager'
                    ELSE 'Recruteur' END AS role,
               true AS actif
        FROM base
    """)


def build_offres(con, d: Draw, sizes: Sizes) -> None:
    n_rec = con.execute("SELECT count(*) FROM utilisateurs WHERE role = 'Recruteur'").fetchone()[0]
    n_man = con.execute("SELECT count(*) FROM utilisateurs WHERE role = 'Manager'").fetchone()[0]
    n_skills = d.weighted([(1, 10), (2, 20), (3, 25), (4, 20), (5, 15), (6, 10)], 50)
    con.execute(f"""
        CREATE TABLE offres AS
        WITH recruteurs AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn
            FROM utilisateurs WHERE role = 'Recruteur'
        ), managers AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn
            FROM utilisateurs WHERE role = 'Manager'
        ), base AS (
            SELECT range + 1 AS id,
                   {d.pick(OFFER_TITLES, 40)} AS titre,
                   1 + {d.below(sizes.societes, 41)} AS societe_id,
                   {d.weighted(CONTRACT_TYPES, 42)} AS type_contrat,
                   {city_columns(d, 43)},
                   {d.distinct_items(OFFER_SKILLS, n_skills, 44)} AS competences,
                   {d.pick([s for s, _ in SECTORS], 46)} AS secteur,
                   {d.weighted(OFFER_STATUTS, 47)} AS statut,
                   {d.day(48)} AS date_publication,
                   {d.below(n_rec, 49)} AS recruteur_rn,
                   {d.below(n_man, 51)} AS manager_rn
            FROM range({sizes.offres})
        )
        SELECT b.id::BIGINT AS id,
               printf('HW-%06d', b.id) AS reference,
               b.titre, b.societe_id::BIGINT AS societe_id, b.type_contrat,
               b.ville, b.code_postal, b.competences, b.secteur, b.statut,
               b.date_publication,
               r.id AS referent_rh_id,
               m.id AS referent_operationnel_id
        FROM base b
        JOIN recruteurs r ON r.rn = b.recruteur_rn
        JOIN managers m ON m.rn = b.manager_rn
        ORDER BY b.id
    """)


def candidat_created(d: Draw, key: str) -> str:
    """date_creation of candidat `key`; candidatures recompute it the same way."""
    return d.minute(60, key)


def build_candidats(con, d: Draw, sizes: Sizes) -> None:
    n_viviers = d.weighted([(0, 15), (1, 45), (2, 30), (3, 10)], 70)
    vivier_start = d.below(len(VIVIERS), 71)
    vivier_stride = f"(1 + {d.below(len(VIVIERS) - 1, 72)})"
    n_skills = d.weighted([(0, 8), (1, 8), (2, 12), (3, 15), (4, 15), (5, 14),
                           (6, 12), (7, 9), (8, 7)], 73)
    con.execute(f"""
        CREATE TABLE candidats AS
        WITH base AS (
            SELECT range + 1 AS id, {person_columns(d, 61)}
            FROM range({sizes.candidats})
        )
        SELECT id::BIGINT AS id, civilite, prenom, nom,
               local_part(prenom) || '.' || local_part(nom) || '.' || id || '@'
                   || {d.pick(EMAIL_DOMAINS, 66)} AS email,
               CASE WHEN {d.chance(5, 67)} THEN NULL
                    ELSE {d.phone([6, 7], 68)} END AS telephone,
               {city_columns(d, 69)},
               list_transform(range({n_viviers}), lambda j:
                   {sql_list(VIVIERS)}[1 + (({vivier_start} + j * {vivier_stride}) % {len(VIVIERS)})]
               ) AS viviers,
               {d.weighted(CANDIDAT_STATUTS, 75)} AS statut,
               {d.distinct_items(CANDIDATE_SKILLS, n_skills, 76)} AS competences,
               CASE WHEN {d.chance(20, 78)} THEN NULL
                    ELSE ({candidat_created(d, 'id')})::DATE + {d.below(120, 79)}::INTEGER
               END AS disponibilite,
               {candidat_created(d, 'id')} AS date_creation,
               {d.weighted(CANDIDAT_SOURCES, 80)} AS source,
               {d.chance(85, 81)} AS consentement_rgpd,
               {d.chance(5, 82)} AS desabonne
        FROM base
    """)


def build_contacts(con, d: Draw, sizes: Sizes) -> None:
    con.execute(f"""
        CREATE TABLE contacts AS
        WITH base AS (
            SELECT range + 1 AS id, {person_columns(d, 90)},
                   1 + {d.below(sizes.societes, 95)} AS societe_id
            FROM range({sizes.contacts})
        )
        SELECT b.id::BIGINT AS id, b.civilite, b.prenom, b.nom,
               local_part(b.prenom)[1] || '.' || local_part(b.nom) || '.' || b.id || '@'
                   || slug(s.nom) || '-' || s.id || '.example' AS email,
               CASE WHEN {d.chance(10, 96, 'b.id')} THEN NULL
                    ELSE {d.phone([1, 2, 3, 4, 5, 6, 7, 9], 97, 'b.id')} END AS telephone,
               b.societe_id::BIGINT AS societe_id,
               {d.pick(CONTACT_FUNCTIONS, 98, 'b.id')} AS fonction,
               NOT {d.chance(20, 99, 'b.id')} AS poste_actif,
               {d.chance(4, 100, 'b.id')} AS desabonne,
               {d.minute(101, 'b.id')} AS date_creation
        FROM base b JOIN societes s ON s.id = b.societe_id
        ORDER BY b.id
    """)


def build_candidatures(con, d: Draw, sizes: Sizes) -> None:
    """Build three rounds of applications in which no candidat applies twice to one offer.

    In round r, position p maps to candidat (p * mult[r] + shift[r]) mod N, a
    permutation, so a candidat appears at most once per round. The offer is
    (base + r * stride) mod O' among the O' non-draft offers, with
    2 * stride < O', so rounds never repeat an offer for one candidat.
    """
    n = sizes.candidats
    total = sizes.candidatures
    per_round = math.ceil(total / 3)
    rng = random.Random(d.seed)
    mults, shifts = [], []
    for _ in range(3):
        m = rng.randrange(1, n)
        while math.gcd(m, n) != 1:
            m += 1
        mults.append(m % n or 1)
        shifts.append(rng.randrange(n))
    n_open = con.execute("SELECT count(*) FROM offres WHERE statut <> 'Brouillon'").fetchone()[0]
    if n_open < 3:
        raise RuntimeError("too few published offers to spread candidatures")
    stride = f"(1 + {d.below(max(1, (n_open - 1) // 2), 111, 'candidat_id')})"
    con.execute(f"""
        CREATE TABLE candidatures AS
        WITH open_offres AS (
            SELECT id, date_publication, row_number() OVER (ORDER BY id) - 1 AS rn
            FROM offres WHERE statut <> 'Brouillon'
        ), slots AS (
            SELECT range AS r, range // {per_round} AS round, range % {per_round} AS pos
            FROM range({total})
        ), picked AS (
            SELECT r, round,
                   1 + (pos * {sql_list_int(mults)}[round + 1]
                        + {sql_list_int(shifts)}[round + 1]) % {n} AS candidat_id
            FROM slots
        ), chosen AS (
            SELECT r, candidat_id,
                   ({d.below(n_open, 110, 'candidat_id')} + round * {stride}) % {n_open} AS offre_rn
            FROM picked
        )
        SELECT (c.r + 1)::BIGINT AS id,
               c.candidat_id::BIGINT AS candidat_id,
               o.id AS offre_id,
               {d.weighted(ETAPES, 112, 'c.r')} AS etape,
               greatest({candidat_created(d, 'c.candidat_id')}, o.date_publication::TIMESTAMP)
                   + to_minutes({d.below(45 * 1440, 113, 'c.r')}) AS date_candidature
        FROM chosen c JOIN open_offres o ON o.rn = c.offre_rn
        ORDER BY c.r
    """)


def sql_list_int(values: Iterable[int]) -> str:
    return "[" + ", ".join(f"{int(v)}::BIGINT" for v in values) + "]"


# ---------------------------------------------------------------------------
# Anomalies
# ---------------------------------------------------------------------------


def create_slots(con, d: Draw, sizes: Sizes) -> None:
    """Create the table `slots(entity, grp, kind, i, id)` of rows that anomalies overwrite.

    Slots are spread over the whole table. Slot g of T takes one id in
    [g * step + 1, (g + 1) * step] with step = n // T, at a seeded offset, so no
    two slots share a row.
    """
    rows = []
    for entity, groups in slot_plan(sizes).items():
        total = sum(count for _, _, count in groups)
        step = sizes.of(entity) // total
        if step < 1:
            raise ValueError(f"{entity}: {total} anomaly rows do not fit in {sizes.of(entity)}")
        first = 0
        for grp, kind, count in groups:
            rows.append(f"({sql_str(entity)}, {sql_str(grp)}, {sql_str(kind)}, {first}, {count}, {step})")
            first += count
    con.execute(f"""
        CREATE TABLE slots AS
        WITH plan(entity, grp, kind, first, cnt, step) AS (VALUES {', '.join(rows)}),
        expanded AS (
            SELECT entity, grp, kind, step, first, unnest(range(cnt)) AS i FROM plan
        )
        SELECT entity, grp, kind, i::BIGINT AS i,
               (1 + (first + i) * step + ({d.hash(120, 'first + i')} % step))::BIGINT AS id
        FROM expanded
    """)
    con.execute("CREATE TABLE anomalies (kind VARCHAR, entity VARCHAR, id BIGINT)")
    con.execute("INSERT INTO anomalies SELECT kind, entity, id FROM slots WHERE kind IS NOT NULL")


def rows_of(entity: str, grp: str) -> str:
    return f"(SELECT i, id FROM slots WHERE entity = '{entity}' AND grp = '{grp}')"


def pairs_of(src_entity: str, src: str, dst_entity: str, dst: str) -> str:
    return f"""(SELECT s.i, s.id AS src, t.id AS dst
                FROM {rows_of(src_entity, src)} s JOIN {rows_of(dst_entity, dst)} t ON t.i = s.i)"""


def record(con, kind: str, entity: str, ids: Iterable[int]) -> None:
    values = ", ".join(f"({sql_str(kind)}, {sql_str(entity)}, {int(i)})" for i in ids)
    if values:
        con.execute(f"INSERT INTO anomalies VALUES {values}")


def plant_candidat_emails(con) -> None:
    """Plant duplicates inside candidats, then empty, invalid and unusual addresses."""
    copy_person = """civilite = c.civilite, prenom = c.prenom, nom = c.nom,
                     desabonne = c.desabonne"""
    # Same address, case changed.
    con.execute(f"""
        UPDATE candidats SET {copy_person},
            email = CASE WHEN p.i % 2 = 0 THEN upper(c.email)
                         ELSE upper(c.email[1]) || c.email[2:] END
        FROM {pairs_of('candidats', 'dup_case_src', 'candidats', 'dup_case_dst')} p
        JOIN candidats c ON c.id = p.src
        WHERE candidats.id = p.dst""")

    # Same address with surrounding spaces, including U+00A0.
    con.execute(f"""
        UPDATE candidats SET {copy_person},
            email = CASE p.i % 3 WHEN 0 THEN chr(160) || c.email
                                 WHEN 1 THEN ' ' || c.email || ' '
                                 ELSE c.email || '  ' END
        FROM {pairs_of('candidats', 'dup_space_src', 'candidats', 'dup_space_dst')} p
        JOIN candidats c ON c.id = p.src
        WHERE candidats.id = p.dst""")

    # Accented address in NFC, copied in NFD.
    con.execute(f"""
        UPDATE candidats SET
            civilite = CASE WHEN s.i % 2 = 0 THEN 'Mme' ELSE 'M.' END,
            prenom = CASE WHEN s.i % 2 = 0
                          THEN {sql_list(ACCENTED_FEMALE_NAMES)}[1 + (s.i // 2) % {len(ACCENTED_FEMALE_NAMES)}]
                          ELSE {sql_list(ACCENTED_MALE_NAMES)}[1 + (s.i // 2) % {len(ACCENTED_MALE_NAMES)}] END
        FROM {rows_of('candidats', 'dup_nfd_src')} s WHERE candidats.id = s.id""")
    con.execute(f"""
        UPDATE candidats SET
            email = lower(prenom) || '.' || local_part(nom) || '.' || id || '@' || split_part(email, '@', 2)
        WHERE id IN (SELECT id FROM {rows_of('candidats', 'dup_nfd_src')})""")
    con.execute(f"""
        UPDATE candidats SET {copy_person}, email = to_nfd(c.email)
        FROM {pairs_of('candidats', 'dup_nfd_src', 'candidats', 'dup_nfd_dst')} p
        JOIN candidats c ON c.id = p.src
        WHERE candidats.id = p.dst""")

    # One exact duplicate pair where only the first copy unsubscribed.
    con.execute(f"""
        UPDATE candidats SET civilite = c.civilite, prenom = c.prenom, nom = c.nom,
            email = c.email, desabonne = false
        FROM {pairs_of('candidats', 'dup_unsub_src', 'candidats', 'dup_unsub_dst')} p
        JOIN candidats c ON c.id = p.src
        WHERE candidats.id = p.dst""")
    con.execute(f"""UPDATE candidats SET desabonne = true
        WHERE id IN (SELECT id FROM {rows_of('candidats', 'dup_unsub_src')})""")

    # Missing addresses.
    con.execute(f"UPDATE candidats SET email = NULL WHERE id IN (SELECT id FROM {rows_of('candidats', 'email_null')})")
    con.execute(f"UPDATE candidats SET email = '' WHERE id IN (SELECT id FROM {rows_of('candidats', 'email_empty')})")
    con.execute(f"""
        UPDATE candidats SET email = CASE WHEN s.i % 2 = 0 THEN '   ' ELSE chr(160) END
        FROM {rows_of('candidats', 'email_blank')} s WHERE candidats.id = s.id""")

    # Invalid and unusual-but-valid addresses (numbered after the first round).
    con.execute(f"""
        UPDATE candidats SET email = CASE
            WHEN s.i < 3 THEN {sql_list(INVALID_EMAILS)}[1 + s.i]
            WHEN s.i % 3 = 0 THEN 'test' || (s.i // 3) || '@'
            WHEN s.i % 3 = 1 THEN '@iana' || (s.i // 3) || '.org'
            ELSE 'test' || (s.i // 3) || '..iana.org' END
        FROM {rows_of('candidats', 'email_invalid')} s WHERE candidats.id = s.id""")
    con.execute(f"""
        UPDATE candidats SET email = CASE
            WHEN s.i < 2 THEN {sql_list(UNUSUAL_EMAILS)}[1 + s.i]
            WHEN s.i % 2 = 0 THEN '"test' || (s.i // 2) || '"@iana.org'
            ELSE 'test' || (s.i // 2) || '@[255.255.255.255]' END
        FROM {rows_of('candidats', 'email_unusual')} s WHERE candidats.id = s.id""")


def plant_candidat_values(con) -> None:
    """Plant NFD text, city variants, leading-zero postcodes, viviers, statut and lists."""
    con.execute(f"""
        UPDATE candidats SET
            prenom = to_nfd(CASE WHEN s.i % 2 = 0
                THEN {sql_list(ACCENTED_FEMALE_NAMES)}[1 + (s.i // 2) % {len(ACCENTED_FEMALE_NAMES)}]
                ELSE {sql_list(ACCENTED_MALE_NAMES)}[1 + (s.i // 2) % {len(ACCENTED_MALE_NAMES)}] END),
            civilite = CASE WHEN s.i % 2 = 0 THEN 'Mme' ELSE 'M.' END,
            nom = to_nfd({sql_list(ACCENTED_LAST_NAMES)}[1 + s.i % {len(ACCENTED_LAST_NAMES)}]),
            email = local_part(CASE WHEN s.i % 2 = 0
                THEN {sql_list(ACCENTED_FEMALE_NAMES)}[1 + (s.i // 2) % {len(ACCENTED_FEMALE_NAMES)}]
                ELSE {sql_list(ACCENTED_MALE_NAMES)}[1 + (s.i // 2) % {len(ACCENTED_MALE_NAMES)}] END)
                || '.' || local_part({sql_list(ACCENTED_LAST_NAMES)}[1 + s.i % {len(ACCENTED_LAST_NAMES)}])
                || '.' || candidats.id || '@' || split_part(candidats.email, '@', 2),
            ville = to_nfd({sql_list(c for c, _ in ACCENTED_CITIES)}[1 + s.i % {len(ACCENTED_CITIES)}]),
            code_postal = {sql_list(p for _, p in ACCENTED_CITIES)}[1 + s.i % {len(ACCENTED_CITIES)}]
        FROM {rows_of('candidats', 'nfd_text')} s WHERE candidats.id = s.id""")
    con.execute(f"""
        UPDATE candidats SET
            ville = {sql_list(SAINT_ETIENNE_VARIANTS)}[1 + s.i % {len(SAINT_ETIENNE_VARIANTS)}],
            code_postal = CASE WHEN s.i % 2 = 0 THEN '42000' ELSE '42100' END
        FROM {rows_of('candidats', 'city_variant')} s WHERE candidats.id = s.id""")
    plant_leading_zero(con, "candidats")
    con.execute(f"""
        UPDATE candidats SET viviers =
            [{sql_list(VIVIER_VARIANTS)}[1 + s.i % {len(VIVIER_VARIANTS)}], 'RH']
        FROM {rows_of('candidats', 'vivier_variant')} s WHERE candidats.id = s.id""")
    con.execute(f"""
        UPDATE candidats SET viviers = CASE WHEN s.i % 2 = 0 THEN [{sql_str(VIVIER_STAGE)}]
                                            ELSE ['Data', {sql_str(VIVIER_STAGE)}] END
        FROM {rows_of('candidats', 'vivier_stage')} s WHERE candidats.id = s.id""")
    con.execute(f"UPDATE candidats SET statut = NULL WHERE id IN (SELECT id FROM {rows_of('candidats', 'statut_null')})")
    con.execute(f"""
        UPDATE candidats SET competences = [{sql_str(SEPARATOR_SKILL)}, 'Anglais']
        WHERE id IN (SELECT id FROM {rows_of('candidats', 'list_separator')})""")


def plant_leading_zero(con, table: str) -> None:
    con.execute(f"""
        UPDATE {table} SET
            ville = {sql_list(c for c, _ in LEADING_ZERO_CITIES)}[1 + s.i % {len(LEADING_ZERO_CITIES)}],
            code_postal = {sql_list(p for _, p in LEADING_ZERO_CITIES)}[1 + s.i % {len(LEADING_ZERO_CITIES)}]
        FROM {rows_of(table, 'postcode_zero')} s WHERE {table}.id = s.id""")


def plant_contacts(con, sizes: Sizes) -> None:
    """Plant cross-table duplicates, a sentence in the email field and NFD names."""
    con.execute(f"""
        UPDATE contacts SET civilite = c.civilite, prenom = c.prenom, nom = c.nom,
            email = CASE p.i % 3 WHEN 0 THEN c.email
                                 WHEN 1 THEN upper(c.email)
                                 ELSE c.email || chr(160) END
        FROM {pairs_of('candidats', 'cross_contact_src', 'contacts', 'cross_contact_dst')} p
        JOIN candidats c ON c.id = p.src
        WHERE contacts.id = p.dst""")
    user_ids = contact_user_duplicate_ids(sizes.utilisateurs)
    record(con, "email_dup_contact_utilisateur", "utilisateurs", user_ids)
    con.execute(f"""
        UPDATE contacts SET prenom = u.prenom, nom = u.nom,
            email = CASE WHEN t.i % 2 = 0 THEN upper(u.email) ELSE ' ' || u.email || ' ' END
        FROM {rows_of('contacts', 'cross_user_dst')} t
        JOIN utilisateurs u ON u.id = {sql_list_int(user_ids)}[t.i + 1]
        WHERE contacts.id = t.id""")
    con.execute(f"""UPDATE contacts SET email = {sql_str(EMAIL_SENTENCE)}
        WHERE id IN (SELECT id FROM {rows_of('contacts', 'email_sentence')})""")
    con.execute(f"""
        UPDATE contacts SET
            prenom = to_nfd({sql_list(ACCENTED_MALE_NAMES)}[1 + s.i % {len(ACCENTED_MALE_NAMES)}]),
            civilite = 'M.',
            nom = to_nfd({sql_list(ACCENTED_LAST_NAMES)}[1 + s.i % {len(ACCENTED_LAST_NAMES)}])
        FROM {rows_of('contacts', 'nfd_text')} s WHERE contacts.id = s.id""")


def plant_societes(con) -> None:
    """Plant unsubscribed companies whose contacts are all subscribed, and 0xxxx postcodes."""
    con.execute(f"""UPDATE societes SET desabonne = true
        WHERE id IN (SELECT id FROM {rows_of('societes', 'unsubscribed')})""")
    # Make sure each such company has at least one contact.
    con.execute(f"""
        UPDATE contacts SET societe_id = s.id,
            email = split_part(contacts.email, '@', 1) || '@' || slug(s.nom) || '-' || s.id || '.example'
        FROM {pairs_of('societes', 'unsubscribed', 'contacts', 'unsub_company_contact')} p
        JOIN societes s ON s.id = p.src
        WHERE contacts.id = p.dst""")
    con.execute(f"""UPDATE contacts SET desabonne = false
        WHERE societe_id IN (SELECT id FROM {rows_of('societes', 'unsubscribed')})""")
    plant_leading_zero(con, "societes")


def plant_utilisateurs_offres(con, sizes: Sizes) -> None:
    """Plant inactive users who are still referents, and offers missing a link."""
    inactive = inactive_user_ids(sizes.utilisateurs)
    record(con, "inactive_referent", "utilisateurs", inactive)
    con.execute(f"UPDATE utilisateurs SET actif = false WHERE id IN ({', '.join(map(str, inactive))})")
    con.execute(f"""
        UPDATE offres SET
            referent_rh_id = CASE WHEN u.role = 'Recruteur' THEN u.id ELSE referent_rh_id END,
            referent_operationnel_id = CASE WHEN u.role = 'Manager' THEN u.id
                                            ELSE referent_operationnel_id END
        FROM {rows_of('offres', 'inactive_referent')} s
        JOIN utilisateurs u ON u.id = {sql_list_int(inactive)}[s.i + 1]
        WHERE offres.id = s.id""")
    con.execute(f"""UPDATE offres SET societe_id = NULL
        WHERE id IN (SELECT id FROM {rows_of('offres', 'no_company')})""")
    con.execute(f"""UPDATE offres SET referent_operationnel_id = NULL
        WHERE id IN (SELECT id FROM {rows_of('offres', 'no_operational')})""")


def plant_candidatures(con) -> None:
    """Plant re-applications: a later row repeats the (candidat, offre) of an earlier one."""
    con.execute(f"""
        UPDATE candidatures SET candidat_id = c.candidat_id, offre_id = c.offre_id,
            etape = 'Nouvelle', date_candidature = c.date_candidature + INTERVAL 30 DAY
        FROM {pairs_of('candidatures', 'reapply_src', 'candidatures', 'reapply_dst')} p
        JOIN candidatures c ON c.id = p.src
        WHERE candidatures.id = p.dst""")


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def write_parquet(con, table: str, path: Path) -> None:
    con.execute(f"COPY {table} TO {sql_str(str(path))} (FORMAT parquet, COMPRESSION zstd)")


def csv_text(expr: str) -> str:
    """Quote a text value only when it contains ; or " or a line break or edge spaces."""
    spaces = sql_str(CSV_SPACES)
    return f"""(CASE WHEN ({expr}) IS NULL OR ({expr}) = '' THEN ''
        WHEN contains({expr}, ';') OR contains({expr}, '"') OR contains({expr}, chr(10))
             OR contains({expr}, chr(13)) OR trim({expr}, {spaces}) <> ({expr})
        THEN '"' || replace({expr}, '"', '""') || '"'
        ELSE {expr} END)"""


def csv_field(column: str, duck_type: str) -> str:
    col = f'"{column}"'
    if duck_type == "VARCHAR":
        return csv_text(col)
    if duck_type.endswith("[]"):
        return csv_text(f"array_to_string({col}, ', ')")
    if duck_type == "BOOLEAN":
        return f"(CASE WHEN {col} THEN 'Oui' WHEN NOT {col} THEN 'Non' ELSE '' END)"
    if duck_type == "DATE":
        return f"coalesce(strftime({col}, '%d/%m/%Y'), '')"
    if duck_type == "TIMESTAMP":
        return f"coalesce(strftime({col}, '%d/%m/%Y %H:%M'), '')"
    return f"coalesce({col}::VARCHAR, '')"


def write_csv_fr(con, table: str, path: Path) -> None:
    """Write one text column per row, whose name (BOM included) becomes the header line."""
    columns = con.execute(f"DESCRIBE {table}").fetchall()
    header = "\ufeff" + ";".join(name for name, *_ in columns)
    line = " || ';' || ".join(csv_field(name, duck_type) for name, duck_type, *_ in columns)
    con.execute(f"""
        COPY (SELECT {line} AS "{header}" FROM {table})
        TO {sql_str(str(path))}
        (FORMAT csv, HEADER true, QUOTE '', ESCAPE '', DELIM '\x01', NEW_LINE '\\r\\n')""")


def write_anomaly_ids(con, path: Path) -> None:
    con.execute(f"""COPY (SELECT kind, entity, id FROM anomalies ORDER BY entity, kind, id)
        TO {sql_str(str(path))} (FORMAT csv, HEADER true)""")


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def generate(out_dir: str | Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED,
             forms: Sequence[str] = FORMS) -> Sizes:
    """Write the six tables for `rows` candidats under `out_dir` and return their sizes."""
    if not isinstance(rows, int) or rows < MIN_ROWS:
        raise ValueError(f"rows must be a whole number of at least {MIN_ROWS}, got {rows!r}")
    unknown = set(forms) - set(FORMS)
    if unknown or not forms:
        raise ValueError(f"forms must be among {', '.join(FORMS)}, got {', '.join(forms) or 'nothing'}")
    out = Path(out_dir)
    sizes = Sizes.for_rows(rows)
    d = Draw(seed)
    con = duckdb.connect()
    try:
        create_macros(con)
        build_societes(con, d, sizes)
        build_utilisateurs(con, d, sizes)
        build_offres(con, d, sizes)
        build_candidats(con, d, sizes)
        build_contacts(con, d, sizes)
        build_candidatures(con, d, sizes)

        create_slots(con, d, sizes)
        plant_candidat_emails(con)
        plant_candidat_values(con)
        plant_contacts(con, sizes)
        plant_societes(con)
        plant_utilisateurs_offres(con, sizes)
        plant_candidatures(con)

        out.mkdir(parents=True, exist_ok=True)
        for form in forms:
            (out / form).mkdir(exist_ok=True)
        for table in TABLES:
            if "parquet" in forms:
                write_parquet(con, table, out / "parquet" / f"{table}.parquet")
            if "csv-fr" in forms:
                write_csv_fr(con, table, out / "csv-fr" / f"{table}.csv")
        write_anomaly_ids(con, out / "anomaly_ids.csv")
    finally:
        con.close()
    return sizes


def _rows_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < MIN_ROWS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_ROWS} (number of candidats), got {value}")
    return value


def _forms_arg(text: str) -> list[str]:
    forms = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in forms if f not in FORMS]
    if bad or not forms:
        raise argparse.ArgumentTypeError(
            f"choose among {', '.join(FORMS)} (comma-separated), got {text!r}")
    return forms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write seeded sample Ernest exports (Parquet and French CSV).")
    parser.add_argument("--rows", type=_rows_arg, default=DEFAULT_ROWS,
                        help=f"number of candidats (default {DEFAULT_ROWS}, minimum {MIN_ROWS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: samples/data next to this script)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--forms", type=_forms_arg, default=list(FORMS),
                        help="comma-separated forms to write: parquet,csv-fr (default both)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sizes = generate(args.out, args.rows, args.seed, args.forms)
    counts = ", ".join(f"{t} {sizes.of(t)}" for t in TABLES)
    print(f"wrote {counts} to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
