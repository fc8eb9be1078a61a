"""ernest_rules: criteria language and mailing-list builder over Ernest exports.

Stages, one module each: `parse` (text → syntax tree), `check` (tree →
catalog-bound rule), `compile` (rule → DuckDB SQL and parameters), `export`
(reading Parquet or French CSV), `resolve` (list definition → recipients and
report).
"""

from .catalog import Catalog, default_catalog, load_catalog
from .check import CheckedRule, check
from .compile import CompiledRule, compile_rule, quote_identifier
from .errors import (CatalogError, DataError, ErnestRulesError, GuardError, LimitError, ListDefinitionError, Problem, RuleCheckError,
                     RuleSyntaxError)
from .export import Export, open_export
from .listdef import ListDefinition, Section, load_definition, parse_definition
from .parse import Limits, parse
from .report import Report
from .resolve import Resolution, resolve
from .rulebook import load_rulebook
from .words import describe

__version__ = "0.1.0"

__all__ = [
    "Catalog", "CatalogError", "GuardError", "CheckedRule", "CompiledRule", "DataError", "ErnestRulesError", "Export", "LimitError", "Limits",
    "ListDefinition", "ListDefinitionError", "Problem", "Report", "Resolution", "RuleCheckError", "RuleSyntaxError", "Section",
    "check", "compile_rule", "default_catalog", "describe", "load_catalog", "load_definition", "open_export", "parse",
    "load_rulebook", "parse_definition", "quote_identifier", "resolve",
]
