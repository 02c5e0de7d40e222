-- Placeholder for migration 0003 (another branch adds the real one); renumbered at merge. Changes nothing.
SELECT 1;
