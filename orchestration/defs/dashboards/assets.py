"""One asset per dashboard: after its dbt mart is built, the chart (PNG rendered server-side,
embedded in Markdown), the rows as a table, and plain figures the UI plots materialisation by
materialisation (``orchestration.campaign.dashboards`` says what each shows)."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.campaign import dashboards
from orchestration.core import charts
from orchestration.defs.campaign.marts import campaign_dbt_models
from orchestration.defs.resources import WarehouseResource

GROUP = "dashboards"
DAYS = 30          # the window of the dated dashboards (uploads, brokers, errors, funnel)
TABLE_ROWS = 50    # rows shown in the UI's table (the report command prints them all)


def _table(report: dashboards.Report, rows: list[dict]) -> dg.TableMetadataValue:
    cols = dashboards.table_columns(report, rows)

    def cell(value):
        value = dashboards.plain(value)
        return "" if value is None else value if isinstance(value, (int, float, bool, str)) else str(value)

    kinds = {c: "float" if any(isinstance(dashboards.plain(r.get(c)), float) for r in rows) else
             "int" if rows and all(isinstance(r.get(c), int) and not isinstance(r.get(c), bool) for r in rows)
             else "string" for c in cols}
    records = [dg.TableRecord({c: cell(r.get(c)) if kinds[c] == "string" or r.get(c) is not None else
                               (0.0 if kinds[c] == "float" else 0) for c in cols}) for r in rows[:TABLE_ROWS]]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(
        columns=[dg.TableColumn(c, kinds[c]) for c in cols]))


def dashboard_asset(name: str) -> dg.AssetsDefinition:
    report = dashboards.REPORTS[name]

    @dg.asset(name=f"{name}_dashboard", group_name=GROUP, kinds={"postgres", "python"},
              deps=[get_asset_key_for_model([campaign_dbt_models], report.mart)],
              description=f"{report.title}: a chart, the rows and the figures, from analytics.{report.mart} "
                          f"(`equity report {name}` prints the same rows).")
    def _dashboard(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as conn:
            rows = dashboards.rows_for(conn, name, DAYS)
        png = dashboards.chart(name, rows)
        context.log.info(f"{name}: {len(rows)} rows, chart {len(png):,} bytes")
        return dg.MaterializeResult(metadata={
            **dashboards.figures(name, rows), "row_count": len(rows),
            "chart": dg.MetadataValue.md(charts.markdown_image(png, report.title)),
            "rows": _table(report, rows),
        })

    return _dashboard


DASHBOARDS = [dashboard_asset(name) for name in dashboards.REPORTS]
