{#-
  Materialized views the equity-connect way. dbt-postgres's own materialization refreshes with a
  plain REFRESH MATERIALIZED VIEW (an ACCESS EXCLUSIVE lock: readers wait, measured past 15 s) and
  ignores a change of the model's SQL on a normal run (it compares only the index config). Here:
  - refreshed CONCURRENTLY, so readers are never blocked (needs the unique index the model declares);
  - under a transaction-level advisory lock: a second refresh running at the same time skips with a
    log line instead of queueing or failing;
  - a change to the model's SQL (dbt only compares index config on a normal run) is detected by the
    model checksum stored as the view's comment; the new definition is then built beside the old
    view and swapped in within the same transaction, so readers always have a view;
  - every outcome is recorded in pipeline_events (view_refreshed / refresh_skipped, stage = the
    view's name), in the same transaction: the contactable_fresh asset check reads them.
-#}

{% macro ec_record_refresh(relation, event_type) -%}
insert into pipeline_events (event_type, stage)
values ('{{ event_type }}', '{{ relation.identifier | replace("__ec_next", "") }}')
{%- endmacro %}

{% macro ec_mv_checksum_text() -%}
equity-connect model checksum {{ model.checksum.checksum }}
{%- endmacro %}


{% macro postgres__get_create_materialized_view_as_sql(relation, sql) %}
    create materialized view if not exists {{ relation }} as {{ sql }};

    {% for _index_dict in config.get('indexes', []) -%}
        {{- get_create_index_sql(relation, _index_dict) -}};
    {% endfor %}
    comment on materialized view {{ relation }} is '{{ ec_mv_checksum_text() }}';
    {{ ec_record_refresh(relation, 'view_refreshed') }}
{% endmacro %}


{% macro postgres__refresh_materialized_view(relation) %}
  {%- if not execute -%}
    select 1
  {%- else -%}
    {%- set got = run_query(
        "select pg_try_advisory_xact_lock(hashtextextended('equity-connect:refresh:" ~ relation.identifier ~ "', 0))"
      ).columns[0].values()[0] -%}
    {%- if not got -%}
      {{ log("equity-connect: another refresh of " ~ relation ~ " holds the advisory lock; this refresh is skipped", info=True) }}
      {{ ec_record_refresh(relation, 'refresh_skipped') }}
    {%- else -%}
      {%- set stored = run_query(
          "select coalesce(obj_description('" ~ relation ~ "'::regclass, 'pg_class'), '')"
        ).columns[0].values()[0] -%}
      {%- if stored == ec_mv_checksum_text() -%}
        {{ ec_record_refresh(relation, 'view_refreshed') }};
        refresh materialized view concurrently {{ relation }}
      {%- else -%}
        {{ log("equity-connect: the SQL of " ~ relation ~ " changed; building the new definition beside it and swapping it in", info=True) }}
        {%- set fresh = relation.incorporate(path={"identifier": relation.identifier ~ "__ec_next"}) -%}
        drop materialized view if exists {{ fresh }};
        {{ postgres__get_create_materialized_view_as_sql(fresh, sql) }};
        drop materialized view {{ relation }};
        alter materialized view {{ fresh }} rename to {{ relation.identifier }}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}
