"""Package resource holding the Lark grammar of the criteria language."""
