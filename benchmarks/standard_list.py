"""The standard list of the benchmark, and the same list computed by hand twice.

* `definition()` is the list given to `ernest_rules.resolve`: five sections
  (candidats, contacts through their société, sociétés, HR referents and
  operational referents of open offers) and manual candidat ids. No purpose is
  set, so RGPD consent is required (the product's safe default).
* `hand_sql()` is one DuckDB query, written by hand, with the same semantics as
  the product (text folding, list fields, NULL handling, opt-outs, company
  opt-out, poste_actif, inactive users, consent, missing, several and invalid
  addresses, recipient key, earliest section wins, sources).
* `pandas_recipients()` is the same list written the way an analyst would in
  pandas (read_parquet, boolean masks, str methods, explode, merge,
  drop_duplicates).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ernest_rules.address import ANGLE_ADDRESS, check_address, is_plain_sql

# The rules of the five sections. The values exist in the generated samples.
CANDIDATS_RULE = ('candidats where vivier in ("Dev", "Data") and statut in ("Disponible", "En veille") '
                  'and ville in ("Lyon", "Paris", "Marseille") and disponibilite >= 2025-01-01')
CONTACTS_RULE = 'contacts where societe.statut = "Client" and societe.secteur = "Informatique"'
SOCIETES_RULE = 'societes where statut = "Client"'
REFERENTS_RH_RULE = 'referents_rh of offres where statut = "Ouverte"'
REFERENTS_OP_RULE = 'referents_operationnels of offres where statut = "Ouverte"'

# Folded values of the rules above, for the hand-written versions.
VIVIERS = ("dev", "data")
STATUTS = ("disponible", "en veille")
VILLES = ("lyon", "paris", "marseille")
DISPONIBLE_FROM = "2025-01-01"
SOCIETE_STATUT = "client"
SOCIETE_SECTEUR = "informatique"
OFFRE_STATUT = "ouverte"

UDF_NAME = "bench_check_address"


def manual_ids(rows: int, count: int) -> list[int]:
    """Return `count` candidat ids spread evenly over 1..rows (the generator numbers candidats from 1)."""
    if count <= 0:
        return []
    step = max(1, rows // count)
    return [1 + i * step for i in range(count)]


def definition(manual: list[int]) -> dict:
    sections = [
        {"kind": "candidats", "rule": CANDIDATS_RULE, "manual": manual},
        {"kind": "contacts", "rule": CONTACTS_RULE},
        {"kind": "societes", "rule": SOCIETES_RULE},
        {"kind": "referents_rh", "rule": REFERENTS_RH_RULE},
        {"kind": "referents_operationnels", "rule": REFERENTS_OP_RULE},
    ]
    if not manual:
        sections[0].pop("manual")
    return {"title": "Benchmark standard list", "sections": sections}


# ---------------------------------------------------------------- hand-written SQL


def register_udf(connection) -> None:
    """Make the product's validator of unusual addresses callable from SQL (done once per connection)."""
    try:
        connection.create_function(UDF_NAME, check_address, ["VARCHAR"], "BOOLEAN", side_effects=False)
    except Exception as error:  # already registered on this connection
        if "already" not in str(error).lower():
            raise


def _fold(column: str) -> str:
    return f"lower(strip_accents(trim({column})))"


def _strings(values) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def hand_sql(manual_table: str | None) -> str:
    """Return one query that gives the recipients table with the same columns as the product's.

    `manual_table` names a table with an `id` column holding the manual candidat
    ids (None when the list has none).
    """
    angle = ANGLE_ADDRESS.replace("'", "''")
    # In a WHERE clause a NULL comparison already drops the row, so the rule needs no
    # coalesce(…, false) here. DuckDB then pushes each conjunct into the Parquet scan.
    rule = (f"list_has_any(list_transform(viviers, lambda x: {_fold('x')}), [{_strings(VIVIERS)}]) "
            f"AND {_fold('statut')} IN ({_strings(STATUTS)}) "
            f"AND {_fold('ville')} IN ({_strings(VILLES)}) "
            f"AND disponibilite >= DATE '{DISPONIBLE_FROM}'")
    manual_ids = f"SELECT id FROM {manual_table}" if manual_table else "SELECT NULL::BIGINT AS id WHERE false"

    def address(raw: str) -> str:
        return (f"CASE WHEN regexp_full_match(trim({raw}), '{angle}') "
                f"THEN regexp_extract(trim({raw}), '{angle}', 1) ELSE {raw} END")

    def key(raw: str) -> str:
        return f"lower(nfc_normalize(trim({address(raw)})))"

    return f"""
WITH rule_ids AS (SELECT id FROM candidats WHERE {rule}),
cand AS (
  SELECT id, email, prenom, nom, consentement_rgpd,
         id IN (SELECT id FROM rule_ids) AS by_rule, id IN ({manual_ids}) AS by_manual
  FROM candidats WHERE id IN (SELECT id FROM rule_ids UNION ALL {manual_ids})
),
s1 AS (
  SELECT 1 AS section, 'candidats' AS kind, 'candidats' AS entity, id,
         unnest(CASE WHEN by_manual AND by_rule THEN ['manual', 'rule'] WHEN by_manual THEN ['manual'] ELSE ['rule'] END) AS via,
         email AS raw, nfc_normalize(concat_ws(' ', prenom, nom)) AS display_name,
         coalesce(consentement_rgpd, false) AS ok
  FROM cand WHERE by_rule OR by_manual
),
s2 AS (
  SELECT 2 AS section, 'contacts' AS kind, 'contacts' AS entity, c.id, 'rule' AS via, c.email AS raw,
         nfc_normalize(concat_ws(' ', c.prenom, c.nom)) AS display_name,
         coalesce(c.poste_actif, false) AND NOT coalesce(s.desabonne, false) AS ok
  FROM contacts AS c JOIN societes AS s ON s.id = c.societe_id
  WHERE {_fold('s.statut')} = '{SOCIETE_STATUT}' AND {_fold('s.secteur')} = '{SOCIETE_SECTEUR}'
),
s3 AS (
  SELECT 3 AS section, 'societes' AS kind, 'societes' AS entity, id, 'rule' AS via, email AS raw,
         nfc_normalize(concat_ws(' ', nom)) AS display_name, true AS ok
  FROM societes WHERE {_fold('statut')} = '{SOCIETE_STATUT}'
),
open_offers AS MATERIALIZED (
  SELECT referent_rh_id, referent_operationnel_id FROM offres WHERE {_fold('statut')} = '{OFFRE_STATUT}'
),
s45 AS (
  SELECT 4 AS section, 'referents_rh' AS kind, id FROM utilisateurs WHERE id IN (SELECT referent_rh_id FROM open_offers)
  UNION ALL
  SELECT 5, 'referents_operationnels', id FROM utilisateurs WHERE id IN (SELECT referent_operationnel_id FROM open_offers)
),
s4_5 AS (
  SELECT r.section, r.kind, 'utilisateurs' AS entity, u.id, 'rule' AS via, u.email AS raw,
         nfc_normalize(concat_ws(' ', u.prenom, u.nom)) AS display_name, coalesce(u.actif, false) AS ok
  FROM s45 AS r JOIN utilisateurs AS u USING (id)
),
members AS (
  SELECT *, {address('raw')} AS address FROM (
    SELECT * FROM s1 UNION ALL SELECT * FROM s2 UNION ALL SELECT * FROM s3 UNION ALL SELECT * FROM s4_5)
),
optouts AS (
  SELECT {key('email')} AS recipient_key FROM candidats WHERE desabonne
  UNION SELECT {key('email')} FROM contacts WHERE desabonne
  UNION SELECT {key('email')} FROM societes WHERE desabonne
),
kept AS (
  SELECT *, lower(nfc_normalize(trim(address))) AS recipient_key FROM members
  WHERE ok AND trim(address) <> ''
    AND NOT regexp_matches(lower(nfc_normalize(trim(address))), '@[^"]*[,; ][^"]*@')
    AND CASE WHEN {is_plain_sql('lower(nfc_normalize(trim(address)))')} THEN true
             ELSE coalesce({UDF_NAME}(lower(nfc_normalize(trim(address)))), false) END
),
kept_in AS (
  SELECT * FROM kept WHERE recipient_key NOT IN (SELECT recipient_key FROM optouts WHERE recipient_key IS NOT NULL)
),
grouped AS (
  SELECT recipient_key,
         arg_min({{'kind': kind, 'entity': entity, 'id': id, 'address': address, 'display_name': display_name, 'section': section}},
                 {{'section': section, 'id': id, 'via': via}}) AS w,
         -- Sources in (section, entity, id, via) order: sort structs whose fields come in that order, then
         -- reorder the fields (faster than an ordered aggregate).
         list_transform(list_sort(list({{'section': section, 'entity': entity, 'id': id, 'via': via, 'kind': kind}})),
                        lambda s: {{'section': s.section, 'kind': s.kind, 'via': s.via, 'entity': s.entity, 'id': s.id}}) AS sources
  FROM kept_in GROUP BY recipient_key
)
SELECT row_number() OVER (ORDER BY w.section, w.id, recipient_key) AS position, recipient_key,
       w.kind AS kind, w.entity AS entity, w.id AS id, nfc_normalize(trim(w.address)) AS email,
       w.display_name AS display_name, w.section AS section, sources
FROM grouped"""


# ---------------------------------------------------------------- pandas, the analyst's way

# Unicode space separators, as the product trims them (not tabs).
_SPACES = "".join(chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) == "Zs")
_PLAIN = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def pandas_recipients(folder: Path, manual: list[int], *, all_columns: bool = False):
    """Compute the standard list in pandas and return a DataFrame with recipient_key, entity, id, section.

    Only the columns used are read, unless `all_columns` is true (as `pd.read_parquet(path)` does).
    """
    import pandas as pd

    def fold(series):
        text = series.str.strip(_SPACES).str.normalize("NFD").str.replace("[\u0300-\u036f]", "", regex=True)
        return text.str.lower()

    def keyed(frame):
        raw = frame["email"]
        inner = raw.str.strip(_SPACES).str.extract(r"^[^<>]*<\s*([^<>]+?)\s*>$", expand=False)
        frame = frame.assign(address=inner.fillna(raw))
        return frame.assign(recipient_key=frame["address"].str.strip(_SPACES).str.normalize("NFC").str.lower())

    def read(table, columns):
        return pd.read_parquet(folder / f"{table}.parquet", columns=None if all_columns else columns)

    cand = read("candidats", ["id", "email", "viviers", "statut", "ville", "disponibilite", "consentement_rgpd", "desabonne"])
    contacts = read("contacts", ["id", "email", "societe_id", "poste_actif", "desabonne"])
    societes = read("societes", ["id", "email", "statut", "secteur", "desabonne"])
    offres = read("offres", ["statut", "referent_rh_id", "referent_operationnel_id"])
    users = read("utilisateurs", ["id", "email", "actif"])

    # Section 1: candidats by rule and by hand.
    pools = cand[["id", "viviers"]].explode("viviers")
    pool_ids = pools.loc[fold(pools["viviers"]).isin(VIVIERS), "id"].unique()
    by_rule = (cand["id"].isin(pool_ids) & fold(cand["statut"]).isin(STATUTS) & fold(cand["ville"]).isin(VILLES)
               & (pd.to_datetime(cand["disponibilite"]) >= pd.Timestamp(DISPONIBLE_FROM)))
    s1 = pd.concat([cand[by_rule].assign(via="rule"), cand[cand["id"].isin(manual)].assign(via="manual")])
    s1 = s1.assign(section=1, entity="candidats", ok=s1["consentement_rgpd"].fillna(False).astype(bool))

    # Section 2: contacts of client companies in the IT sector, in post, company not opted out.
    merged = contacts.merge(societes[["id", "statut", "secteur", "desabonne"]].rename(columns={"id": "societe_id", "desabonne": "societe_desabonne"}),
                            on="societe_id", how="left")
    s2 = merged[(fold(merged["statut"]) == SOCIETE_STATUT) & (fold(merged["secteur"]) == SOCIETE_SECTEUR)]
    s2 = s2.assign(section=2, entity="contacts", via="rule",
                   ok=s2["poste_actif"].fillna(False).astype(bool) & ~s2["societe_desabonne"].fillna(False).astype(bool))

    # Section 3: client companies.
    s3 = societes[fold(societes["statut"]) == SOCIETE_STATUT].assign(section=3, entity="societes", via="rule", ok=True)

    # Sections 4 and 5: referents of open offers, active.
    open_offers = offres[fold(offres["statut"]) == OFFRE_STATUT]
    s4 = users[users["id"].isin(open_offers["referent_rh_id"])].assign(section=4)
    s5 = users[users["id"].isin(open_offers["referent_operationnel_id"])].assign(section=5)
    s45 = pd.concat([s4, s5]).assign(entity="utilisateurs", via="rule")
    s45 = s45.assign(ok=s45["actif"].fillna(False).astype(bool))

    columns = ["section", "entity", "id", "via", "email", "ok"]
    members = keyed(pd.concat([s1[columns], s2[columns], s3[columns], s45[columns]], ignore_index=True))

    # Opt-outs: any candidat, contact or société with the same address.
    optouts = pd.concat([keyed(frame[frame["desabonne"].fillna(False).astype(bool)][["email"]])["recipient_key"]
                         for frame in (cand, contacts, societes)]).dropna()

    key = members["recipient_key"]
    present = key.notna() & (members["address"].str.strip(_SPACES) != "")
    several = key.str.contains(r'@[^"]*[,; ][^"]*@', regex=True).fillna(False).astype(bool)
    plain = key.str.fullmatch(_PLAIN.pattern).fillna(False).astype(bool) & (key.str.split("@").str[0].str.len() <= 64) & (key.str.len() <= 254)
    unusual = present & ~plain
    valid = plain.copy()
    valid[unusual] = key[unusual].map(check_address).astype(bool)
    kept = members[members["ok"].astype(bool) & present & ~several & valid & ~key.isin(optouts)]

    ordered = kept.sort_values(["section", "id", "via"])
    return ordered.drop_duplicates("recipient_key", keep="first")[["recipient_key", "entity", "id", "section"]]
