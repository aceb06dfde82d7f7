-- Who imported the current rules, and how (the CLI, or the admin page on behalf of a person),
-- so the admin rules page can say so. Rows imported before this say nothing ('').
ALTER TABLE rules_generation
    ADD COLUMN imported_by TEXT NOT NULL DEFAULT '',
    ADD COLUMN imported_via TEXT NOT NULL DEFAULT '';
