"""ernest_rules: criteria language and mailing-list builder over Ernest exports."""
