"""The catalog: which entities an export holds, their columns, types and links.

The default catalog (`catalogs/ernest.json`) describes Ernest's standard export.
A user may load another JSON file of the same shape for another layout.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import CatalogError, Problem
from .i18n import _
from .text import fold_name

FieldType = Literal["text", "integer", "decimal", "boolean", "date", "timestamp", "list"]
KeyType = Literal["integer", "text"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Model):
    """A queryable field: its name in rules, its column and its type."""

    name: str
    column: str
    type: FieldType
    label_fr: str
    label_en: str
    aliases: tuple[str, ...] = ()
    few_values: bool = Field(False, description="Field with a short list of distinct values (statut, vivier).")

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


class RelationSpec(_Model):
    """A to-one link: this entity's `column` contains the key of `target`."""

    name: str
    column: str
    target: str
    label_fr: str
    label_en: str


class CollectionSpec(_Model):
    """A one-to-many link: the rows of `entity` whose `column` contains this entity's key."""

    name: str
    entity: str
    column: str
    label_fr: str
    label_en: str
    aliases: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


class EntitySpec(_Model):
    """One exported table."""

    name: str
    table: str
    key: str
    key_type: KeyType = "integer"
    label_fr: str
    label_en: str
    aliases: tuple[str, ...] = ()
    email: str | None = None
    display: tuple[str, ...] = ()
    unsubscribed: str | None = Field(None, description="Boolean column that marks an opt-out.")
    consent: str | None = Field(None, description="Boolean column that records consent to communications (RGPD).")
    fields: tuple[FieldSpec, ...]
    relations: tuple[RelationSpec, ...] = ()
    collections: tuple[CollectionSpec, ...] = ()

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en

    def find_collection(self, name: str) -> CollectionSpec | None:
        wanted = fold_name(name)
        return next((item for item in self.collections if wanted in {fold_name(item.name), *map(fold_name, item.aliases)}), None)

    def columns(self) -> list[str]:
        """Return every column the catalog reads from this entity's table."""
        names = [self.key] + [spec.column for spec in self.fields] + [rel.column for rel in self.relations]
        names += [name for name in (self.email, self.unsubscribed, self.consent, *self.display) if name]
        return list(dict.fromkeys(names))

    def field_types(self) -> dict[str, FieldType]:
        """Type of each column the catalog reads (key and foreign keys included)."""
        types: dict[str, FieldType] = {self.key: self.key_type}
        for relation in self.relations:
            types.setdefault(relation.column, "integer")
        for spec in self.fields:
            types[spec.column] = spec.type
        for name in (self.email, *self.display):
            if name:
                types.setdefault(name, "text")
        for name in (self.unsubscribed, self.consent):
            if name:
                types.setdefault(name, "boolean")
        return types

    def find_field(self, name: str) -> FieldSpec | None:
        wanted = fold_name(name)
        for spec in self.fields:
            if wanted in {fold_name(spec.name), *map(fold_name, spec.aliases)}:
                return spec
        return None

    def find_relation(self, name: str) -> RelationSpec | None:
        wanted = fold_name(name)
        return next((rel for rel in self.relations if fold_name(rel.name) == wanted), None)

    def suggest(self, name: str) -> tuple[str, ...]:
        names = [spec.name for spec in self.fields] + [rel.name for rel in self.relations] + [item.name for item in self.collections]
        names += [alias for spec in self.fields for alias in spec.aliases]
        return suggest(name, names)


class KindSpec(_Model):
    """A recipient kind of list sections.

    A direct kind (`candidats`) contains rows of `entity`. A referent kind contains
    the rows of `entity` (users) whose key appears in `through_column` of the
    `through` entity (offers), and its rules are written `<kind> of <through>`.
    """

    name: str
    entity: str
    label_fr: str
    label_en: str
    through: str | None = None
    through_column: str | None = None
    eligible_column: str | None = Field(None, description="Boolean column that must be true for a row to belong to the kind.")
    eligible_reason: Literal["inactive_post", "inactive_user"] | None = None

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


class PurposeSpec(_Model):
    """Why a list is sent; it decides whether candidates need RGPD consent."""

    name: str
    requires_consent: bool
    label_fr: str
    label_en: str

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


class Catalog(_Model):
    """Entities, recipient kinds and the time zone of an export."""

    name: str = "ernest"
    timezone: str = Field("Europe/Paris", description="Time zone in which dates are read, `today` included.")
    timestamps: Literal["local", "utc"] = Field("local", description="Naive timestamps hold local times of `timezone`, or UTC.")
    entities: tuple[EntitySpec, ...]
    kinds: tuple[KindSpec, ...]
    purposes: tuple[PurposeSpec, ...] = ()

    @model_validator(mode="after")
    def _check_references(self) -> "Catalog":
        names = {entity.name for entity in self.entities}
        for entity in self.entities:
            for relation in entity.relations:
                if relation.target not in names:
                    raise ValueError(f"relation {entity.name}.{relation.name} targets unknown entity {relation.target!r}")
        for entity in self.entities:
            for collection in entity.collections:
                if collection.entity not in names:
                    raise ValueError(f"collection {entity.name}.{collection.name} names unknown entity {collection.entity!r}")
        for kind in self.kinds:
            for target in (kind.entity, kind.through):
                if target and target not in names:
                    raise ValueError(f"kind {kind.name!r} names unknown entity {target!r}")
        return self

    def entity(self, name: str) -> EntitySpec:
        found = self.find_entity(name)
        if found is None:
            raise KeyError(name)
        return found

    def find_entity(self, name: str) -> EntitySpec | None:
        wanted = fold_name(name)
        for entity in self.entities:
            if wanted in {fold_name(entity.name), *map(fold_name, entity.aliases)}:
                return entity
        return None

    def find_kind(self, name: str) -> KindSpec | None:
        wanted = fold_name(name)
        return next((kind for kind in self.kinds if fold_name(kind.name) == wanted), None)

    def kind(self, name: str) -> KindSpec:
        found = self.find_kind(name)
        if found is None:
            raise KeyError(name)
        return found

    def find_purpose(self, name: str) -> PurposeSpec | None:
        wanted = fold_name(name)
        return next((purpose for purpose in self.purposes if fold_name(purpose.name) == wanted), None)

    def referent_kinds(self) -> list[KindSpec]:
        return [kind for kind in self.kinds if kind.through]

    def direct_kind_of(self, entity: str) -> KindSpec | None:
        return next((kind for kind in self.kinds if kind.entity == entity and not kind.through), None)


def suggest(name: str, candidates: list[str], limit: int = 3) -> tuple[str, ...]:
    """Return the candidates closest to `name`, comparing without case or accents."""
    folded = {fold_name(candidate): candidate for candidate in candidates}
    matches = difflib.get_close_matches(fold_name(name), list(folded), n=limit, cutoff=0.6)
    return tuple(dict.fromkeys(folded[match] for match in matches))


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """Return the catalog of Ernest's standard export, shipped with the package."""
    source = resources.files("ernest_rules.catalogs").joinpath("ernest.json").read_text(encoding="utf-8")
    return Catalog.model_validate_json(source)


def load_catalog(path: str | Path | None) -> Catalog:
    """Load a catalog JSON file, or the default catalog when `path` is None."""
    if path is None:
        return default_catalog()
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(Problem(_("cannot read the catalog file: {reason}", reason=error.strerror or str(error)), origin=str(path))) from None
    try:
        return Catalog.model_validate(json.loads(content))
    except json.JSONDecodeError as error:
        raise CatalogError(
            Problem(_("the catalog file is not valid JSON: {reason}", reason=error.msg), line=error.lineno, column=error.colno, source=content, origin=str(path))
        ) from None
    except ValidationError as error:
        problems = [
            Problem(_("invalid catalog entry {location}: {reason}", location=".".join(map(str, item["loc"])) or "/", reason=item["msg"]), origin=str(path))
            for item in error.errors()
        ]
        raise CatalogError(problems) from None
