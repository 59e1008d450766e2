"""Validates catalogs against boma's JSON Schema, as an editor would: each TOML file read with
tomllib, then checked with python3-jsonschema's validator for the schema's draft (2020-12).

usage: validate_catalog.py SCHEMA CATALOG...

Prints, for each catalog, `==> CATALOG <==` and then `valid`, or one line per error:
the key path, then the message of the most specific error (inside `anyOf`, the choice that came
closest). Exits 0 when every catalog is valid, 1 otherwise.
"""

import json
import sys
import tomllib

from jsonschema import validators
from jsonschema.exceptions import best_match


def errors(validator, catalog):
    lines = []
    for error in validator.iter_errors(catalog):
        error = best_match([error])
        path = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        lines.append(f"{path}: {error.message}")
    return sorted(lines)


def main(schema_path, *catalog_paths):
    with open(schema_path, encoding="utf-8") as file:
        schema = json.load(file)
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    all_valid = True
    for path in catalog_paths:
        with open(path, "rb") as file:
            try:
                found = errors(validator, tomllib.load(file))
            except tomllib.TOMLDecodeError as error:
                found = [f"not TOML: {error}"]
        all_valid = all_valid and not found
        print(f"==> {path} <==")
        print("\n".join(found) if found else "valid")
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
