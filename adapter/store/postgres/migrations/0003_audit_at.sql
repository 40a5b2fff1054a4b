-- The handling export reads the audit log of a time range (AuditBetween),
-- page by page: by at, then seq among entries of the same instant, each
-- page starting after the (at, seq) where the previous one ended.
CREATE INDEX audit_at ON audit (at, seq);
