"""The template's table and the pynamodb models describe the same table.

The models only ever meet the real table in AWS, so drift (a renamed key, an index the code
queries but the template lacks, a TTL on the wrong attribute) would show first in production.
Here it fails a test, including a round trip through a moto table built from the template.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws
from pynamodb import attributes as pa
from pynamodb.models import Model

from agenthub.table import TTL_ATTRIBUTE, TableItem, bind_table
from infra.local.resources import Provisioner
from tests.infra.helpers import FUNCTIONS_DIR, project_template

TABLE = "Table"
TYPE_OF_ATTRIBUTE = {"S": pa.UnicodeAttribute, "N": pa.NumberAttribute, "B": pa.BinaryAttribute}


def _discover_entities() -> tuple[list[type[TableItem]], list[str]]:
    """Import every ``functions/*/dal/*.py``; return the TableItem classes they define."""
    errors = []
    modules = set()
    for path in sorted(FUNCTIONS_DIR.glob("*/dal/*.py")):
        name = ".".join(path.relative_to(FUNCTIONS_DIR).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure is the finding to report
            errors.append(f"{path.relative_to(FUNCTIONS_DIR.parent)}: {exc!r}")
        modules.add(name)

    found: list[type[TableItem]] = []
    pending = list(TableItem.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ in modules:  # not test doubles defined elsewhere in the session
            found.append(cls)
    return sorted(found, key=lambda c: c.__qualname__), errors


ENTITIES, IMPORT_ERRORS = _discover_entities()
LEAVES = [cls for cls in ENTITIES if not cls.__subclasses__()]


@pytest.fixture(scope="module")
def table_properties() -> dict[str, Any]:
    properties: dict[str, Any] = project_template().raw["Resources"][TABLE]["Properties"]
    return properties


def _keys(key_schema: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(k["AttributeName"], k["KeyType"]) for k in key_schema}


# ------------------------------------------------------------------ the table itself
def test_key_schema_matches_the_table_base(table_properties: dict[str, Any]) -> None:
    # Given the template's table and the schema pynamodb derives from TableItem
    schema = TableItem._get_schema()
    # Then the primary keys are the same attributes in the same roles
    assert _keys(table_properties["KeySchema"]) == _keys(schema["key_schema"])
    assert (TableItem._hash_keyname, TableItem._range_keyname) == ("pk", "sk")
    # And the attribute definitions agree on names and types
    template_defs = {
        (a["AttributeName"], a["AttributeType"]) for a in table_properties["AttributeDefinitions"]
    }
    model_defs = {(a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]}
    assert template_defs == model_defs


def test_secondary_indexes_match_the_table_base(table_properties: dict[str, Any]) -> None:
    # Given the template's indexes and the indexes declared on TableItem
    schema = TableItem._get_schema()
    for template_key, model_key in (
        ("GlobalSecondaryIndexes", "global_secondary_indexes"),
        ("LocalSecondaryIndexes", "local_secondary_indexes"),
    ):
        declared = {
            i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"])
            for i in table_properties.get(template_key, [])
        }
        modelled = {
            i["index_name"]: (_keys(i["key_schema"]), i["projection"]) for i in schema[model_key]
        }
        # Then each index has the same name, keys and projection on both sides
        assert declared == modelled, f"{template_key}: template {declared} != models {modelled}"


def test_ttl_is_on_the_kernel_ttl_attribute(table_properties: dict[str, Any]) -> None:
    # Given the template's TTL setting
    ttl = table_properties["TimeToLiveSpecification"]
    # Then it is enabled on agenthub.table.TTL_ATTRIBUTE, which TableItem maps with a TTLAttribute
    assert ttl == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    ttl_attributes = {
        a.attr_name for a in TableItem.get_attributes().values() if isinstance(a, pa.TTLAttribute)
    }
    assert ttl_attributes == {TTL_ATTRIBUTE}


def test_table_is_on_demand_streamed_recoverable_and_encrypted(
    table_properties: dict[str, Any],
) -> None:
    resource = project_template().raw["Resources"][TABLE]
    # Then the operational settings are all on
    assert table_properties["BillingMode"] == "PAY_PER_REQUEST"
    assert table_properties["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert (
        table_properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    )
    assert table_properties["SSESpecification"]["SSEEnabled"] is True
    # And deleting or replacing the stack never deletes the data
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


# ------------------------------------------------------------------ the entities
def test_every_dal_module_imports() -> None:
    # Given functions/*/dal/*.py, Then each imports cleanly
    assert not IMPORT_ERRORS, "\n".join(IMPORT_ERRORS)


def test_domains_define_entities() -> None:
    # Given the dal modules, Then they define TableItem entities (else nothing below is checked)
    assert LEAVES, f"no TableItem subclasses found under {FUNCTIONS_DIR}/*/dal/"


def test_every_entity_has_a_unique_discriminator() -> None:
    # Given the discriminator attribute of the table base
    discriminator = TableItem.get_attributes()[TableItem._discriminator]
    values = {cls: discriminator._class_map.get(cls) for cls in LEAVES}
    # Then every concrete entity has a value, and no two share one
    missing = sorted(cls.__qualname__ for cls, value in values.items() if not value)
    assert not missing, f"entities without discriminator=...: {missing}"
    assert len(set(values.values())) == len(values), values


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda cls: cls.__qualname__)
def test_entity_keeps_the_table_keys_and_indexes(
    entity: type[TableItem], table_properties: dict[str, Any]
) -> None:
    # Given an entity class
    key_types = {
        a["AttributeName"]: a["AttributeType"] for a in table_properties["AttributeDefinitions"]
    }
    problems = []
    # Then it keeps the table's primary key
    if (entity._hash_keyname, entity._range_keyname) != ("pk", "sk"):
        problems.append(f"keys are {entity._hash_keyname}/{entity._range_keyname}, not pk/sk")
    # And declares no index of its own
    if set(entity._indexes) != set(TableItem._indexes):
        problems.append(f"indexes {sorted(entity._indexes)} != {sorted(TableItem._indexes)}")
    for name, attribute in entity.get_attributes().items():
        # And an attribute stored under a key name has that key's type (else writes fail)
        expected = TYPE_OF_ATTRIBUTE.get(key_types.get(attribute.attr_name, ""))
        if expected and not isinstance(attribute, expected):
            problems.append(
                f"{name} is stored as key attribute {attribute.attr_name!r} "
                f"but is a {type(attribute).__name__}"
            )
        # And nothing else is stored under the TTL attribute (TTL needs epoch seconds)
        if attribute.attr_name == TTL_ATTRIBUTE and not isinstance(attribute, pa.TTLAttribute):
            problems.append(f"{name} is stored as {TTL_ATTRIBUTE!r} but is not a TTLAttribute")
    assert not problems, f"{entity.__qualname__}: " + "; ".join(problems)


# ------------------------------------------------------------------ round trip through moto
@pytest.fixture(scope="module")
def template_table() -> Any:
    """A moto table created from the template's own properties (by the local runtime's
    provisioner), with the models bound to it."""
    previous = TableItem.Meta.table_name
    with mock_aws():
        provisioner = Provisioner(project_template(), None)
        provisioner.create(TABLE)
        bind_table(provisioner.state.refs[TABLE])
        yield
    bind_table(previous)


@pytest.mark.parametrize("entity", LEAVES, ids=lambda cls: cls.__qualname__)
def test_entity_round_trips_through_a_table_built_from_the_template(
    entity: type[TableItem], template_table: None
) -> None:
    # Given an item of the entity with every attribute set
    item = entity(**_sample_values(entity))
    # When it is saved and read back
    item.save()
    loaded = entity.get(item.pk, item.sk)
    # Then every attribute survives
    assert loaded.serialize() == item.serialize()
    # And reading through the table base yields the same class (the discriminator works)
    assert type(TableItem.get(item.pk, item.sk)) is entity
    # And the item is found through the template's gsi1 index
    via_index = [type(found) for found in TableItem.gsi1.query(item.gsi1pk)]
    assert via_index == [entity], f"gsi1 query for {item.gsi1pk!r} returned {via_index}"


def _sample_values(entity: type[Model]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, attribute in entity.get_attributes().items():
        if isinstance(attribute, pa.DiscriminatorAttribute | pa.VersionAttribute):
            continue  # pynamodb sets these itself
        values[name] = _sample(entity, name, attribute)
    tag = entity.__qualname__
    values.update(pk=f"TENANT#infra-test#{tag}", sk=f"{tag}#1", gsi1pk=f"INFRA#{tag}", gsi1sk="1")
    return values


def _sample(owner: type, name: str, attribute: pa.Attribute[Any]) -> Any:  # noqa: PLR0911
    if isinstance(attribute, pa.TTLAttribute):
        return datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    if isinstance(attribute, pa.UTCDateTimeAttribute):
        return datetime.now(UTC)
    if isinstance(attribute, pa.BooleanAttribute):
        return True
    if isinstance(attribute, pa.NumberAttribute):
        return 7
    if isinstance(attribute, pa.UnicodeAttribute):
        return f"{name}-sample"
    if isinstance(attribute, pa.BinaryAttribute):
        return b"sample"
    if isinstance(attribute, pa.UnicodeSetAttribute):
        return {"a", "b"}
    if isinstance(attribute, pa.NumberSetAttribute):
        return {1, 2}
    if isinstance(attribute, pa.JSONAttribute):
        return {"key": ["value", 1, True]}
    if isinstance(attribute, pa.ListAttribute):
        element = attribute.element_type
        return [_sample(owner, name, element()) if element else "sample"]
    if isinstance(attribute, pa.MapAttribute):
        fields = type(attribute).get_attributes()
        if not fields:
            return {"key": "value"}
        return type(attribute)(**{k: _sample(owner, k, v) for k, v in fields.items()})
    pytest.fail(
        f"no sample value for {owner.__qualname__}.{name} ({type(attribute).__name__}); "
        "teach _sample in tests/infra/test_table.py"
    )
