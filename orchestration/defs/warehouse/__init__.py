"""The warehouse group: the dbt project's staging and intermediate models, the score write-back
(``lead_scores``) and the 05:30 refresh job that also builds the campaign's marts."""
