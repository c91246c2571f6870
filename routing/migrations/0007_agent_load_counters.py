"""Each agent's load kept on its own row, on PostgreSQL only: units per
channel kind and open items (held cases plus pending offers), kept by
triggers on cases and offers in the transaction that changes them.

Why on the agent row: the router locks agents with ``FOR UPDATE SKIP
LOCKED`` and decides with their loads. Summing their cases and offers took
a second statement (PostgreSQL's largest cost per assignment in the route
bench), and could not join the lock's own statement: that would read the
sums from the snapshot taken before the lock, missing work committed in
between. A column of the locked row is read as of the lock itself, and every
change of load updates that row, so it holds the agent's lock until commit.

Why triggers: a case's load changes wherever its status, assignee, units or
channel kind changes, and an offer's wherever its status does: the router,
accepts, declines, timeouts, transfers, resolving, wrap-up, merges,
deletions, the admin. A trigger sees every one of them, the ones not yet
written included. Statement-level triggers read the whole statement's rows
(transition tables) and sum them per agent and channel kind, so a router's
batch of 200 offers updates each of its agents once per kind. Agents whose
load does not change are not touched (nor locked); those that change are
updated in id order.

The columns are not model fields: a model's ``save()`` would write back the
value it read. ``routing_recount_loads()`` sets every agent's columns from
the sums (``manage.py routing_loads --recount``). SQLite (embedded mode,
one writer at a time) sums as before.
"""

from django.db import migrations

# Frozen here: the statuses in which a case holds its assignee's capacity
# (cases.models.HELD_STATUSES) and an offer's pending status.
HELD = "('assigned', 'waiting', 'wrap_up')"
PENDING = "'pending'"


def _loads_trigger(table: str, name: str, agent: str, holds: str) -> str:
    """The function and the three statement triggers that keep agents' loads
    for ``table``: a row holds load for its ``agent`` column while ``holds``."""
    held = f"{agent} IS NOT NULL AND {holds}"
    row = f"{agent} AS a, channel_kind::text AS k"
    apply = "LOOP\n            PERFORM routing_add_load(r.a, r.k, r.u, r.i);\n        END LOOP;"
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR r IN SELECT {row}, sum(units)::bigint AS u, count(*)::integer AS i
                   FROM new_rows WHERE {held} GROUP BY 1, 2 ORDER BY 1, 2
        {apply}
    ELSIF TG_OP = 'UPDATE' THEN
        FOR r IN SELECT a, k, sum(u)::bigint AS u, sum(i)::integer AS i
                   FROM (SELECT {row}, units::bigint AS u, 1 AS i FROM new_rows WHERE {held}
                         UNION ALL
                         SELECT {row}, -units::bigint AS u, -1 AS i FROM old_rows WHERE {held}) AS x
                  GROUP BY a, k HAVING sum(u) <> 0 OR sum(i) <> 0 ORDER BY a, k
        {apply}
    ELSE
        FOR r IN SELECT {row}, -sum(units)::bigint AS u, -count(*)::integer AS i
                   FROM old_rows WHERE {held} GROUP BY 1, 2 ORDER BY 1, 2
        {apply}
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER {name}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


FORWARD = f"""
ALTER TABLE agents_agent
    ADD COLUMN load_units jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    ADD COLUMN load_items integer NOT NULL DEFAULT 0;

-- Add to one agent's load: units on one channel kind, and open items.
CREATE FUNCTION routing_add_load(p_agent bigint, p_kind text, p_units bigint, p_items integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agents_agent
       SET load_units = CASE WHEN coalesce((load_units ->> p_kind)::bigint, 0) + p_units = 0
                             THEN load_units - p_kind
                             ELSE jsonb_set(load_units, ARRAY[p_kind],
                                            to_jsonb(coalesce((load_units ->> p_kind)::bigint, 0) + p_units))
                        END,
           load_items = load_items + p_items
     WHERE id = p_agent;
END $$;

-- The triggers sum a statement's changes per agent and channel kind and apply
-- those that are not zero in agent id order (so agents are locked in that
-- order). PL/pgSQL: each session plans these statements once.
{_loads_trigger('cases_case', 'routing_case_loads', 'assignee_id', f'status IN {HELD}')}
{_loads_trigger('routing_offer', 'routing_offer_loads', 'agent_id', f'status = {PENDING}')}
-- Every agent's columns from the sums: run once here, and by
-- `manage.py routing_loads --recount`. Returns the agents it corrected.
CREATE FUNCTION routing_recount_loads() RETURNS integer LANGUAGE sql AS $$
    WITH work AS (
        SELECT assignee_id AS agent_id, channel_kind AS kind, units FROM cases_case
         WHERE assignee_id IS NOT NULL AND status IN {HELD}
        UNION ALL
        SELECT agent_id, channel_kind, units FROM routing_offer WHERE status = {PENDING}
    ), per_kind AS (
        SELECT agent_id, kind, sum(units) AS units, count(*) AS items FROM work GROUP BY agent_id, kind
    ), summed AS (
        SELECT a.id,
               coalesce((SELECT jsonb_object_agg(p.kind, p.units) FROM per_kind p
                          WHERE p.agent_id = a.id AND p.units <> 0), '{{}}'::jsonb) AS units,
               coalesce((SELECT sum(p.items) FROM per_kind p WHERE p.agent_id = a.id), 0)::integer AS items
          FROM agents_agent a
    ), fixed AS (
        UPDATE agents_agent a SET load_units = s.units, load_items = s.items
          FROM summed s
         WHERE a.id = s.id AND (a.load_units <> s.units OR a.load_items <> s.items)
        RETURNING a.id
    )
    SELECT count(*)::integer FROM fixed
$$;

SELECT routing_recount_loads();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS routing_case_loads_insert ON cases_case;
DROP TRIGGER IF EXISTS routing_case_loads_update ON cases_case;
DROP TRIGGER IF EXISTS routing_case_loads_delete ON cases_case;
DROP TRIGGER IF EXISTS routing_offer_loads_insert ON routing_offer;
DROP TRIGGER IF EXISTS routing_offer_loads_update ON routing_offer;
DROP TRIGGER IF EXISTS routing_offer_loads_delete ON routing_offer;
DROP FUNCTION IF EXISTS routing_recount_loads();
DROP FUNCTION IF EXISTS routing_case_loads();
DROP FUNCTION IF EXISTS routing_offer_loads();
DROP FUNCTION IF EXISTS routing_add_load(bigint, text, bigint, integer);
ALTER TABLE agents_agent DROP COLUMN IF EXISTS load_units, DROP COLUMN IF EXISTS load_items;
"""


def _run(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: several statements in one go


def forward(apps, schema_editor):
    _run(schema_editor, FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0006_drop_offer_agent_index"),
        ("cases", "0008_drop_fk_indexes_led_by_composites"),
        ("agents", "0004_last_routed_at"),
    ]

    operations = [migrations.RunPython(forward, backward)]
