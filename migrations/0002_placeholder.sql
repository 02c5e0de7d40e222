-- Placeholder for migration 0002 (another branch adds the real one); renumbered at merge. Changes nothing.
SELECT 1;
