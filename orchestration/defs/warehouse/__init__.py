"""The warehouse: the dbt project (staging -> scores -> mv_contactable_leads) and its 05:30 refresh."""
